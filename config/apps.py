from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project package as an app, for platform-wide management commands."""

    name = "config"
    verbose_name = "Platform"

    def ready(self) -> None:
        import config.checks  # noqa: F401  (registers the system checks)
        from config.strict_input import strict_input_install

        strict_input_install()
