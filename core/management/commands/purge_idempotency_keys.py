from typing import Any

from django.core.management.base import BaseCommand

from core.idempotency import idempotency_keys_purge


class Command(BaseCommand):
    help = "Delete Idempotency-Key records older than IDEMPOTENCY_KEY_TTL (24 hours)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = idempotency_keys_purge()
        self.stdout.write(f"Purged {count} idempotency key(s).")
