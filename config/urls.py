from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from core import health, landing
from core.schema_view import DocsView, SchemaView

handler400 = "core.errors.json_400"
handler403 = "core.errors.json_403"
handler404 = "core.errors.json_404"
handler500 = "core.errors.json_500"

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("catalog.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("webhooks.api.urls")),
    path("", include("pricing.api.urls")),
    path("", include("integrations.api.urls")),
]

urlpatterns = [
    path("", landing.landing, name="landing"),
    path("favicon.ico", landing.favicon, name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", DocsView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include(api_v1)),
    path(settings.ADMIN_URL, admin.site.urls),
]
