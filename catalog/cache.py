"""Cached public catalog reads, invalidated by a generation counter.

Design
------
* One counter, `catalog:generation`, lives in the cache (no expiry). Every
  cached response is stored under a key made of a hash of the absolute URL
  (scheme, host, path) and the view's canonical query: a string the view
  builds from the very values it parsed and answers from (for the product
  list, catalog.api.list_query), never from the raw query string, so two
  requests the view answers differently never share an entry:
  `catalog:<FORMAT>:<scope>:<sha256>`, and
  the stored value carries the generation read at the *start* of the request
  that built it. A read fetches the counter and the entry in ONE round trip
  (MGET) and serves the entry only if its generation is the current one.
* Every catalog write (category, product, variant, stock: each service in
  catalog.services, `_stock_apply` included, so orders taking or returning
  stock count too) calls `invalidate_on_commit()`, which bumps the counter in
  `transaction.on_commit`. After the bump no entry of an older generation
  matches, so nothing cached before the commit is served again; the next
  reader rebuilds and overwrites it. A rolled-back write bumps nothing.
* A reader that raced a write stores its (possibly old) body tagged with the
  *old* generation it read first, which never matches after the bump: a stale
  entry can never be served under the new generation. (At worst such a late
  store overwrites a fresh entry, costing one more rebuild, never a stale read.)
* A product's page (its detail) also shows its variants' stock. A stock
  change that crosses zero for no variant changes no list (a list shows only
  whether a product is in stock), so it bumps only the products' own
  counters (`invalidate_products_on_commit`); a detail entry carries both
  versions it was built at, and is served only while both are current. An
  order therefore no longer empties the whole catalog cache.
* If the counter is lost (eviction, flush), it restarts from a fresh
  nanosecond timestamp, never from a value an older entry may still carry.
* Redis down: django-redis is configured with IGNORE_EXCEPTIONS, reads return
  None, so the generation is unknown and the response is built from the
  database and not stored: served uncached, still correct.
* Limit: a Redis blip at the very moment of a bump (write committed, INCR
  lost) leaves older entries readable until CATALOG_CACHE_TTL expires them;
  the TTL bounds that window.
* Every response carries a strong ETag (hash of the body); `If-None-Match`
  with it answers 304 without a body.

Public interface for other apps: `invalidate()` (now) and
`invalidate_on_commit()` (after the current transaction commits; the one to
use inside services).
"""

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from rest_framework.renderers import JSONRenderer

logger = logging.getLogger("stockroom.catalog.cache")

GENERATION_KEY = "catalog:generation"
# Bumped when the shape of cached bodies changes, so a deploy never serves old shapes.
FORMAT = "4"
# Per product: a counter that stock changes bump, for that product's page only.
PRODUCT_GENERATION_PREFIX = "catalog:product-generation:"


# The generation read at the start of the response being built (json_response),
# for values derived from the catalog while building it (memoised).
_building: ContextVar[int | None] = ContextVar("catalog_cache_building", default=None)


def _fresh_generation() -> int:
    return time.time_ns()


def _counter_create(key: str) -> int | None:
    """Create a missing counter at a fresh value (one round trip); None when the cache is down."""
    fresh = _fresh_generation()
    if cache.add(key, fresh, timeout=None):
        return fresh
    value = cache.get(key)  # created meanwhile by someone else, or the cache is down
    return int(value) if value is not None else None


def _counter_bump(key: str) -> None:
    """Move a counter on; a lost one restarts at a fresh value, which no entry can carry."""
    try:
        bumped = cache.incr(key)
    except ValueError:  # evicted, or never set
        bumped = None
    if bumped is None:
        cache.set(key, _fresh_generation(), timeout=None)


def generation() -> int | None:
    """The current generation, creating it when missing; None when the cache is down."""
    value = cache.get(GENERATION_KEY)
    return int(value) if value is not None else _counter_create(GENERATION_KEY)


def invalidate() -> None:
    """Make every cached catalog response unreachable, now."""
    _counter_bump(GENERATION_KEY)


def invalidate_on_commit() -> None:
    """Invalidate once the current transaction commits (immediately outside one)."""
    transaction.on_commit(invalidate, robust=True)


def _product_key(slug: str) -> str:
    return f"{PRODUCT_GENERATION_PREFIX}{slug}"


def invalidate_products(*, slugs: Iterable[str]) -> None:
    """Make the cached pages of these products unreachable, now; lists stay as they are."""
    for slug in set(slugs):
        _counter_bump(_product_key(slug))


def invalidate_products_on_commit(*, slugs: Iterable[str]) -> None:
    """`invalidate_products` once the current transaction commits.

    For changes that show on the products' own pages but in no list: stock
    that does not cross zero (a list shows only whether a product is in stock).
    """
    transaction.on_commit(partial(invalidate_products, slugs=tuple(slugs)), robust=True)


def cache_key(*, scope: str, request: HttpRequest, query: str) -> str:
    """The key of the answer to `request` whose parsed query canonicalises to `query`.

    `query` must determine everything of the query string the answer depends
    on (and nothing of the raw spelling): build it from the parsed values.
    """
    # The host and scheme are part of the key: bodies carry absolute page links.
    raw = f"{request.build_absolute_uri(request.path)}?{query}"
    digest = hashlib.sha256(raw.encode()).hexdigest()
    return f"catalog:{FORMAT}:{scope}:{digest}"


# The version an entry was built at: (catalog generation, its product's counter or None).
Version = tuple[int, int | None]


def lookup_keys(key: str, *, product: str | None = None) -> list[str]:
    """The cache keys a lookup of the entry `key` reads, in the order `cached_response` takes.

    `product`: the slug of the product a detail entry shows (its own counter).
    """
    if product is None:
        return [GENERATION_KEY, key]
    return [GENERATION_KEY, _product_key(product), key]


def _lookup(
    key: str, *, product: str | None = None, values: Sequence[Any] | None = None
) -> tuple[Version | None, Any]:
    """The current version and the entry under `key`, in one round trip.

    `values` are those of `lookup_keys(key, product=product)` when the caller
    has read them already. A missing counter (fresh, evicted) is created at a
    fresh value, so no entry stored before can match it. None: cache down.
    """
    keys = lookup_keys(key, product=product)
    if values is None:
        found = cache.get_many(keys)
        values = [found.get(k) for k in keys]
    gen, *rest = values
    entry = rest[-1]
    product_gen = rest[0] if product is not None else None
    if gen is None:
        gen, entry = generation(), None
    if product is not None and product_gen is None:
        product_gen, entry = _counter_create(_product_key(product)), None
        if product_gen is None:
            return None, None
    if gen is None:
        return None, None
    return (int(gen), None if product_gen is None else int(product_gen)), entry


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _etag_matches(request: HttpRequest, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    if not header:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


def _response(request: HttpRequest, *, body: bytes, etag: str, cache_status: str) -> HttpResponse:
    if _etag_matches(request, etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["X-Cache"] = cache_status
    # Shared caches must not keep a body that depends on who asks.
    response["Vary"] = "Authorization, Cookie"
    return response


def cached_response(
    request: HttpRequest,
    *,
    key: str,
    product: str | None = None,
    values: Sequence[Any] | None = None,
) -> HttpResponse | None:
    """The stored response under `key` (from `cache_key`) if current (or its 304), else None.

    One cache round trip, none if `values` (of `lookup_keys(key, product=)`)
    are given. What it found is remembered on the request, so a miss that goes
    on to `json_response` does not ask the cache again.
    """
    version, hit = _lookup(key, product=product, values=values)
    request.catalog_cache_lookup = (key, version)  # type: ignore[attr-defined]
    if version is not None and hit is not None and hit[0] == version:
        _, etag, body = hit
        return _response(request, body=body, etag=etag, cache_status="HIT")
    return None


def json_response(
    request: HttpRequest,
    *,
    build: Callable[[], Any],
    scope: str,
    query: str,
    cacheable: bool,
    product: str | None = None,
) -> HttpResponse:
    """Render `build()` as JSON with an ETag, through the cache when `cacheable`.

    `build` runs only on a miss; exceptions it raises (validation, 404) pass
    through and nothing is stored. Only public responses may be cacheable:
    the key does not contain the caller. `query`: the canonical form of the
    parsed query `build` answers from (see cache_key). `product`: the slug of the product
    the response shows alone (a detail), which then also follows that
    product's own counter (invalidate_products).
    """
    version, key = None, None
    if cacheable:
        key = cache_key(scope=scope, request=request, query=query)
        # The fast path (catalog.fastpath) already looked this key up and missed.
        looked_up = getattr(request, "catalog_cache_lookup", None)
        if looked_up is not None and looked_up[0] == key:
            version = looked_up[1]
        else:
            version, hit = _lookup(key, product=product)
            if version is not None and hit is not None and hit[0] == version:
                _, etag, body = hit
                return _response(request, body=body, etag=etag, cache_status="HIT")
        if version is None:
            key = None  # cache down: build, serve, store nothing
    token = _building.set(None if version is None else version[0])
    try:
        body = JSONRenderer().render(build())
    finally:
        _building.reset(token)
    etag = _etag(body)
    if key is not None:
        cache.set(key, (version, etag, body), timeout=settings.CATALOG_CACHE_TTL)
    status = "MISS" if key is not None else "BYPASS"
    return _response(request, body=body, etag=etag, cache_status=status)


def building_generation() -> int | None:
    """The generation of the cacheable response being built, or None (see memoised)."""
    return _building.get()


def memoised[T](*, scope: str, parts: str, compute: Callable[[], T]) -> T:
    """`compute()`, kept in this process under the generation of the response being built.

    For small values derived from catalog data that many responses share (the
    count of a filtered product list, whatever its page or ordering; a
    category's subtree). The generation is part of the key, so after any
    catalog write the value is computed again; a value computed while a write
    commits is kept under the older generation read first, which no request
    starting after the bump asks for (as for responses). In process memory,
    not Redis: a hit or a miss then costs no round trip (two Redis commands
    per miss cost more than most counts at 10,000 products). Outside a
    cacheable build (staff, the browsable API, Redis down) it just computes.
    """
    gen = _building.get()
    if gen is None:
        return compute()
    key = (scope, gen, parts)
    try:
        return cast(T, _memo[key])
    except KeyError:
        pass
    value = compute()
    if len(_memo) >= _MEMO_MAX or gen != _memo_generation[0]:
        _memo.clear()  # older generations are never asked for again
        _memo_generation[0] = gen
    _memo[key] = value
    return value


_MEMO_MAX = 10_000
_memo: dict[tuple[str, int, str], Any] = {}
_memo_generation = [0]


__all__ = [
    "building_generation",
    "cache_key",
    "cached_response",
    "generation",
    "invalidate",
    "invalidate_on_commit",
    "invalidate_products",
    "invalidate_products_on_commit",
    "json_response",
    "lookup_keys",
    "memoised",
]
