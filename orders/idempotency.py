"""`Idempotency-Key` for every POST of /api/v1/ (but auth/ and the payments webhook).

Implemented once, as middleware, so every app's POST endpoint gets it. The
key row is inserted and committed BEFORE the view runs: the unique constraint
on (caller, method, path, key) is the lock, so of twenty simultaneous requests
with one key exactly one runs and the others answer 409 (or, once it has
finished, replay its response). Only successful (2xx) responses are kept: an
error response means the service changed nothing (each service is one
transaction), so the key is released and the client may retry with it.
"""

import copy
import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from knox.auth import TokenAuthentication
from rest_framework.exceptions import APIException
from rest_framework.throttling import BaseThrottle

from config.middleware import request_too_large_response
from orders.models import IdempotencyKey

logger = logging.getLogger("stockroom.idempotency")

HEADER = "Idempotency-Key"
KEY_MAX_LENGTH = 255
API_PREFIX = "/api/v1/"
EXEMPT_PREFIXES = ("/api/v1/auth/", "/api/v1/payments/webhook/")
# A reservation with no response after this long belongs to a process that died
# mid-request (no request runs this long behind gunicorn's timeout): free the key.
ABANDONED_AFTER = timedelta(minutes=5)


def _applies(request: HttpRequest) -> bool:
    return (
        request.method == "POST"
        and request.path.startswith(API_PREFIX)
        and not request.path.startswith(EXEMPT_PREFIXES)
    )


def _caller(request: HttpRequest) -> str:
    """The authenticated user (knox token or session), else the client address."""
    try:
        authenticated = TokenAuthentication().authenticate(request)
    except APIException:
        authenticated = None  # the view answers 401 itself; nothing is stored then
    if authenticated is not None:
        return f"user:{authenticated[0].pk}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"anon:{BaseThrottle().get_ident(request)}"[:100]  # type: ignore[arg-type]


def _error(status: int, code: str, detail: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail, **extra}, status=status)


def _replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        bytes(row.response_body),
        status=row.status_code or 200,
        content_type=row.content_type or "application/json",
    )
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyMiddleware:
    """Place after AuthenticationMiddleware (it reads the session user)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if key is None or not _applies(request):
            return self.get_response(request)
        if not key or len(key) > KEY_MAX_LENGTH:
            return _error(
                400,
                "invalid",
                "Invalid input.",
                errors={HEADER: [f"Must be 1 to {KEY_MAX_LENGTH} characters."]},
            )
        try:
            body = request.body
        except RequestDataTooBig:
            return request_too_large_response()

        identity = {
            "caller": _caller(request),
            "method": request.method or "POST",
            "path": request.path[:1024],
            "key": key,
        }
        fingerprint = hashlib.sha256(body).hexdigest()
        row, answer = self._reserve(identity=identity, fingerprint=fingerprint)
        if answer is not None:
            return answer
        assert row is not None

        keep = False
        try:
            response = self.get_response(request)
            keep = 200 <= response.status_code < 300 and not response.streaming
            if keep:
                row.status_code = response.status_code
                row.response_body = response.content
                row.content_type = response.get("Content-Type", "")
                row.save(update_fields=["status_code", "response_body", "content_type"])
            return response
        finally:
            if not keep:
                IdempotencyKey.objects.filter(pk=row.pk, status_code__isnull=True).delete()

    def _reserve(
        self, *, identity: dict[str, str], fingerprint: str
    ) -> tuple[IdempotencyKey | None, HttpResponse | None]:
        """Insert the key row (committed at once), or answer from the row already there."""
        for _attempt in range(2):
            try:
                with transaction.atomic():
                    return IdempotencyKey.objects.create(**identity, fingerprint=fingerprint), None
            except IntegrityError:
                pass
            existing = IdempotencyKey.objects.filter(**identity).first()
            if existing is None:
                continue  # released (an error response) a moment ago: try again
            age = timezone.now() - existing.created_at
            abandoned = existing.status_code is None and age > ABANDONED_AFTER
            if age > settings.IDEMPOTENCY_KEY_TTL or abandoned:
                IdempotencyKey.objects.filter(pk=existing.pk).delete()
                continue
            if existing.fingerprint != fingerprint:
                return None, _error(
                    422,
                    "idempotency_key_reused",
                    "This Idempotency-Key was used with another request body.",
                )
            if existing.status_code is None:
                return None, _error(
                    409,
                    "idempotency_in_progress",
                    "A request with this Idempotency-Key is still being processed.",
                )
            return None, _replay(existing)
        return None, _error(
            409,
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still being processed.",
        )


def idempotency_keys_purge(*, now: Any = None) -> int:
    """Delete keys older than IDEMPOTENCY_KEY_TTL; returns how many."""
    cutoff = (now or timezone.now()) - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def schema_add_idempotency_header(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: document the header on every POST it covers."""
    parameter = {
        "in": "header",
        "name": HEADER,
        "required": False,
        "schema": {"type": "string", "maxLength": KEY_MAX_LENGTH},
        "description": (
            "Makes the POST safe to retry for 24 hours (per caller and endpoint): the same "
            "key with the same body returns the first response again, with the header "
            "`Idempotent-Replayed: true`. The same key with another body answers 422 "
            "`idempotency_key_reused`; while the first request runs, 409 "
            "`idempotency_in_progress`. Error responses are not kept."
        ),
    }
    error = {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
                "required": ["code", "detail"],
            }
        }
    }
    for path, operations in result.get("paths", {}).items():
        post = operations.get("post")
        if post is None or not path.startswith(API_PREFIX) or path.startswith(EXEMPT_PREFIXES):
            continue
        # Copies, so the YAML output spells each one out instead of using anchors.
        post.setdefault("parameters", []).append(copy.deepcopy(parameter))
        responses = post.setdefault("responses", {})
        conflict = responses.setdefault("409", {"description": "", "content": copy.deepcopy(error)})
        described = conflict.get("description", "").strip()
        conflict["description"] = f"{described} Also `idempotency_in_progress`.".strip()
        responses.setdefault(
            "422", {"description": "idempotency_key_reused", "content": copy.deepcopy(error)}
        )
    return result
