from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app uses: errors, idempotency, pagination, throttling, middleware, admin site."""

    name = "core"
    verbose_name = "Platform"

    def ready(self) -> None:
        import core.checks  # noqa: F401  (registers the system checks)
