"""The branded admin site ("Stockroom back office") whose index is the dashboard.

Installed through `core.admin_apps.StockroomAdminConfig`, so every
`@admin.register` of the apps lands on this site and `admin.site` is it.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse

CHART_WIDTH = 720
CHART_HEIGHT = 220
CHART_PAD_LEFT = 40
CHART_PAD_RIGHT = 60
CHART_PAD_TOP = 12
CHART_PAD_BOTTOM = 26


def chart_geometry(series: Sequence[Any]) -> dict[str, Any]:
    """Coordinates for the server-side SVG chart of `series` (DayFigures, oldest first):
    a bar per day for the orders (left axis) and a line for revenue (right axis)."""
    plot_w = CHART_WIDTH - CHART_PAD_LEFT - CHART_PAD_RIGHT
    plot_h = CHART_HEIGHT - CHART_PAD_TOP - CHART_PAD_BOTTOM
    bottom = CHART_PAD_TOP + plot_h
    slot = plot_w / max(len(series), 1)
    max_orders = max((day.orders for day in series), default=0) or 1
    max_revenue = max((day.revenue for day in series), default=Decimal(0)) or Decimal(1)
    bars, points, labels = [], [], []
    for index, day in enumerate(series):
        x = CHART_PAD_LEFT + index * slot
        height = plot_h * day.orders / max_orders
        bars.append(
            {
                "x": round(x + slot * 0.15, 1),
                "y": round(bottom - height, 1),
                "width": round(slot * 0.7, 1),
                "height": round(height, 1),
                "day": day.day,
                "orders": day.orders,
                "revenue": day.revenue,
            }
        )
        y = bottom - float(Decimal(plot_h) * day.revenue / max_revenue)
        points.append(f"{x + slot / 2:.1f},{y:.1f}")
        if index % 5 == 0 or index == len(series) - 1:
            labels.append({"x": round(x + slot / 2, 1), "text": day.day.strftime("%b %d")})
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_PAD_LEFT,
        "right": CHART_WIDTH - CHART_PAD_RIGHT,
        "top": CHART_PAD_TOP,
        "bottom": bottom,
        "label_y": bottom + 16,
        "bars": bars,
        "revenue_points": " ".join(points),
        "labels": labels,
        "max_orders": max_orders if any(day.orders for day in series) else 0,
        "max_revenue": max_revenue if any(day.revenue for day in series) else Decimal(0),
    }


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
        # Imported here: the admin app loads this module, which stays free of models.
        from orders.dashboard import dashboard_for

        dashboard = dashboard_for(user=request.user)
        if "orders" in dashboard:
            dashboard["chart"] = chart_geometry(dashboard["orders"]["series"])
        try:
            variant_admin_url = reverse(f"{self.name}:catalog_variant_changelist")
        except NoReverseMatch:  # the catalog's admin registers no variant page
            variant_admin_url = ""
        context = {"dashboard": dashboard, "variant_admin_url": variant_admin_url}
        response: TemplateResponse = super().index(
            request, extra_context={**context, **(extra_context or {})}
        )
        return response
