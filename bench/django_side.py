"""The parts of the bench that run inside Django, in a process of their own.

    python -m bench.django_side   (commands as JSON lines on stdin, see serve())

Started by bench/run.py with the same environment as the server (production
settings, the bench database and Redis).

`prepare` reads what the load scripts need from the seeded data (slugs,
categories, search words, customer emails) and makes stock plentiful for the
SKUs the order scenario buys, through catalog.services (so the ledger stays
true). `queries` counts the SQL of each scenario's requests with Django's
test client and CaptureQueriesContext: same settings, middleware and
database as gunicorn, one request at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
from collections import Counter
from typing import Any

PLENTY = 1_000_000
# The order scenarios ship with this method (prepare creates it with German
# tax rates and a promotion, so every order is taxed, shipped and discounted).
BENCH_SHIPPING_METHOD = "bench-dhl"
WORD = re.compile(r"[A-Za-z]{4,}")


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django

    django.setup()


def prepare(*, skus: int, customers: int, seed: int) -> dict[str, Any]:
    from django.apps import apps
    from django.contrib.auth import get_user_model

    rng = random.Random(seed)
    data: dict[str, Any] = {}
    if not apps.is_installed("catalog"):
        return data
    product_model = apps.get_model("catalog", "Product")
    variant_model = apps.get_model("catalog", "Variant")
    published = product_model.objects.filter(is_published=True)
    count = published.count()
    data["published_products"] = count
    data["list_pages"] = max(1, (count + 19) // 20)
    slugs = list(published.values_list("slug", flat=True))
    rng.shuffle(slugs)
    data["slugs"] = slugs[:30_000]
    data["categories"] = sorted(
        set(published.values_list("category__slug", flat=True).distinct()[:200])
    )
    names = published.order_by("?").values_list("name", flat=True)[:2000]
    counts = Counter(w.lower() for name in names for w in WORD.findall(name))
    data["words"] = [w for w, _ in counts.most_common(200)]
    data["variants"] = variant_model.objects.count()

    chosen = list(variant_model.objects.filter(product__is_published=True).order_by("?")[:skus])
    data["skus"] = [v.sku for v in chosen]
    topped = _top_up(chosen)
    data["stock_topped_up"] = topped
    data["pricing"] = _pricing_rules()

    user_model = get_user_model()
    emails = user_model.objects.filter(is_staff=False, is_active=True).order_by("pk")
    data["customer_emails"] = list(emails.values_list("email", flat=True)[:customers])
    data.update(_admin_data(rng=rng))
    return data


BENCH_STAFF_EMAIL = "bench-admin@example.com"


def _admin_data(*, rng: random.Random) -> dict[str, Any]:
    """A logged-in superuser's session cookie, and what the admin scenarios look up.

    The session is made as Django's login makes it (same secret key and
    backend as the server), so every admin request is a staff member's.
    """
    from django.apps import apps
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    if not (apps.is_installed("orders") and apps.is_installed("catalog")):
        return {}
    user_model = get_user_model()
    staff = user_model.objects.filter(email=BENCH_STAFF_EMAIL).first()
    if staff is None:
        staff = user_model.objects.create_superuser(email=BENCH_STAFF_EMAIL, password=None)
    session = SessionStore()
    session[SESSION_KEY] = str(staff.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = staff.get_session_auth_hash()
    session.create()
    order_model = apps.get_model("orders", "Order")
    variant_model = apps.get_model("catalog", "Variant")
    movement_model = apps.get_model("catalog", "StockMovement")
    last = order_model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    # Orders anywhere in the table (ids are dense: seed_demo and the bulk copies).
    order_ids = sorted({rng.randint(1, last) for _ in range(400)}) if last else []
    order_ids = list(order_model.objects.filter(pk__in=order_ids).values_list("pk", flat=True))
    customers = list(
        user_model.objects.filter(is_staff=False).order_by("?").values_list("email", flat=True)[:60]
    )
    skus = list(variant_model.objects.order_by("?").values_list("sku", flat=True)[:60])
    numbers = list(
        movement_model.objects.exclude(order_number="")
        .order_by("-pk")
        .values_list("order_number", flat=True)[:2000:40]
    )
    return {
        "admin_cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
        "admin_order_ids": order_ids[:300],
        # A part of the local part ("hicks52" of jessica.hicks52@...), as staff type it.
        "admin_emails": [e.split("@")[0].split(".")[-1] for e in customers],
        # SKU starts: a product's SKUs (DEMO-001463), or one variant's (DEMO-001463-3).
        "admin_skus": [sku.rsplit("-", 1)[0] if i % 2 else sku for i, sku in enumerate(skus)],
        "admin_order_numbers": numbers,
        "admin_statuses": ["pending_payment", "paid", "shipped", "delivered", "cancelled"],
        "orders_total": order_model.objects.count(),
        "movements_total": movement_model.objects.count(),
    }


def _top_up(variants: list) -> int:
    """Plenty of stock for the order scenario, through the catalog service (ledger rows)."""
    try:
        from catalog.services import stock_adjust
    except ImportError:
        return 0
    done = 0
    for variant in variants:
        if variant.stock < PLENTY:
            stock_adjust(variant=variant, delta=PLENTY - variant.stock, reason="bench: plenty")
            done += 1
    return done


def _pricing_rules() -> str:
    """German VAT, a flat-rate method for Germany and a 5 % promotion, once per database."""
    from django.apps import apps

    if not apps.is_installed("pricing"):
        return "none"
    from decimal import Decimal

    tax_rate = apps.get_model("pricing", "TaxRate")
    tax_class = apps.get_model("pricing", "TaxClass")
    for code, rate in (("standard", "19.00"), ("reduced", "7.00")):
        tax_rate.objects.get_or_create(
            country="DE",
            tax_class=tax_class.objects.get(code=code),
            defaults={"rate": Decimal(rate)},
        )
    apps.get_model("pricing", "ShippingMethod").objects.get_or_create(
        code=BENCH_SHIPPING_METHOD,
        defaults={"name": "DHL Paket", "countries": ["DE"], "price": Decimal("4.90")},
    )
    apps.get_model("pricing", "Promotion").objects.get_or_create(
        name="bench: 5 % off everything",
        defaults={"kind": "percentage", "value": Decimal("5.00")},
    )
    return "DE 19 %/7 %, bench-dhl 4.90, 5 % promotion"


def count_queries(requests: list[dict[str, Any]]) -> dict[str, Any]:
    """SQL queries per request: the median over the sample, with statuses seen."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    counts: list[int] = []
    statuses: Counter[str] = Counter()
    sample_sql: list[str] = []
    slowest: dict[str, Any] = {"ms": -1.0}
    for req in requests:
        headers = req.get("headers") or {}
        if req.get("invalidate"):
            invalidate()
        if req.get("prime"):
            client.generic(req["method"], req["path"], headers=headers)
        with CaptureQueriesContext(connection) as ctx:
            if req["method"] == "POST":
                response = client.post(
                    req["path"],
                    data=json.dumps(req["body"]),
                    content_type="application/json",
                    headers=headers,
                )
            else:
                response = client.get(req["path"], headers=headers)
        counts.append(len(ctx.captured_queries))
        statuses[str(response.status_code)] += 1
        if not sample_sql:
            sample_sql = [q["sql"][:300] for q in ctx.captured_queries]
        for query in ctx.captured_queries:
            ms = float(query.get("time") or 0) * 1000
            if ms > slowest["ms"]:
                slowest = {"ms": round(ms, 2), "path": req["path"], "sql": query["sql"]}
    if slowest["ms"] >= 0 and slowest["sql"].lstrip().upper().startswith("SELECT"):
        slowest["plan"] = _explain(slowest["sql"])
    return {
        "queries_median": statistics.median(counts) if counts else None,
        "queries_max": max(counts) if counts else None,
        "statuses": dict(statuses),
        "sample_sql": sample_sql,
        "slowest_sql": slowest if slowest["ms"] >= 0 else None,
    }


def _explain(sql: str) -> str:
    """EXPLAIN ANALYZE of a captured query (it is already interpolated by the backend)."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            return "\n".join(row[0] for row in cursor.fetchall())
    except Exception as exc:  # noqa: BLE001 - a plan is a hint, never a failure
        return f"EXPLAIN failed: {exc}"


def invalidate() -> bool:
    """Make every cached catalog response unreachable (catalog.cache's public interface)."""
    try:
        from catalog.cache import invalidate as catalog_invalidate
    except ImportError:
        return False
    catalog_invalidate()
    return True


REPLY = "BENCH_REPLY "


def bulk_stock(*, items: int, rounds: int) -> dict[str, Any]:
    """Time catalog.bulk.stock_bulk_apply on `items` SKUs (half `set_to`, half `delta`).

    Each round is one call (its own transaction, locks and ledger rows), as
    POST stock/bulk-adjustments/ runs it; the stock only grows, the ledger
    stays true. Returns the median and slowest round in milliseconds.
    """
    import time

    from django.apps import apps

    if not apps.is_installed("catalog"):
        return {}
    from catalog.bulk import BulkItem, stock_bulk_apply

    variant_model = apps.get_model("catalog", "Variant")
    rows = list(variant_model.objects.order_by("pk").values_list("sku", "stock")[:items])
    if not rows:
        return {}
    timings = []
    for round_number in range(rounds):
        batch = [
            BulkItem(sku=sku, set_to=stock + round_number + 1)
            if index % 2
            else BulkItem(sku=sku, delta=1)
            for index, (sku, stock) in enumerate(rows)
        ]
        started = time.perf_counter()
        stock_bulk_apply(items=batch, reason="bench: bulk stock")
        timings.append((time.perf_counter() - started) * 1000)
        rows = list(variant_model.objects.order_by("pk").values_list("sku", "stock")[:items])
    return {
        "items": len(rows),
        "rounds": rounds,
        "median_ms": round(statistics.median(timings), 1),
        "max_ms": round(max(timings), 1),
    }


def serve() -> None:
    """Answer one JSON command per stdin line with one `BENCH_REPLY <json>` stdout line.

    One long-lived process, so that the driver does not pay Django's start-up
    for every cache invalidation; other stdout lines (Django's JSON logs) are
    ignored by the driver.
    """
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            name = command.pop("command")
            if name == "prepare":
                result: Any = prepare(**command)
            elif name == "bulk_stock":
                result = bulk_stock(**command)
            elif name == "invalidate":
                result = invalidate()
            elif name == "queries":
                result = {
                    scenario: count_queries(reqs) for scenario, reqs in command["plan"].items()
                }
            else:
                raise ValueError(f"unknown command {name!r}")
            reply = {"ok": True, "result": result}
        except Exception as exc:  # noqa: BLE001 - reported to the driver, which stops
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(REPLY + json.dumps(reply) + "\n")
        sys.stdout.flush()


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="bench.django_side", description=__doc__).parse_args(argv)
    _setup()
    try:
        serve()
    finally:
        _close_pools()
    return 0


def _close_pools() -> None:
    """Stop the psycopg pool's threads now: left to the interpreter, exit waits 5 s per thread."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()
        close_pool = getattr(conn, "close_pool", None)
        if close_pool is not None:
            close_pool()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
