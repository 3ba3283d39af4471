"""Cross-cutting middleware: request ids, health probes and the request body limit."""

import io
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.common import CommonMiddleware as DjangoCommonMiddleware

from core.logging import request_id_var

logger = logging.getLogger("stockroom.request")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    """Take the request id from X-Request-ID (when sane) or make one; log the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        request.request_id = request_id  # type: ignore[attr-defined]
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return response
        finally:
            request_id_var.reset(token)


class HealthProbeMiddleware:
    """Answer /healthz and /readyz before host validation, the HTTPS redirect and sessions.

    Orchestrators probe the container by its own address (Host: 10.0.3.7:8000),
    which ALLOWED_HOSTS rightly does not list, and over plain http; the probes
    carry no cookies and need no session, so they are answered here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from core import health

        self.get_response = get_response
        self.probes: dict[str, Callable[[HttpRequest], HttpResponse]] = {
            "/healthz": health.healthz,
            "/readyz": health.readyz,
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = self.probes.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)


class BodySizeLimitMiddleware:
    """Answer 413 for API bodies over the limit before anything reads them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit and request.path.startswith("/api/"):
            return request_too_large_response()
        is_api = request.path.startswith("/api/")
        if limit is not None and is_api and not length and _is_chunked(request):
            # No length to check up front, and Django reads a body without one as
            # empty: read it here, at most one byte past the limit, and hand the
            # view the bytes read (a chunked JSON body then works like any other).
            body = request.META["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                return request_too_large_response()
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = LimitedStream(io.BytesIO(body), len(body))  # type: ignore[assignment]
        return self.get_response(request)


def _is_chunked(request: HttpRequest) -> bool:
    encoding = request.META.get("HTTP_TRANSFER_ENCODING", "")
    return "chunked" in encoding.lower() and bool(request.META.get("wsgi.input_terminated"))


def request_too_large_response() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(
        {"code": "request_too_large", "detail": f"Request body exceeds {limit} bytes."},
        status=413,
    )


class CommonMiddleware(DjangoCommonMiddleware):
    """Django's, except that an API write to a path without its trailing slash is a 404.

    APPEND_SLASH answers it with a 301, which clients follow as a GET without the
    body: `POST /api/v1/orders` answered 200 with the order list and placed
    nothing (and under DEBUG Django raises instead, a 500). Reads still redirect.
    """

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        if request.path_info.startswith("/api/") and request.method not in ("GET", "HEAD"):
            return False
        return super().should_redirect_with_slash(request)
