"""The branded admin site ("Stockroom back office") whose index is the dashboard.

The dashboard's figures come from the function that `settings.ADMIN_DASHBOARD`
names (`dashboard_for(user=...)`), so the site knows no app's models.

Installed through `core.admin_apps.StockroomAdminConfig`, so every
`@admin.register` of the apps lands on this site and `admin.site` is it.
"""

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string


class StockroomAdminSite(admin.AdminSite):
    site_header = "Stockroom back office"
    site_title = "Stockroom back office"
    # Lists of orders, variants and movements need the page's width; the dashboard
    # and the breadcrumbs lead everywhere the sidebar would.
    enable_nav_sidebar = False
    index_title = "Dashboard"

    def has_permission(self, request: HttpRequest) -> bool:
        """Staff accounts only, never an integration's service account."""
        from integrations.services import is_service_account

        return super().has_permission(request) and not is_service_account(request.user)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """Django's login page, with the API log-in's lockout and rate limit (AdminLoginForm).

        An attempt refused by either is answered 429 with `Retry-After`,
        whatever the password.
        """
        # Imported here, like the dashboard below: the form module loads models.
        from accounts.forms import AdminLoginForm

        self.login_form = AdminLoginForm
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        retry_after = getattr(form, "retry_after", None)
        if retry_after:
            response.status_code = 429
            response["Retry-After"] = str(retry_after)
        return response

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        # Named by a setting, loaded on use: this module stays free of the apps' models.
        dashboard = import_string(settings.ADMIN_DASHBOARD)(user=request.user)
        try:
            variant_admin_url = reverse(f"{self.name}:catalog_variant_changelist")
        except NoReverseMatch:  # the catalog's admin registers no variant page
            variant_admin_url = ""
        context = {"dashboard": dashboard, "variant_admin_url": variant_admin_url}
        response: TemplateResponse = super().index(
            request, extra_context={**context, **(extra_context or {})}
        )
        return response
