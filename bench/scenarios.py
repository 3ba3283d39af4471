"""What the bench measures: one scenario per endpoint, each a ratio to the ceiling.

A scenario is a list of request paths that wrk rotates through (so pages,
filters, slugs and search words vary), or the order-placement script. The
paths come from the seeded data (bench/django_side.py `prepare`).

Cached versus uncached. catalog.api.response_cache keys a response by its path and the
*known* query parameters (normalised), under a generation counter that every
catalog write bumps. An unknown no-op parameter (`?_=N`) is therefore not in
the key and cannot defeat the cache, and flushing it per request would
measure Redis, not Stockroom. So:
- a *cached* scenario rotates through a small fixed set of paths, requested
  once just before its run, so every measured request is a hit;
- an *uncached* scenario is a first visit every time: a large pool of
  distinct real URLs (pages x filters x orderings, every slug, search words
  x pages), the catalog cache invalidated once before the run (its public
  `catalog.cache.invalidate()`, as any catalog write does), and the pool
  larger than the requests of one run, so no path is asked for twice. Each
  request misses, runs its queries and stores its entry, as a real miss does.
  wrk counts the X-Cache header of every response, and the report shows
  the share of hits (it should be 0).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

API = "/api/v1"
CEILING = "ceiling"
# A plain view behind every middleware (bench/urls.py): shown, not judged.
PLAIN = "plain"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    method: str = "GET"
    # Target ratio to the ceiling (issue 8); None for the ceiling itself.
    target: float | None = None
    # Uncached: invalidate before the run, count X-Cache hits during it.
    fresh: bool = False
    # A path that must not 404 for the scenario to run.
    probe: str = "/healthz"
    needs: tuple[str, ...] = ()
    paths: list[str] = field(default_factory=list, compare=False)
    # Sent as the Cookie header: the admin scenarios run as a logged-in staff member.
    cookie: str = ""


ORDERINGS = ["", "price", "-price", "name", "-name", "created_at", "-created_at"]


def _query(**params: object) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items() if v not in (None, ""))


def _list_path(data: dict[str, Any], rng: random.Random) -> str:
    """One product-list URL as a shopper makes them.

    Only unfiltered lists go past page 1 (a filtered list may have a single
    page, and a page past the end is a 404); filters vary by category, a price
    range (any whole numbers, as a price slider sends), stock and ordering.
    """
    pages = max(1, min(int(data.get("list_pages", 1)), 100))
    categories = data.get("categories") or []
    kind = rng.random()
    ordering = rng.choice(ORDERINGS)
    if kind < 0.3:
        return f"{API}/products/?" + _query(
            ordering=ordering, page=min(pages, 1 + int(rng.expovariate(1 / 8)))
        )
    low = rng.randint(1, 150)
    if kind < 0.55 and categories:
        query = _query(category=rng.choice(categories), ordering=ordering,
                       in_stock=rng.choice(["", "true"]))  # fmt: skip
    elif kind < 0.8 and categories:
        query = _query(category=rng.choice(categories), min_price=low,
                       max_price=low + rng.randint(5, 300), ordering=ordering)  # fmt: skip
    else:
        query = _query(min_price=low, max_price=low + rng.randint(5, 300),
                       in_stock=rng.choice(["", "true"]), ordering=ordering)  # fmt: skip
    return f"{API}/products/?{query}"


def _distinct(make: Any, count: int) -> list[str]:
    seen: dict[str, None] = {}
    for _ in range(count * 4):
        if len(seen) >= count:
            break
        seen.setdefault(make(), None)
    return list(seen)


def _list_paths(data: dict[str, Any], rng: random.Random, count: int) -> list[str]:
    return _distinct(lambda: _list_path(data, rng), count)


def _typo(word: str, rng: random.Random) -> str:
    """`word` with one typo past its first letter: a letter dropped, doubled or swapped."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _search_paths(
    words: list[str], categories: list[str], rng: random.Random, count: int
) -> list[str]:
    """Distinct searches: one word, two words, or one word with a typo; sometimes within a
    category or ordered by price."""
    if not words:
        return []

    def make() -> str:
        term = rng.choice(words)
        kind = rng.random()
        if kind < 1 / 3:
            term = f"{term}+{rng.choice(words)}"
        elif kind < 2 / 3 and len(term) > 3:
            term = _typo(term, rng)
        category = rng.choice(categories) if categories and rng.random() < 0.2 else ""
        ordering = rng.choice(["", "", "", "price", "-created_at"])
        return f"{API}/products/?" + _query(search=term, category=category, ordering=ordering)

    return _distinct(make, count)


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
    # Enough distinct paths that one uncached run never repeats one.
    pool = max(1000, int(data.get("fresh_pool", 20_000)))
    list_probe = f"{API}/products/"
    detail_probe = f"{API}/products/{slugs[0]}/" if slugs else list_probe
    return [
        Scenario(CEILING, "ceiling: /healthz", paths=["/healthz"]),
        Scenario(
            PLAIN,
            "reference: plain view, every middleware",
            probe="/bench/plain",
            paths=["/bench/plain"],
        ),
        Scenario(
            "list_cached",
            "product list, cached",
            target=0.75,
            probe=list_probe,
            paths=_list_paths(data, random.Random(seed + 1), 40),
        ),
        Scenario(
            "list_uncached",
            "product list, uncached",
            target=0.30,
            fresh=True,
            probe=list_probe,
            paths=_list_paths(data, rng, pool),
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
            fresh=True,
            probe=detail_probe,
            needs=("slugs",),
            paths=[f"{API}/products/{s}/" for s in slugs],
        ),
        Scenario(
            "search",
            "search, uncached",
            target=0.15,
            fresh=True,
            probe=f"{API}/products/?search=a",
            needs=("words",),
            paths=_search_paths(words, list(data.get("categories") or []), rng, pool),
        ),
        Scenario(
            "orders",
            "order placement",
            method="POST",
            target=0.08,
            probe=f"{API}/orders/",
            needs=("tokens", "skus"),
        ),
        Scenario(
            "quote",
            "order quote (priced, nothing taken)",
            method="POST",
            target=0.15,
            probe=f"{API}/orders/quote/",
            needs=("tokens", "skus"),
        ),
        *admin_scenarios(data, random.Random(seed + 2)),
    ]


ADMIN = "/admin"
ADMIN_TARGET = 0.02


def admin_scenarios(data: dict[str, Any], rng: random.Random) -> list[Scenario]:
    """The back office at size, as a logged-in superuser (issue 21).

    Each rotates through real lookups: statuses, parts of customers' emails,
    SKU starts, order numbers, order pages spread over the whole table. The
    dashboard's figures are cached for a minute; its scenario asks a bench-only
    route that drops them first (bench/urls.py), so every request computes them.
    """
    cookie = str(data.get("admin_cookie") or "")
    emails = list(data.get("admin_emails") or [])
    skus = list(data.get("admin_skus") or [])
    words = list(data.get("words") or [])[:60]
    numbers = list(data.get("admin_order_numbers") or [])
    statuses = list(data.get("admin_statuses") or [])
    orders = f"{ADMIN}/orders/order/"
    deep_page = max(1, min(500, int(data.get("orders_total") or 0) // 50))
    products = f"{ADMIN}/catalog/product/"
    variants = f"{ADMIN}/catalog/variant/"
    movements = f"{ADMIN}/catalog/stockmovement/"

    def scenario(name: str, title: str, paths: list[str], probe: str) -> Scenario:
        return Scenario(
            name,
            title,
            target=ADMIN_TARGET,
            probe=probe,
            needs=("admin_cookie",),
            paths=paths,
            cookie=cookie,
        )

    def mixed(first: list[str], second: list[str]) -> list[str]:
        both = [*first, *second]
        rng.shuffle(both)
        return both

    return [
        scenario("admin_orders", "admin: order list, first page", [orders], orders),
        scenario(
            "admin_orders_status",
            "admin: order list, status filter",
            [f"{orders}?status__exact={s}" for s in statuses]
            + [f"{orders}?status__exact={s}&p=2" for s in statuses],
            orders,
        ),
        scenario(
            "admin_orders_email",
            "admin: order list, search by email",
            [f"{orders}?q={e}" for e in emails],
            orders,
        ),
        scenario(
            "admin_orders_p500",
            # 200,000 orders have 4,000 pages of 50; 20,000 only 400: their last.
            f"admin: order list, page {deep_page}",
            [f"{orders}?p={deep_page}"],
            orders,
        ),
        scenario(
            "admin_order_page",
            "admin: order page",
            [f"{orders}{pk}/change/" for pk in data.get("admin_order_ids") or []],
            orders,
        ),
        scenario(
            "admin_products_search",
            "admin: product list, search",
            mixed([f"{products}?q={w}" for w in words], [f"{products}?q={s}" for s in skus[:20]]),
            products,
        ),
        scenario(
            "admin_variants_search",
            "admin: variant list, search",
            mixed([f"{variants}?q={s}" for s in skus], [f"{variants}?q={w}" for w in words[:30]]),
            variants,
        ),
        scenario(
            "admin_movements_search",
            "admin: stock-movement search",
            mixed([f"{movements}?q={n}" for n in numbers], [f"{movements}?q={s}" for s in skus]),
            movements,
        ),
        scenario(
            "admin_dashboard",
            "admin: dashboard, uncached",
            ["/bench/admin-dashboard-uncached"],
            "/bench/admin-dashboard-uncached",
        ),
    ]


def missing_data(scenario: Scenario, data: dict[str, Any]) -> list[str]:
    return [need for need in scenario.needs if not data.get(need)]
