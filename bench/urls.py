"""The project's URLs plus two bench-only routes.

`/bench/plain`: the issue's ceiling is "a plain Django view through the same
middleware". The project's /healthz is answered by HealthProbeMiddleware
before all but the request-id middleware (orchestrators probe it with any
Host header), so it is a higher ceiling than that. The bench keeps /healthz
as the ceiling and measures this view as a reference, so the report can show
both.

`/bench/admin-dashboard-uncached`: the admin index (the dashboard), its
cached figures dropped first, so each request computes them as the first
visit after they expire does (the "dashboard uncached" scenario).
"""

from typing import Any

from django.contrib import admin
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns


def plain(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _dashboard_uncached(request: HttpRequest) -> Any:
    from orders.dashboard import _CACHE_PREFIX

    cache.delete_many([f"{_CACHE_PREFIX}:orders", f"{_CACHE_PREFIX}:low-stock"])
    return admin.site.index(request)


urlpatterns = [
    *project_urlpatterns,
    path("bench/plain", plain),
    path("bench/admin-dashboard-uncached", admin.site.admin_view(_dashboard_uncached)),
]
