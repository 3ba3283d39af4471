"""The OpenAPI document view (kept apart from config.openapi, which DRF imports as a setting)."""

import threading
from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request
from rest_framework.response import Response

# drf-spectacular builds the schema with process-wide state (extension classes
# resolved lazily on first use, settings patched for the duration of a build),
# which is not thread-safe: two first requests at once in one gthread worker
# answered 500 (AttributeError in OpenApiAuthenticationExtension._load_class).
_schema_lock = threading.Lock()


class SchemaView(SpectacularAPIView):
    """The OpenAPI document, built by one thread of the process at a time."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with _schema_lock:
            return super().get(request, *args, **kwargs)
