"""The admin app with Stockroom's own site (kept apart from config/apps.py, which
Django would otherwise have to choose from among two AppConfig classes)."""

from django.contrib.admin.apps import AdminConfig


class StockroomAdminConfig(AdminConfig):
    default_site = "core.admin_site.StockroomAdminSite"
