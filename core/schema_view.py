"""The OpenAPI document view (kept apart from core.openapi, which DRF imports as a setting)."""

import threading
from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

# drf-spectacular builds the schema with process-wide state (extension classes
# resolved lazily on first use, settings patched for the duration of a build),
# which is not thread-safe: two first requests at once in one gthread worker
# answered 500 (AttributeError in OpenApiAuthenticationExtension._load_class).
_schema_lock = threading.Lock()


class JSONErrorsMixin:
    """Errors answered as JSON objects, like every other /api/ error (contract, Conventions).

    These views render YAML or HTML, which turned a 401, 405 or 429 into a YAML
    document with a nested `detail`, or an HTML page.
    """

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]


class SchemaView(JSONErrorsMixin, SpectacularAPIView):
    """The OpenAPI document, built by one thread of the process at a time."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with _schema_lock:
            return super().get(request, *args, **kwargs)


class DocsView(JSONErrorsMixin, SpectacularSwaggerSplitView):
    """The Swagger UI page (assets from the sidecar package, no CDN)."""
