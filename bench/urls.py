"""The project's URLs plus `/bench/plain`: a plain Django view behind every middleware.

The issue's ceiling is "a plain Django view through the same middleware".
The project's /healthz is answered by HealthProbeMiddleware before all but
the request-id middleware (orchestrators probe it with any Host header), so
it is a higher ceiling than that. The bench keeps /healthz as the ceiling and
measures this view as a reference, so the report can show both.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns


def plain(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [*project_urlpatterns, path("bench/plain", plain)]
