"""`Idempotency-Key` for every POST of /api/v1/ (but auth/ and the payments webhook).

Implemented once, as middleware, so every app's POST endpoint gets it. A row
per (caller, method, path, key) is inserted (committed) first; then the
request runs inside one transaction that holds that row FOR UPDATE and, on a
2xx, stores the response in the same commit as the request's own effects. So:
- of twenty simultaneous requests with one key exactly one runs; the others
  find the row locked and answer 409 (or, once it has committed, replay it);
- a process killed mid-request rolls back both its effects and the lock, so
  the next retry runs at once, and an effect never exists without its stored
  response (no second order after a crash);
- an error response rolls the request back and frees the key, so the client
  may correct the request and retry with the same key.
"""

import copy
import hashlib
import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.throttling import BaseThrottle

from accounts.authentication import TokenAuthentication
from core.database import repeatable
from core.middleware import request_too_large_response
from core.models import IdempotencyKey
from integrations.authentication import ApiKeyAuthentication

logger = logging.getLogger("stockroom.idempotency")

HEADER = "Idempotency-Key"
KEY_MAX_LENGTH = 255
API_PREFIX = "/api/v1/"
# The quote changes nothing: there is nothing to make exactly-once.
EXEMPT_PREFIXES = ("/api/v1/auth/", "/api/v1/payments/webhook/", "/api/v1/orders/quote/")
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a NOWAIT lock conflict
STORED_FIELDS = ["fingerprint", "created_at", "status_code", "response_body", "content_type"]
# A key is stored as text: no control characters (PostgreSQL refuses NUL) and no
# lone surrogates (not encodable). The schema states the same characters.
_UNSTORABLE_CHARACTERS = r"\u0000-\u001f\u007f\ud800-\udfff"
_UNSTORABLE = re.compile(f"[{_UNSTORABLE_CHARACTERS}]")
KEY_PATTERN = f"^[^{_UNSTORABLE_CHARACTERS}]*$"


def applies_to(*, method: str, path: str) -> bool:
    """Whether a request of `method` to `path` honours `Idempotency-Key` (the schema asks too)."""
    return method == "POST" and path.startswith(API_PREFIX) and not path.startswith(EXEMPT_PREFIXES)


def _applies(request: HttpRequest) -> bool:
    return applies_to(method=request.method or "", path=request.path)


def key_error(key: str) -> str | None:
    """Why `key` is not a usable `Idempotency-Key`, or None when it is."""
    if not key or len(key) > KEY_MAX_LENGTH:
        return f"Must be 1 to {KEY_MAX_LENGTH} characters."
    if _UNSTORABLE.search(key):
        return "Must not contain control characters."
    return None


def _caller(request: HttpRequest) -> str:
    """The authenticated user (knox token or session), else the client address.

    The token check is stashed on the request; DRF reuses it in the view.
    """
    try:
        authenticated = TokenAuthentication().authenticate(request)
        if authenticated is None:
            authenticated = ApiKeyAuthentication().authenticate(request)
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
        if (problem := key_error(key)) is not None:
            return _error(400, "invalid", "Invalid input.", errors={HEADER: [problem]})
        caller = _caller(request)
        if caller.startswith("anon:"):
            # Every POST this covers needs a user: the view answers 401. Keyed by
            # address instead, anonymous requests sharing a key would get 409/422
            # (and learn of each other's requests) before being refused.
            return self.get_response(request)
        try:
            body = request.body
        except RequestDataTooBig:
            return request_too_large_response()

        identity = {
            "caller": caller,
            "method": request.method or "POST",
            "path": request.path[:1024],
            "key": key,
        }
        fingerprint = hashlib.sha256(body).hexdigest()
        # The row must exist (committed) before anyone can lock it; a concurrent
        # request may have inserted it first, which is fine. Inserting it twice
        # is a no-op, so it does not stop a rerun of the request.
        with repeatable():
            IdempotencyKey.objects.bulk_create(
                [IdempotencyKey(**identity, fingerprint=fingerprint)], ignore_conflicts=True
            )
        stored = False
        answer: HttpResponse | None = None
        with transaction.atomic():
            row = self._lock(identity=identity)
            if row is not None:
                answer = _answer_from(row, fingerprint=fingerprint)
            if row is not None and answer is None:
                # Ours to run: new, expired, or left by a process that died mid-request
                # (its transaction rolled back with it, so it changed nothing). The row
                # is written once, with the response: until this transaction commits
                # nobody else can see or lock it, and on an error it is rolled back anyway.
                row.fingerprint = fingerprint
                row.created_at = timezone.now()
                response = self.get_response(request)
                if 200 <= response.status_code < 300 and not response.streaming:
                    row.status_code = response.status_code
                    row.response_body = response.content
                    row.content_type = response.get("Content-Type", "")
                    row.save(update_fields=STORED_FIELDS)
                    stored = True
                else:
                    # An error changes nothing: undo whatever the view did and free the key.
                    transaction.set_rollback(True)
        if row is None:
            return _in_progress_or_reused(identity=identity, fingerprint=fingerprint)
        if answer is not None:
            return answer
        if not stored:
            with repeatable():  # freeing the key again is a no-op
                IdempotencyKey.objects.filter(**identity, status_code__isnull=True).delete()
        return response

    @staticmethod
    def _lock(*, identity: dict[str, str]) -> IdempotencyKey | None:
        """Lock the key row for this transaction, or None while another request holds it.

        Call it first thing in the request's transaction: a lock conflict aborts
        that transaction (no savepoint is spent on it, it holds nothing yet), so
        it is marked for rollback and the caller must leave the block at once.

        The lock, not a flag, says "in progress": it lasts exactly as long as the
        first request's transaction, which also stores the response, so a
        process that dies mid-request frees the key at once and never leaves
        an effect without its stored response.
        """
        try:
            return IdempotencyKey.objects.select_for_update(nowait=True).filter(**identity).first()
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            transaction.set_rollback(True)
            return None


def _answer_from(row: IdempotencyKey, *, fingerprint: str) -> HttpResponse | None:
    """The answer for a key that already has a stored response, else None (run it)."""
    if row.status_code is None:
        return None
    if timezone.now() - row.created_at > settings.IDEMPOTENCY_KEY_TTL:
        return None
    if row.fingerprint != fingerprint:
        return _reused()
    return _replay(row)


def _in_progress_or_reused(*, identity: dict[str, str], fingerprint: str) -> HttpResponse:
    running = IdempotencyKey.objects.filter(**identity).only("fingerprint").first()
    if running is not None and running.fingerprint != fingerprint:
        return _reused()
    return _error(
        409,
        "idempotency_in_progress",
        "A request with this Idempotency-Key is still being processed.",
    )


def _reused() -> HttpResponse:
    return _error(
        422,
        "idempotency_key_reused",
        "This Idempotency-Key was used with another request body.",
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
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": KEY_MAX_LENGTH,
            "pattern": KEY_PATTERN,
        },
        "description": (
            "Makes the POST safe to retry for 24 hours (per caller and endpoint): the same "
            "key with the same body returns the first response again, with the header "
            "`Idempotent-Replayed: true`. The same key with another body answers 422 "
            "`idempotency_key_reused`; while the first request runs, 409 "
            "`idempotency_in_progress`. Error responses are not kept. An empty key, one "
            "over 255 characters or one with a control character is a 400 `invalid`."
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
        if post is None or not applies_to(method="POST", path=path):
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
