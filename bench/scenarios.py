"""What the bench measures: one scenario per endpoint, each a ratio to the ceiling.

A scenario is a list of request paths that wrk rotates through (so pages,
filters, slugs and search words vary), or the order-placement script. The
paths come from the seeded data (bench/django_side.py `prepare`).

Cached versus uncached. The catalog caches whole responses keyed by the full
request path *including the query string*, so:
- a *cached* scenario rotates through a small fixed set of paths that the
  warm-up has already put in the cache;
- an *uncached* scenario adds a query parameter the API ignores (`_` by
  default, `--bust-param`) whose value is unique per request, so every
  request misses the cache, runs its queries and writes its entry, exactly
  like a first visit. Flushing the cache between requests is not possible
  from outside without serialising the load, and would measure Redis.
The query-count step checks this: an uncached path that runs no SQL means
the cache was not defeated, and the report says so.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

API = "/api/v1"
CEILING = "ceiling"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    method: str = "GET"
    # Target ratio to the ceiling (issue 8); None for the ceiling itself.
    target: float | None = None
    bust: bool = False
    # A path that must not 404 for the scenario to run.
    probe: str = "/healthz"
    needs: tuple[str, ...] = ()
    paths: list[str] = field(default_factory=list, compare=False)


def _list_paths(data: dict[str, Any], rng: random.Random, count: int) -> list[str]:
    """Product list URLs: pages, categories, price ranges, stock and orderings."""
    pages = max(1, min(data.get("list_pages", 1), 50))
    categories = data.get("categories") or []
    orderings = ["price", "-price", "name", "-name", "created_at", "-created_at"]
    paths = []
    for i in range(count):
        kind = i % 5
        page = rng.randint(1, pages)
        if kind == 0:
            query = f"page={page}"
        elif kind == 1 and categories:
            query = f"category={rng.choice(categories)}"
        elif kind == 2:
            low = rng.choice([5, 10, 20, 50])
            query = f"min_price={low}&max_price={low * 4}&page={min(page, 3)}"
        elif kind == 3:
            query = f"in_stock=true&ordering={rng.choice(orderings)}&page={min(page, 5)}"
        else:
            query = f"ordering={rng.choice(orderings)}&page={page}"
        paths.append(f"{API}/products/?{query}")
    return paths


def build(data: dict[str, Any], *, seed: int = 1) -> list[Scenario]:
    """All scenarios, in the order they run, with their paths filled from `data`.

    `data` is what `django_side prepare` wrote: product slugs, category slugs,
    search words, the number of list pages; empty lists give no paths (and
    the scenario is skipped as having no data).
    """
    rng = random.Random(seed)
    slugs = list(data.get("slugs") or [])
    words = list(data.get("words") or [])
    hot_slugs = slugs[:50]
    list_probe = f"{API}/products/"
    detail_probe = f"{API}/products/{slugs[0]}/" if slugs else list_probe
    return [
        Scenario(CEILING, "ceiling: /healthz", paths=["/healthz"]),
        Scenario(
            "list_cached",
            "product list, cached",
            target=0.75,
            probe=list_probe,
            paths=_list_paths(data, rng, 40),
        ),
        Scenario(
            "list_uncached",
            "product list, uncached",
            target=0.30,
            bust=True,
            probe=list_probe,
            paths=_list_paths(data, rng, 400),
        ),
        Scenario(
            "detail_cached",
            "product detail, cached",
            target=0.75,
            probe=detail_probe,
            needs=("slugs",),
            paths=[f"{API}/products/{s}/" for s in hot_slugs],
        ),
        Scenario(
            "detail_uncached",
            "product detail, uncached",
            target=0.30,
            bust=True,
            probe=detail_probe,
            needs=("slugs",),
            paths=[f"{API}/products/{s}/" for s in slugs],
        ),
        Scenario(
            "search",
            "search, uncached",
            target=0.15,
            bust=True,
            probe=f"{API}/products/?search=a",
            needs=("words",),
            paths=[f"{API}/products/?search={w}" for w in words],
        ),
        Scenario(
            "orders",
            "order placement",
            method="POST",
            target=0.08,
            probe=f"{API}/orders/",
            needs=("tokens", "skus"),
        ),
    ]


def missing_data(scenario: Scenario, data: dict[str, Any]) -> list[str]:
    return [need for need in scenario.needs if not data.get(need)]
