from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app uses: errors, idempotency, pagination, throttling, middleware, admin site."""

    name = "core"
    verbose_name = "Platform"

    def ready(self) -> None:
        import core.checks  # noqa: F401  (registers the system checks)
        from core.strict_input import strict_input_install

        strict_input_install()
