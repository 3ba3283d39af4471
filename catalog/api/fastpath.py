"""Cached public product reads answered before DRF: the hot path of a shop.

A hit in catalog.api.response_cache is a stored body; serving it through a DRF view still
pays for the view's setup, authentication, content negotiation and the
validation of the query parameters, which cost three times the cache read.
This middleware, the last in MIDDLEWARE (so every other middleware still runs
on the way in and out: security headers, CSP, CORS, request id, logging),
answers a request from the cache itself when, and only when, DRF would have
served exactly that stored response:

* GET of the product list or a product's detail, with no Authorization header
  and no session cookie (the caller is anonymous, so the public body applies);
* an Accept header that only asks for JSON (or none), and no `?format=`;
* a query string the view's own parser accepts (catalog.api.list_query for
  the list), and no cursor page asked for (those are never cached): the
  cache key is built from what it parsed, exactly as the view builds it, so
  a hit is the answer the view would store for this request
  (anything the parser refuses goes on to DRF, which answers the 400);
* the view's throttle is the project's ClientRateThrottle and allows it (it is
  counted here, and the view does not count the request again when it goes on
  to DRF).

Anything else, a miss or a throttled caller included, goes on to DRF, which
answers as it always does. The response carries the headers DRF adds to the
view's responses (Allow, Vary), taken from the view class itself.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import resolve
from django.utils.cache import patch_vary_headers
from rest_framework.exceptions import ValidationError

from catalog.api import response_cache
from core.cursor import cursor_requested
from core.throttling import ClientRateThrottle

LIST_PATH = "/api/v1/products/"
# The router's lookup_value_regex for products, anchored to the detail route.
DETAIL_PATH = re.compile(r"^/api/v1/products/[-a-zA-Z0-9_]+/$")
JSON_MEDIA = frozenset({"*/*", "application/*", "application/json"})
THROTTLED_ATTR = "catalog_fastpath_throttled"


@dataclass(frozen=True)
class Route:
    scope: str
    parse: Callable[[QueryDict], Any] | None
    headers: dict[str, str]
    vary: tuple[str, ...]
    throttle_classes: tuple[type, ...]
    product_page: bool


def _route_for(path: str) -> Route:
    """What DRF's view for `path` would use: cache scope, headers and throttles."""
    view = resolve(path).func
    instance = view.cls(**view.initkwargs)  # type: ignore[attr-defined]
    # As DRF's ViewSet.as_view() binds them, so `allowed_methods` (Allow) is right.
    actions = dict(view.actions)  # type: ignore[attr-defined]
    actions.setdefault("head", actions["get"])
    instance.action_map = actions
    for method, action in actions.items():
        setattr(instance, method, getattr(instance, action))
    instance.action = actions["get"]
    scope, parse = instance.cache_scopes[instance.action]
    headers = dict(instance.default_response_headers)
    vary = tuple(v.strip() for v in headers.pop("Vary", "").split(",") if v.strip())
    return Route(
        scope,
        parse,
        headers,
        vary,
        tuple(instance.throttle_classes),
        product_page=instance.action == "retrieve",
    )


def _accepts_only_json(header: str) -> bool:
    """No Accept header, or one whose every media range is JSON (and none refused, q=0)."""
    if not header:
        return True
    for part in header.split(","):
        media, *options = part.split(";")
        if media.strip().lower() not in JSON_MEDIA:
            return False
        for option in options:
            name, _, value = option.partition("=")
            if name.strip().lower() == "q" and value.strip().rstrip("0").rstrip(".") in ("", "0"):
                return False
    return True


def _canonical_query(request: HttpRequest, route: Route) -> str | None:
    """The canonical query the view would cache this request's answer under, or None."""
    if "format" in request.GET:  # DRF's URL_FORMAT_OVERRIDE
        return None
    if route.parse is None:
        return ""
    if cursor_requested(request.GET):  # cursor pages are never cached: the view answers them
        return None
    try:
        return str(route.parse(request.GET).canonical)
    except ValidationError:
        return None


def throttled_here(request: Any) -> bool:
    """True when the fast path already counted this request against the view's throttles."""
    return bool(getattr(request, THROTTLED_ATTR, False))


class CatalogCacheMiddleware:
    """Serve current cached public product reads without entering DRF (see the module)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.routes: dict[str, Route] = {}

    def _route(self, request: HttpRequest) -> Route | None:
        path = request.path_info
        if path == LIST_PATH:
            kind = "list"
        elif DETAIL_PATH.match(path):
            kind = "detail"
        else:
            return None
        if request.method != "GET" or "HTTP_AUTHORIZATION" in request.META:
            return None
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            return None
        if not _accepts_only_json(request.META.get("HTTP_ACCEPT", "")):
            return None
        route = self.routes.get(kind)
        if route is None:
            route = self.routes[kind] = _route_for(path)
        # The fast path counts the request with the project's throttle only: a view
        # with other throttles is left to DRF.
        if route.throttle_classes != (ClientRateThrottle,):
            return None
        return route

    def __call__(self, request: HttpRequest) -> HttpResponse:
        route = self._route(request)
        query = None if route is None else _canonical_query(request, route)
        if route is None or query is None:
            return self.get_response(request)
        key = response_cache.cache_key(scope=route.scope, request=request, query=query)
        # A detail also follows its product's own counter: the slug is the path's last part.
        product = request.path_info.rsplit("/", 2)[1] if route.product_page else None
        # The throttle's windows and the cache entry: one round trip.
        allowed, values = ClientRateThrottle().check(
            request, read=response_cache.lookup_keys(key, product=product)
        )
        if not allowed:  # DRF checks again and answers its 429 (a refusal counts nothing)
            return self.get_response(request)
        setattr(request, THROTTLED_ATTR, True)
        response = response_cache.cached_response(request, key=key, product=product, values=values)
        if response is None:
            return self.get_response(request)
        for name, value in route.headers.items():
            response[name] = value
        if route.vary:
            patch_vary_headers(response, route.vary)
        return response
