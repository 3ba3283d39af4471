"""Public catalog answers cached in Redis with a strong ETag, under the catalog generation.

* Every cached response is stored under a key made of a hash of the absolute
  URL (scheme, host, path) and the view's canonical query: a string the view
  builds from the very values it parsed and answers from (for the product
  list, catalog.api.list_query), never from the raw query string, so two
  requests the view answers differently never share an entry:
  `catalog:<FORMAT>:<scope>:<sha256>`.
* The stored value carries the version (catalog.cache: the generation, and
  for a product's page its own counter) read at the *start* of the request
  that built it. A read fetches the counters and the entry in ONE round trip
  (MGET) and serves the entry only if its version is the current one; after
  any catalog write (catalog.cache.invalidate_on_commit) no older entry
  matches. A reader that raced a write stores its body tagged with the old
  version it read first, which never matches after the bump.
* Redis down: the version is unknown, the response is built from the
  database and not stored: served uncached, still correct.
* With read replicas (core.replicas) a miss builds its answer on a replica,
  unless the same round trip found the catalog (or the product) written
  within the pin window, or the cache is down: then on the primary, so that
  no entry stored under a new generation holds a replica's older rows.
* Every response carries a strong ETag (hash of the body); `If-None-Match`
  with it answers 304 without a body.
"""

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework.renderers import JSONRenderer

from catalog import cache as catalog_cache
from catalog.cache import Version
from catalog.listing import PRODUCT_FIELDS, VARIANT_FIELDS, Field
from core import replicas


def body_format(fields: Sequence[Field]) -> str:
    """The format of cached bodies that show `fields`, part of every key.

    A deploy that changes the declared fields therefore never serves a body
    of the old shape; bump the number for a change they do not show.
    """
    shape = repr([(f.name, f.kind, f.staff, f.detail) for f in fields])
    return "5-" + hashlib.sha256(shape.encode()).hexdigest()[:8]


FORMAT = body_format((*PRODUCT_FIELDS, *VARIANT_FIELDS))
LOOKUP_ATTR = "catalog_cache_lookup"


def cache_key(*, scope: str, request: HttpRequest, query: str) -> str:
    """The key of the answer to `request` whose parsed query canonicalises to `query`.

    `query` must determine everything of the query string the answer depends
    on (and nothing of the raw spelling): build it from the parsed values.
    """
    # The host and scheme are part of the key: bodies carry absolute page links.
    raw = f"{request.build_absolute_uri(request.path)}?{query}"
    digest = hashlib.sha256(raw.encode()).hexdigest()
    return f"catalog:{FORMAT}:{scope}:{digest}"


def lookup_keys(key: str, *, product: str | None = None) -> list[str]:
    """The cache keys a lookup of the entry `key` reads, in the order `cached_response` takes.

    `product`: the slug of the product a detail entry shows (its own counter).
    """
    return [
        *catalog_cache.version_keys(product=product),
        *catalog_cache.written_keys(product=product),
        key,
    ]


def _lookup(
    key: str, *, product: str | None = None, values: Sequence[Any] | None = None
) -> tuple[Version | None, bool, Any]:
    """The current version, whether the catalog was just written, and the entry under `key`.

    One round trip. `values` are those of `lookup_keys(key, product=product)`
    when the caller has read them already. Version None: cache down.
    """
    keys = lookup_keys(key, product=product)
    if values is None:
        found = cache.get_many(keys)
        values = [found.get(k) for k in keys]
    counters = len(catalog_cache.version_keys(product=product))
    version, fresh = catalog_cache.version(values[:counters], product=product)
    written = any(value is not None for value in values[counters:-1])
    return version, written, (None if fresh else values[-1])


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
    version, written, hit = _lookup(key, product=product, values=values)
    setattr(request, LOOKUP_ATTR, (key, version, written))
    if version is not None and hit is not None and hit[0] == version:
        _, etag, body = hit
        return _response(request, body=body, etag=etag, cache_status="HIT")
    return None


def json_response(
    request: HttpRequest,
    *,
    build: Callable[[int | None], Any],
    scope: str,
    query: str,
    cacheable: bool,
    product: str | None = None,
) -> HttpResponse:
    """Render `build(generation)` as JSON with an ETag, through the cache when `cacheable`.

    `build` runs only on a miss, with the catalog generation the answer is
    stored under (None when it is not stored: not cacheable, cache down);
    what it derives from the catalog may be kept under that generation.
    Exceptions it raises (validation, 404) pass through and nothing is
    stored. Only public responses may be cacheable: the key does not contain
    the caller. `query`: the canonical form of the parsed query `build`
    answers from (see cache_key). `product`: the slug of the product the
    response shows alone (a detail), which then also follows that product's
    own counter (catalog.cache.invalidate_products).
    """
    version, key = None, None
    if cacheable:
        key = cache_key(scope=scope, request=request, query=query)
        # The fast path (catalog.api.fastpath) already looked this key up and missed.
        looked_up = getattr(request, LOOKUP_ATTR, None)
        if looked_up is not None and looked_up[0] == key:
            _, version, written = looked_up
        else:
            version, written, hit = _lookup(key, product=product)
            if version is not None and hit is not None and hit[0] == version:
                _, etag, body = hit
                return _response(request, body=body, etag=etag, cache_status="HIT")
        if version is None or written:
            # Stored for every caller: only rows that show every write so far.
            replicas.use_primary()
        if version is None:
            key = None  # cache down: build, serve, store nothing
    body = JSONRenderer().render(build(None if version is None else version[0]))
    etag = _etag(body)
    if key is not None:
        cache.set(key, (version, etag, body), timeout=settings.CATALOG_CACHE_TTL)
    status = "MISS" if key is not None else "BYPASS"
    return _response(request, body=body, etag=etag, cache_status=status)
