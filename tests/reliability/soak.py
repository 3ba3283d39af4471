"""`make soak`: minutes of mixed traffic against a production gunicorn, then count the losses.

    python -m tests.reliability.soak --duration 300 --clients 8

Creates its own database (SOAK_DATABASE_URL, dropped and re-created), fills it
with `seed_demo`, starts gunicorn (gunicorn.conf.py, DJANGO_DEBUG=false) on a
free port and runs client threads that browse, search, register and log in,
place orders, pay them through the signed payments webhook, cancel and ship
them. Then it checks what matters: every order answered 201 exists with
exactly the lines it was answered with, every payment answered 200 is
recorded, stock equals its ledger for every variant, and nothing answered
5xx or dropped a connection. Prints requests, outcomes by kind, latency
percentiles; exits 1 if any check failed. Not part of the test suite.
"""

import argparse
import hashlib
import hmac
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "stockroom-demo"  # seed_demo's customers (it prints it too)
WORDS = ("shirt", "hoodie", "mug", "poster", "cap", "sock", "bag", "hodie", "blue", "cotton")
ADDRESS = {
    "full_name": "Soak Tester",
    "line1": "Invalidenstrasse 1",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}
SECRET = f"whsec_soak_{secrets.token_hex(8)}"
# Relative weights of what a client does next.
MIX = {
    "browse": 30,
    "search": 15,
    "register": 3,
    "login": 4,
    "order": 20,
    "pay": 12,
    "cancel": 5,
    "ship": 6,
}


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def record(self, kind: str, outcome: str, seconds: float) -> None:
        with self.lock:
            self.outcomes[(kind, outcome)] += 1
            self.latencies.setdefault(kind, []).append(seconds)


@dataclass
class Shared:
    """What the clients learned so far (orders placed, tokens), shared between threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: list[str] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # number -> the 201 body
    owners: dict[str, str] = field(default_factory=dict)  # number -> token
    paid_events: list[str] = field(default_factory=list)

    def pick_order(self) -> tuple[str, dict[str, Any], str] | None:
        with self.lock:
            if not self.orders:
                return None
            number = random.choice(list(self.orders)[-200:])  # recent ones are still moving
            return number, self.orders[number], self.owners[number]


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def _signature(body: bytes) -> str:
    t = int(time.time())
    digest = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


class Client:
    def __init__(
        self,
        *,
        server: Any,
        shared: Shared,
        stats: Stats,
        skus: list[str],
        customers: list[str],
        staff: str,
    ) -> None:
        from tests.reliability.live import call

        self.call = call
        self.server, self.shared, self.stats = server, shared, stats
        self.skus, self.customers, self.staff = skus, customers, staff
        self.token: str | None = None
        self.slugs: list[str] = []

    def request(self, kind: str, method: str, path: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            reply = self.call(self.server, method, path, timeout=30, **kwargs)
        except OSError as exc:
            self.stats.record(
                kind, f"connection {type(exc).__name__}", time.perf_counter() - started
            )
            return None
        code = ""
        if reply.status >= 400 and reply.headers.get("Content-Type", "").startswith(
            "application/json"
        ):
            code = " " + str(reply.json().get("code", ""))
        self.stats.record(kind, f"{reply.status}{code}", time.perf_counter() - started)
        return reply

    # --- actions ------------------------------------------------------------------------------

    def browse(self) -> None:
        ordering = random.choice(["price", "-price", "name", "-created_at"])
        page = random.randint(1, 5)
        reply = self.request("browse", "GET", f"/api/v1/products/?page={page}&ordering={ordering}")
        if reply is not None and reply.status == 200:
            self.slugs = [p["slug"] for p in reply.json()["results"]] or self.slugs
        if self.slugs:
            self.request("browse", "GET", f"/api/v1/products/{random.choice(self.slugs)}/")

    def search(self) -> None:
        self.request("search", "GET", f"/api/v1/products/?search={random.choice(WORDS)}")

    def register(self) -> None:
        email = f"soak-{uuid.uuid4().hex[:12]}@example.com"
        password = f"Soak-{secrets.token_hex(6)}"
        body = {"email": email, "password": password, "first_name": "Soak"}
        reply = self.request("register", "POST", "/api/v1/auth/register/", body=body)
        if reply is not None and reply.status == 201:
            self.login(email=email, password=password)

    def login(self, *, email: str = "", password: str = "") -> None:
        if not email:
            email, password = random.choice(self.customers), DEMO_PASSWORD
        body = {"email": email, "password": password}
        reply = self.request("login", "POST", "/api/v1/auth/login/", body=body)
        if reply is not None and reply.status == 200:
            self.token = reply.json()["token"]
            with self.shared.lock:
                self.shared.tokens.append(self.token)

    def order(self) -> None:
        if self.token is None:
            return self.register()
        lines = [
            {"sku": sku, "quantity": random.randint(1, 3)}
            for sku in random.sample(self.skus, random.randint(1, 3))
        ]
        body = {
            "lines": lines,
            "shipping_address": ADDRESS,
        }
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        reply = self.request(
            "order", "POST", "/api/v1/orders/", token=self.token, body=body, headers=headers
        )
        if reply is not None and reply.status == 201:
            placed = reply.json()
            with self.shared.lock:
                self.shared.orders[placed["number"]] = placed
                self.shared.owners[placed["number"]] = self.token
        return None

    def pay(self) -> None:
        picked = self.shared.pick_order()
        if picked is None:
            return
        number, order, _owner = picked
        event_id = f"evt_{uuid.uuid4().hex}"
        body = json.dumps(
            {
                "id": event_id,
                "type": "payment.succeeded",
                "data": {"order_number": number, "amount": order["total"], "currency": "EUR"},
            }
        ).encode()
        reply = self.request(
            "pay",
            "POST",
            "/api/v1/payments/webhook/",
            body=body,
            headers={"Payment-Signature": _signature(body)},
        )
        if reply is not None and reply.status == 200:
            with self.shared.lock:
                self.shared.paid_events.append(event_id)

    def cancel(self) -> None:
        picked = self.shared.pick_order()
        if picked is not None:
            number, _order, owner = picked
            self.request("cancel", "POST", f"/api/v1/orders/{number}/cancel/", token=owner)

    def ship(self) -> None:
        picked = self.shared.pick_order()
        if picked is not None:
            number = picked[0]
            body = {"tracking_number": f"TRK{random.randint(10**6, 10**7)}"}
            path = f"/api/v1/orders/{number}/ship/"
            self.request("ship", "POST", path, token=self.staff, body=body)

    def run(self, until: float) -> None:
        actions = list(MIX)
        weights = list(MIX.values())
        while time.monotonic() < until:
            getattr(self, random.choices(actions, weights)[0])()


def _recreate_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _manage(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")


def _check(shared: Shared, stats: Stats) -> list[str]:
    """What was lost or broken; an empty list means nothing."""
    from django.db.models import F, Sum

    from catalog.models import Variant
    from orders.models import Order, PaymentEvent

    problems: list[str] = []
    stored = {
        o.number: sorted((line.sku, line.quantity) for line in o.lines.all())
        for o in Order.objects.filter(number__in=list(shared.orders)).prefetch_related("lines")
    }
    for number, body in shared.orders.items():
        answered = sorted((line["sku"], line["quantity"]) for line in body["lines"])
        if number not in stored:
            problems.append(f"order {number} answered 201 is missing")
        elif stored[number] != answered or not answered:
            problems.append(f"order {number} has lines {stored[number]}, answered {answered}")
    recorded = set(
        PaymentEvent.objects.filter(event_id__in=shared.paid_events).values_list(
            "event_id", flat=True
        )
    )
    problems += [
        f"payment {e} answered 200 is not recorded" for e in shared.paid_events if e not in recorded
    ]
    drifted = list(
        Variant.objects.annotate(ledger=Sum("movements__delta"))
        .exclude(stock=F("ledger"))
        .values_list("sku", "stock", "ledger")
    )
    problems += [f"variant {sku}: stock {s} but ledger {led}" for sku, s, led in drifted]
    problems += [
        f"{n} x {kind} answered {outcome}"
        for (kind, outcome), n in stats.outcomes.items()
        if outcome.startswith(("5", "connection"))
    ]
    return problems


def _report(stats: Stats, seconds: float, clients: int, problems: list[str]) -> None:
    total = sum(stats.outcomes.values())
    every = [x for values in stats.latencies.values() for x in values]
    print(
        f"\nSoak: {total} requests in {seconds:.0f} s from {clients} clients "
        f"({total / seconds:.1f} req/s); load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"latency all: p50 {_percentile(every, 50) * 1000:.0f} ms, "
        f"p95 {_percentile(every, 95) * 1000:.0f} ms, p99 {_percentile(every, 99) * 1000:.0f} ms"
    )
    print(f"{'kind':<10}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}  outcomes")
    for kind in MIX:
        values = stats.latencies.get(kind, [])
        outcomes = ", ".join(
            f"{outcome}: {n}" for (k, outcome), n in sorted(stats.outcomes.items()) if k == kind
        )
        print(
            f"{kind:<10}{len(values):>9}{_percentile(values, 50) * 1000:>9.0f}"
            f"{_percentile(values, 99) * 1000:>9.0f}  {outcomes}"
        )
    errors = Counter(
        outcome
        for (_kind, outcome), n in stats.outcomes.items()
        for _ in range(n)
        if not outcome.startswith("2")
    )
    print(
        "non-2xx by kind of error: "
        + (", ".join(f"{o}: {n}" for o, n in errors.most_common()) or "none")
    )
    if problems:
        print(f"\nFAILED: {len(problems)} problems")
        for problem in problems[:50]:
            print(f"  {problem}")
    else:
        print(
            "\nNothing lost: every 201 order exists with its lines, every 200 payment is "
            "recorded, stock equals ledger for every variant, no 5xx, no dropped connection."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds of traffic")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "SOAK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/stockroom_soak"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/13")
    )
    args = parser.parse_args(argv)

    os.environ["DATABASE_URL"] = args.database_url
    os.environ["REDIS_URL"] = args.redis_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from knox.models import AuthToken

    from accounts.models import User
    from catalog.models import Variant
    from tests.foundation.procs import production_env
    from tests.reliability.live import Gunicorn

    print(f"Preparing {args.database_url} ...", flush=True)
    _recreate_database(args.database_url)
    env = production_env(DATABASE_URL=args.database_url, REDIS_URL=args.redis_url)
    _manage("migrate", "--noinput", env=env)
    _manage(
        "seed_demo",
        "--products",
        str(args.products),
        "--customers",
        "20",
        "--orders",
        "200",
        "--seed",
        "9",
        env=env,
    )
    staff = User.objects.create_user(
        email=f"soak-staff-{uuid.uuid4().hex[:6]}@example.com",
        password=secrets.token_urlsafe(16),
        is_staff=True,
        is_superuser=True,
    )
    staff_token = AuthToken.objects.create(user=staff)[1]
    skus = list(
        Variant.objects.filter(product__is_published=True, stock__gt=0).values_list(
            "sku", flat=True
        )
    )

    customers = list(
        User.objects.filter(is_staff=False, is_active=True).values_list("email", flat=True)
    )
    log_dir = Path(tempfile.mkdtemp(prefix="stockroom-soak-"))
    server = Gunicorn(
        log_dir=log_dir,
        workers=int(os.environ.get("WEB_CONCURRENCY", "3")),
        threads=4,
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        PAYMENT_WEBHOOK_SECRET=SECRET,
    ).start()
    shared, stats = Shared(), Stats()
    print(
        f"gunicorn on {server.base} (log {server.log_path}); {args.clients} clients for "
        f"{args.duration:.0f} s ...",
        flush=True,
    )
    started = time.monotonic()
    until = started + args.duration
    threads = [
        threading.Thread(
            target=Client(
                server=server,
                shared=shared,
                stats=stats,
                skus=skus,
                customers=customers,
                staff=staff_token,
            ).run,
            args=(until,),
        )
        for _ in range(args.clients)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.stop()
    elapsed = time.monotonic() - started
    problems = _check(shared, stats)
    from django.db import connection

    connection.close_pool()  # type: ignore[attr-defined]  # PostgreSQL backend only
    _report(stats, elapsed, args.clients, problems)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
