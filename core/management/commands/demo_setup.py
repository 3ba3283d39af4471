"""First-run setup for `make run`: the staff roles, a demo staff account (and demo data)."""

import os
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError

from accounts.roles import roles_setup

DEMO_EMAIL = "demo@stockroom.local"
DEMO_PASSWORD = "stockroom-demo"  # noqa: S105 - printed for the local demo only


class Command(BaseCommand):
    help = "Create a demo staff user (and a small demo dataset) when there is none. Debug only."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_setup only runs with DJANGO_DEBUG=true.")
        User = get_user_model()
        # The staff roles (integrations are given one): kept in step with the code on each run.
        roles_setup(warn=lambda message: self.stderr.write(self.style.WARNING(message)))
        if not User.objects.filter(is_staff=True).exists():
            User.objects.create_superuser(email=DEMO_EMAIL, password=DEMO_PASSWORD)
            if "seed_demo" in get_commands():
                call_command("seed_demo", products=50, customers=10, orders=30, seed=1)
        if User.objects.filter(email__iexact=DEMO_EMAIL).exists():
            port = os.environ.get("RUN_PORT", "8000")  # set by `make run` (scripts/devdb.py)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Back office: http://127.0.0.1:{port}/{settings.ADMIN_URL}\n"
                    f"  email:    {DEMO_EMAIL}\n  password: {DEMO_PASSWORD}"
                )
            )
