"""Knox token authentication that runs at most once per request.

The idempotency middleware must know the caller before the view runs, and DRF
authenticates again in the view: each knox check is a query, a hash compare
and maybe a token refresh. Whoever authenticates first stashes the result on
the Django request; the second caller reuses it. Failures are not stashed:
they raise again (401) wherever they are asked.
"""

from typing import Any

from django.http import HttpRequest
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth as knox_auth
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


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme stays knox's (`knoxApiToken`)."""

    target_class = "accounts.authentication.TokenAuthentication"
