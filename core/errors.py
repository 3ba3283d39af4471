"""One error format for the whole API: `{"code", "detail", "errors"?}`.

Domain errors (subclasses of `DomainError`) are raised by services and mapped
to HTTP here, so no view decides a status code for a business rule.
"""

import logging
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.database import (
    RETRY_AFTER_SECONDS,
    UNAVAILABLE_DETAIL,
    database_failure_record,
    database_unavailable,
    unavailable_response,
)

logger = logging.getLogger("stockroom.api")


class DomainError(Exception):
    """A broken business rule. Subclasses set `code`, `status_code` and `detail`."""

    status_code: int = status.HTTP_409_CONFLICT
    code: str = "conflict"
    detail: str = "The request conflicts with the current state."

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        if detail is not None:
            self.detail = detail
        self.extra = extra
        super().__init__(self.detail)


class FieldInvalid(DomainError):
    """Input that only a service can judge (a taken slug or SKU, an unknown role, a
    wrong password): 400 `invalid` with `errors={field: [message, ...]}`, the shape
    of a serializer's errors, so clients handle one format.

    One message: `FieldInvalid(field="slug", message="...")`; several fields or
    messages: `FieldInvalid(errors={"lines.0.sku": [...], ...})`.
    """

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    detail = "Invalid input."

    def __init__(
        self,
        *,
        field: str = "",
        message: str = "",
        errors: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if errors is None:
            errors = {field: [message]}
        super().__init__(errors={name: list(texts) for name, texts in errors.items()})


class ProtectedObject(DomainError):
    code = "protected"
    detail = "This object is in use and cannot be deleted."


def flatten_errors(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error structure into `{"lines.0.quantity": [...]}`."""
    flat: dict[str, list[str]] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_errors(value, name))
    elif isinstance(data, list):
        if all(not isinstance(item, dict | list) for item in data):
            flat[prefix or "non_field_errors"] = [str(item) for item in data]
        else:
            for index, item in enumerate(data):
                if item:
                    flat.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or "non_field_errors"] = [str(data)]
    return flat


def _first_code(detail: Any) -> str | None:
    if isinstance(detail, exceptions.ErrorDetail):
        return detail.code
    if isinstance(detail, dict):
        for value in detail.values():
            code = _first_code(value)
            if code:
                return code
    if isinstance(detail, list):
        for value in detail:
            code = _first_code(value)
            if code:
                return code
    return None


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if database_unavailable(exc):
        request = context["request"]._request
        database_failure_record(request, exc)
        return Response(
            {"code": "unavailable", "detail": UNAVAILABLE_DETAIL},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DomainError):
        return Response(
            {"code": exc.code, "detail": exc.detail, **exc.extra}, status=exc.status_code
        )
    if isinstance(exc, ProtectedError | RestrictedError):
        return Response(
            {"code": ProtectedObject.code, "detail": ProtectedObject.detail},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"code": "request_too_large", "detail": "Request body too large."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "code": "invalid",
            "detail": "Invalid input.",
            "errors": flatten_errors(exc.detail),
        }
        return response
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = _first_code(detail) if not isinstance(exc, exceptions.Throttled) else "throttled"
        message = detail if isinstance(detail, str) else str(detail)
        response.data = {"code": code or exc.default_code, "detail": message}
        wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
        if wait is not None:
            # DRF omits the header when less than a second is left; clients need it.
            response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if _is_api(request):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_500(request: HttpRequest) -> Any:
    if database_unavailable(sys.exception()):
        # Not a bug: core.database logs it (once, without the traceback) and may retry.
        response = unavailable_response(request)
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
    if _is_api(request):
        return JsonResponse(
            {"code": "server_error", "detail": "A server error occurred."}, status=500
        )
    from django.views.defaults import server_error

    return server_error(request)


def json_400(request: HttpRequest, exception: Exception | None = None) -> Any:
    if _is_api(request):
        return JsonResponse({"code": "bad_request", "detail": "Bad request."}, status=400)
    from django.views.defaults import bad_request

    return bad_request(request, exception)  # type: ignore[arg-type]


def json_403(request: HttpRequest, exception: Exception | None = None) -> Any:
    if _is_api(request):
        return JsonResponse(
            {"code": "permission_denied", "detail": "Permission denied."}, status=403
        )
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)  # type: ignore[arg-type]
