"""Knox token authentication that runs at most once per request.

The idempotency middleware must know the caller before the view runs, and DRF
authenticates again in the view: each knox check is a query, a hash compare
and maybe a token refresh. Whoever authenticates first stashes the result on
the Django request; the second caller reuses it. Failures are not stashed:
they raise again (401) wherever they are asked.

knox also reads every token of the user on each request, to delete those that
have expired: one query per authenticated request for housekeeping. Here a
request looks at its own token only (an expired one is refused and deleted,
as knox does); the user's other expired tokens are deleted when the user
logs in (accounts.login.user_login), the only way tokens are added, so they
stay bounded just the same.
"""

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth as knox_auth
from knox.signals import token_expired
from rest_framework.authentication import get_authorization_header
from rest_framework.request import Request

_STASH = "_stockroom_knox_auth"


def _django_request(request: HttpRequest | Request) -> HttpRequest:
    return request._request if isinstance(request, Request) else request


class TokenAuthentication(knox_auth.TokenAuthentication):
    """knox's TokenAuthentication, memoised on the request (same header, same answer)."""

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        raw = _django_request(request)
        header = get_authorization_header(request)  # what knox reads
        stashed = raw.__dict__.get(_STASH)
        if stashed is not None and stashed[0] == header:
            return stashed[1]
        result = super().authenticate(request)
        raw.__dict__[_STASH] = (header, result)
        return result

    def _cleanup_token(self, auth_token: Any) -> bool:
        """True (and the token deleted) if `auth_token` has expired; no other token is read."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=type(self), username=username, source="auth_token")
            return True
        return False


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme stays knox's (`knoxApiToken`)."""

    target_class = "accounts.authentication.TokenAuthentication"
