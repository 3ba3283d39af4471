"""Check the services Stockroom needs: database, cache and (when configured) broker."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core import health

HOW_TO_START = """\
Start them with `docker compose up -d db redis`, or locally:
  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no"""


class Command(BaseCommand):
    help = "Check the database, the cache and the task broker; exit 1 if any is down."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--server-only",
            action="store_true",
            help="Only check that the database server answers (the database may not exist yet).",
        )

    def handle(self, *args: Any, server_only: bool = False, **options: Any) -> None:
        results = health.run_checks(database_server_only=server_only)
        failing = []
        for name, (ok, message) in results.items():
            style = self.style.SUCCESS if ok else self.style.ERROR
            self.stdout.write(f"{name:<10} {style('ok' if ok else 'DOWN')}  {message}")
            if not ok:
                failing.append(name)
        if failing:
            raise CommandError(f"Unreachable: {', '.join(failing)}.\n{HOW_TO_START}")
