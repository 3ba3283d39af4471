from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project package as an app, for platform-wide management commands."""

    name = "config"
    verbose_name = "Platform"
