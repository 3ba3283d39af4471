"""`Authorization: Bearer sr_<prefix>_<secret>`: an integration's API key.

Checked against the database on every request (one indexed query, no cache),
so a revoked or expired key, or a deactivated integration, is refused at
once. A key is only ever read from the header: never from a query string.
The result is memoised on the request like the knox check (the idempotency
middleware asks first, then DRF).
"""

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from integrations.keys import SCHEME, key_matches, key_prefix
from integrations.models import ApiKey

_STASH = "_stockroom_api_key_auth"
_FAILED = "Invalid, revoked or expired API key."


def _django_request(request: HttpRequest | Request) -> HttpRequest:
    return request._request if isinstance(request, Request) else request


def _authenticate(header: bytes) -> tuple[Any, ApiKey] | None:
    parts = header.split()
    if not parts or parts[0].decode(errors="replace") != SCHEME:
        return None
    if len(parts) != 2:
        raise AuthenticationFailed(_FAILED)
    key = parts[1].decode(errors="replace")
    prefix = key_prefix(key)
    if prefix is None:
        raise AuthenticationFailed(_FAILED)
    api_key = ApiKey.objects.select_related("integration__user").filter(prefix=prefix).first()
    now = timezone.now()
    if (
        api_key is None
        or not key_matches(key=key, digest=api_key.digest)
        or api_key.revoked_at is not None
        or (api_key.expires_at is not None and api_key.expires_at <= now)
        or not api_key.integration.is_active
        or not api_key.integration.user.is_active
    ):
        raise AuthenticationFailed(_FAILED)
    # Imported here: DRF loads this module while core.errors is still loading.
    from integrations.services import api_key_touch

    api_key_touch(key=api_key, now=now)
    return api_key.integration.user, api_key


class ApiKeyAuthentication(BaseAuthentication):
    """An integration's API key; the request's user is the integration's service account."""

    def authenticate(self, request: Any) -> tuple[Any, ApiKey] | None:
        raw = _django_request(request)
        header = get_authorization_header(request)
        stashed = raw.__dict__.get(_STASH)
        if stashed is not None and stashed[0] == header:
            return stashed[1]
        result = _authenticate(header)
        raw.__dict__[_STASH] = (header, result)
        return result

    def authenticate_header(self, request: Any) -> str:
        return SCHEME


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sr_<prefix>_<secret>",
            "description": "An integration's API key. Never in a query string.",
        }
