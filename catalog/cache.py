"""What changed in the catalog: generation counters that every catalog write moves on.

Design
------
* One counter, `catalog:generation`, lives in the cache (no expiry). Every
  catalog write (category, product, variant, stock: each service in
  catalog.services, `_stock_apply` included, so orders taking or returning
  stock count too) calls `invalidate_on_commit()`, which bumps the counter in
  `transaction.on_commit`. Anything derived from the catalog and kept under
  the generation it was read at (the API's cached responses,
  catalog.api.response_cache; counts kept in process memory,
  catalog.listing.GenerationMemo) is therefore never used again after the
  commit. A rolled-back write bumps nothing.
* A product's page also shows its variants' stock. A stock change that
  crosses zero for no variant changes no list (a list shows only whether a
  product is in stock), so it bumps only the products' own counters
  (`invalidate_products_on_commit`). An order therefore does not move the
  whole catalog on.
* If a counter is lost (eviction, flush), it restarts from a fresh
  nanosecond timestamp, never from a value an older entry may still carry.
* Redis down: django-redis is configured with IGNORE_EXCEPTIONS, reads return
  None, so the generation is unknown (None): nothing may be kept under it.
* With read replicas (core.replicas), a write also marks the catalog (or the
  products) as just written for REPLICA_PIN_SECONDS: an answer built in that
  window reads the primary, so a replica that has not shown the write yet
  never lends its rows to an entry stored under the new generation.
* Limit: a Redis blip at the very moment of a bump (write committed, INCR
  lost) leaves older entries readable until CATALOG_CACHE_TTL expires them;
  the TTL bounds that window.

Public interface for other apps: `invalidate()` (now) and
`invalidate_on_commit()` (after the current transaction commits; the one to
use inside services).
"""

import time
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from django.core.cache import cache
from django.db import transaction

from core import replicas

GENERATION_KEY = "catalog:generation"
# Per product: a counter that stock changes bump, for that product's page only.
PRODUCT_GENERATION_PREFIX = "catalog:product-generation:"
# Present for REPLICA_PIN_SECONDS after a write (only with read replicas).
WRITTEN_KEY = "catalog:written"
PRODUCT_WRITTEN_PREFIX = "catalog:product-written:"

# The version something was read at: (catalog generation, its product's counter or None).
Version = tuple[int, int | None]


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
    """Move the catalog generation on, now: nothing kept under an older one is used again."""
    replicas.written_mark(keys=[WRITTEN_KEY])
    _counter_bump(GENERATION_KEY)


def invalidate_on_commit() -> None:
    """Invalidate once the current transaction commits (immediately outside one)."""
    transaction.on_commit(invalidate, robust=True)


def product_key(slug: str) -> str:
    """The cache key of a product's own counter."""
    return f"{PRODUCT_GENERATION_PREFIX}{slug}"


def invalidate_products(*, slugs: Iterable[str]) -> None:
    """Move these products' own counters on, now (their pages); the generation stays."""
    unique = set(slugs)
    replicas.written_mark(keys=[f"{PRODUCT_WRITTEN_PREFIX}{slug}" for slug in unique])
    for slug in unique:
        _counter_bump(product_key(slug))


def invalidate_products_on_commit(*, slugs: Iterable[str]) -> None:
    """`invalidate_products` once the current transaction commits.

    For changes that show on the products' own pages but in no list: stock
    that does not cross zero (a list shows only whether a product is in stock).
    """
    transaction.on_commit(partial(invalidate_products, slugs=tuple(slugs)), robust=True)


def version_keys(*, product: str | None = None) -> list[str]:
    """The counters a version is read from (`version`): the generation, and the product's."""
    if product is None:
        return [GENERATION_KEY]
    return [GENERATION_KEY, product_key(product)]


def written_keys(*, product: str | None = None) -> list[str]:
    """Keys present while the catalog (or the product) was just written; none without replicas."""
    if not replicas.aliases():
        return []
    if product is None:
        return [WRITTEN_KEY]
    return [WRITTEN_KEY, f"{PRODUCT_WRITTEN_PREFIX}{product}"]


def version(values: Sequence[Any], *, product: str | None = None) -> tuple[Version | None, bool]:
    """The current version from the values of `version_keys(product=product)`, read already.

    Returns (version, fresh): a missing counter (new, evicted) is created at a
    fresh value, and then `fresh` is true (nothing can have been kept under
    it). The version is None when the cache is down.
    """
    gen, *rest = values
    product_gen = rest[0] if product is not None else None
    fresh = False
    if gen is None:
        gen, fresh = generation(), True
    if product is not None and product_gen is None:
        product_gen, fresh = _counter_create(product_key(product)), True
        if product_gen is None:
            return None, fresh
    if gen is None:
        return None, fresh
    return (int(gen), None if product_gen is None else int(product_gen)), fresh


__all__ = [
    "GENERATION_KEY",
    "PRODUCT_GENERATION_PREFIX",
    "Version",
    "generation",
    "invalidate",
    "invalidate_on_commit",
    "invalidate_products",
    "invalidate_products_on_commit",
    "product_key",
    "version",
    "version_keys",
    "written_keys",
]
