from typing import Any

from django.core.management.base import BaseCommand

from accounts.roles import ROLES, roles_setup


class Command(BaseCommand):
    help = (
        "Create or update the staff groups ("
        + ", ".join(role.name for role in ROLES)
        + ") with exactly their model permissions. Safe to run again after every deploy."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = roles_setup(warn=lambda message: self.stderr.write(self.style.WARNING(message)))
        for name, permissions in result.items():
            self.stdout.write(f"{name}: {len(permissions)} permissions")
            if options["verbosity"] > 1:
                for permission in permissions:
                    self.stdout.write(f"  {permission}")
        self.stdout.write(self.style.SUCCESS("Roles are up to date."))
