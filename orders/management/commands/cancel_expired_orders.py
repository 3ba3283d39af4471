from typing import Any

from django.core.management.base import BaseCommand

from orders.services import orders_cancel_expired


class Command(BaseCommand):
    help = (
        "Cancel orders left in pending_payment past ORDER_PAYMENT_TIMEOUT and return their "
        "stock. Safe to run concurrently (rows locked with SKIP LOCKED)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=100)

    def handle(self, *args: Any, **options: Any) -> None:
        count = orders_cancel_expired(batch_size=options["batch_size"])
        self.stdout.write(f"Cancelled {count} expired order(s).")
