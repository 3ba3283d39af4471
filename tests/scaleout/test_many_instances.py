"""Two web instances, two Celery workers and beat on one PostgreSQL and one Redis agree.

Mixed traffic (browsing, orders with Idempotency-Keys, payments, cancels,
log-ins, catalog and stock writes) goes through both instances at once;
meanwhile a second beat starts (a rolling deploy) and the first is killed and
started again from its schedule file (a restarted container). Then:
- every order answered exists once, with its lines; every key made one order,
  also when its retry went to the other instance; stock equals its ledger;
- every outbox event reached each webhook endpoint exactly once, every email
  left exactly once (counted at the receiver and in the mail files);
- each scheduled task ran at most once per period, however many beats sent it;
  the orders it expired were cancelled, and their stock returned, once;
- a password-reset throttle and the log-in lockout count requests of both
  instances together;
- a catalog write on one instance shows at once in the other's cached reads.
"""

import itertools
import json
import random
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.db.models import F, Sum
from knox.models import AuthToken

from accounts.models import User
from catalog.models import StockMovement, Variant
from emails.models import EmailKind, EmailStatus, OutgoingEmail
from orders.models import Order, OrderStatus
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import ProductFactory, VariantFactory
from tests.reliability.live import Gunicorn, Load, Reply, call
from tests.scaleout.deployment import WEBHOOK_SECRET, Deployment
from tests.webhooks.factories import EndpointFactory
from tests.webhooks.receiver import Receiver
from webhooks.models import Delivery, DeliveryStatus, Event
from webhooks.services import signature_header

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ORDER_EVENTS = ["order.placed", "order.paid", "order.cancelled"]
PERIOD = 3.0  # seconds between runs of each scheduled interval task, in this deployment
TRAFFIC_SECONDS = 16
PASSWORD = "Scale-out-pass-1"
ADDRESS = {
    "full_name": "Grace Hopper",
    "line1": "Invalidenstrasse 1",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}


def header(reply: Reply, name: str) -> str | None:
    return next((v for k, v in reply.headers.items() if k.lower() == name.lower()), None)


@dataclass
class Ledger:
    """What the clients sent and were answered, shared by their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[tuple[str, int | None]] = field(default_factory=Counter)
    # Idempotency-Key -> every order number a 201 answered with it (fresh or replayed).
    numbers_by_key: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    fresh_by_key: Counter[str] = field(default_factory=Counter)
    lines: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    orders_by_token: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    cross_instance_retries: Counter[str] = field(default_factory=Counter)
    catalog_checks: Counter[str] = field(default_factory=Counter)
    raced: set[str] = field(default_factory=set)

    def send(self, kind: str, web: Gunicorn, method: str, path: str, **kwargs: Any) -> Reply:
        reply = call(web, method, path, timeout=30, **kwargs)
        with self.lock:
            self.requests[(kind, reply.status)] += 1
        return reply

    def post_until_answered(
        self, kind: str, webs: list[Gunicorn], path: str, **kwargs: Any
    ) -> Reply:
        """POST with an Idempotency-Key as a client does: no answer (a timeout on a loaded
        machine) or 409 `idempotency_in_progress` means try the same key again, on the
        next instance. Returns the first other answer."""
        for attempt in range(10):
            try:
                reply = self.send(kind, webs[attempt % len(webs)], "POST", path, **kwargs)
            except OSError:
                with self.lock:
                    self.requests[(kind, None)] += 1
                continue
            if reply.status != 409 or reply.json()["code"] != "idempotency_in_progress":
                return reply
            time.sleep(0.1)
        raise AssertionError(f"no answer to {path} in 10 attempts")

    def answered(self, key: str, reply: Reply, *, token: str) -> None:
        body = reply.json()
        replayed = header(reply, "Idempotent-Replayed") == "true"
        with self.lock:
            self.numbers_by_key[key].add(body["number"])
            if not replayed:
                self.fresh_by_key[key] += 1
                self.lines[body["number"]] = sorted(
                    (x["sku"], x["quantity"]) for x in body["lines"]
                )
                self.orders_by_token[token].append(body["number"])


class Shop:
    """The clients' steps (each returns the HTTP status of its main request)."""

    def __init__(
        self, *, webs: list[Gunicorn], ledger: Ledger, skus: list[str], slugs: list[str]
    ) -> None:
        self.webs, self.ledger, self.skus, self.slugs = webs, ledger, skus, slugs

    def web(self, n: int) -> Gunicorn:
        return self.webs[n % len(self.webs)]

    def rotated(self, n: int) -> list[Gunicorn]:
        """The instances, starting with the nth (a load balancer's round robin)."""
        return [self.web(n + i) for i in range(len(self.webs))]

    def browse(self, n: int) -> int:
        reply = self.ledger.send("browse", self.web(n), "GET", "/api/v1/products/?ordering=name")
        self.ledger.send("browse", self.web(n + 1), "GET", f"/api/v1/products/{self.slugs[n % 4]}/")
        return reply.status

    def place(self, n: int, *, token: str) -> Reply:
        key = uuid.uuid4().hex
        lines = [
            {"sku": sku, "quantity": random.randint(1, 2)} for sku in random.sample(self.skus, 2)
        ]
        body = {"lines": lines, "shipping_address": ADDRESS}
        kwargs: dict[str, Any] = {"token": token, "body": body, "headers": {"Idempotency-Key": key}}
        path = "/api/v1/orders/"
        reply = self.ledger.post_until_answered("order", self.rotated(n), path, **kwargs)
        if reply.status == 201:
            self.ledger.answered(key, reply, token=token)
            if n % 3 == 0:
                # The answer was lost on its way to the client: it retries, and the load
                # balancer sends the retry to the other instance.
                retry = self.ledger.post_until_answered(
                    "order retry", self.rotated(n + 1), path, **kwargs
                )
                same = retry.status == 201 and retry.json()["number"] == reply.json()["number"]
                replayed = header(retry, "Idempotent-Replayed") == "true"
                outcome = "replayed" if same and replayed else f"{retry.status} {retry.body[:80]!r}"
                with self.ledger.lock:
                    self.ledger.cross_instance_retries[outcome] += 1
                if retry.status == 201:
                    self.ledger.answered(key, retry, token=token)
        return reply

    def shopper(self, token: str) -> Any:
        def step(n: int) -> int:
            reply = self.place(n, token=token)
            if reply.status == 201 and n % 4 == 1:
                self.pay(n, reply.json())
            elif reply.status == 201 and n % 4 == 2:
                number = reply.json()["number"]
                path = f"/api/v1/orders/{number}/cancel/"
                self.ledger.send("cancel", self.web(n + 1), "POST", path, token=token)
            return reply.status

        return step

    def pay(self, n: int, order: dict[str, Any]) -> None:
        payload = {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "payment.succeeded",
            "data": {"order_number": order["number"], "amount": order["total"], "currency": "EUR"},
        }
        body = json.dumps(payload).encode()
        signature = signature_header(secret=WEBHOOK_SECRET, body=body, timestamp=int(time.time()))
        headers = {"Payment-Signature": signature}
        path = "/api/v1/payments/webhook/"
        self.ledger.send("pay", self.web(n + 1), "POST", path, body=body, headers=headers)

    def racer(self, token: str) -> Any:
        """One key sent to both instances at the same moment: one order, whoever wins."""

        def step(n: int) -> int:
            key = uuid.uuid4().hex
            with self.ledger.lock:
                self.ledger.raced.add(key)
            body = {
                "lines": [{"sku": self.skus[n % len(self.skus)], "quantity": 1}],
                "shipping_address": ADDRESS,
            }
            kwargs: dict[str, Any] = {
                "token": token,
                "body": body,
                "headers": {"Idempotency-Key": key},
            }
            barrier = threading.Barrier(2)
            replies: list[Reply] = []

            def send(first: int) -> None:
                barrier.wait()
                path = "/api/v1/orders/"
                replies.append(
                    self.ledger.post_until_answered(
                        "order race", self.rotated(first), path, **kwargs
                    )
                )

            both = [threading.Thread(target=send, args=(first,)) for first in (0, 1)]
            for thread in both:
                thread.start()
            for thread in both:
                thread.join()
            assert [r.status for r in replies] == [201, 201], [r.body for r in replies]
            for reply in replies:
                self.ledger.answered(key, reply, token=token)
            return 201

        return step

    def catalog(self, staff: str) -> Any:
        """Write a product on one instance, read it at once from the other's cache."""

        def step(n: int) -> int:
            slug = self.slugs[n % len(self.slugs)]
            reader, writer = self.web(n), self.web(n + 1)
            for _ in range(2):  # the second read is served from the cache
                self.ledger.send("catalog read", reader, "GET", f"/api/v1/products/{slug}/")
                self.ledger.send("catalog read", reader, "GET", "/api/v1/products/?ordering=name")
            name = f"Renamed {n} {uuid.uuid4().hex[:6]}"
            path = f"/api/v1/products/{slug}/"
            wrote = self.ledger.send(
                "catalog write", writer, "PATCH", path, token=staff, body={"name": name}
            )
            assert wrote.status == 200, wrote.body
            detail = self.ledger.send("catalog read", reader, "GET", path)
            listed = self.ledger.send(
                "catalog read", reader, "GET", "/api/v1/products/?ordering=name"
            )
            names = {p["slug"]: p["name"] for p in listed.json()["results"]}
            with self.ledger.lock:
                self.ledger.catalog_checks[
                    "detail fresh" if detail.json()["name"] == name else "detail stale"
                ] += 1
                self.ledger.catalog_checks[
                    "list fresh" if names.get(slug) == name else "list stale"
                ] += 1
            return wrote.status

        return step

    def restock(self, staff: str) -> Any:
        def step(n: int) -> int:
            path = f"/api/v1/variants/{self.skus[n % len(self.skus)]}/stock-adjustments/"
            body = {"delta": 3, "reason": "delivery from the supplier"}
            return self.ledger.send(
                "restock", self.web(n), "POST", path, token=staff, body=body
            ).status

        return step

    def login(self, email: str) -> Any:
        def step(n: int) -> int:
            body = {"email": email, "password": PASSWORD}
            return self.ledger.send(
                "login", self.web(n), "POST", "/api/v1/auth/login/", body=body
            ).status

        return step


def paced(step: Callable[[int], int]) -> Callable[[int], int]:
    """A client, not a load generator: a pause after each step."""

    def paced_step(n: int) -> int:
        status = step(n)
        time.sleep(random.uniform(0.2, 0.5))
        return status

    return paced_step


def _json_lines(text: str) -> list[dict[str, Any]]:
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def _unsettled(*, expired: list[str]) -> dict[str, Any]:
    """What is left for the workers: orders past their payment time (for the scheduled
    expiry), emails to send, events to dispatch and deliver."""
    left: dict[str, Any] = {
        "expired orders": Order.objects.filter(
            number__in=expired, status=OrderStatus.PENDING_PAYMENT
        ).count(),
        "emails": OutgoingEmail.objects.filter(status=EmailStatus.PENDING).count(),
        "events": Event.objects.filter(dispatched_at__isnull=True).count(),
        "deliveries": Delivery.objects.filter(status=DeliveryStatus.PENDING).count(),
    }
    if left["deliveries"]:
        pending = Delivery.objects.filter(status=DeliveryStatus.PENDING)
        left["deliveries by attempts and error"] = Counter(
            pending.values_list("attempt_count", "last_status_code", "last_error")
        )
    connection.close()  # the next look sees the workers' latest commits
    return {what: n for what, n in left.items() if n}


def test_two_instances_two_workers_and_restarted_beats_agree(tmp_path):
    started = time.monotonic()
    # --- The shop, seeded before any process starts (their events have no endpoint yet).
    variants = [
        VariantFactory(product=ProductFactory(), price=Decimal("12.50"), stock=500)
        for _ in range(6)
    ]
    skus = [v.sku for v in variants]
    slugs = [v.product.slug for v in variants]
    password = make_password(PASSWORD, hasher="argon2")
    staff = StaffFactory(is_superuser=True)
    shoppers = [UserFactory() for _ in range(4)]
    late_payer, victim, forgetful = UserFactory(), UserFactory(), UserFactory()
    User.objects.filter(pk__in=[late_payer.pk, victim.pk, forgetful.pk, shoppers[0].pk]).update(
        password=password
    )
    tokens = {u.pk: AuthToken.objects.create(user=u)[1] for u in [staff, late_payer, *shoppers]}
    seeded_events = set(Event.objects.values_list("pk", flat=True))

    deployment = Deployment(log_dir=tmp_path, period=PERIOD)
    ledger = Ledger()
    with Receiver() as receiver:
        endpoints = [
            EndpointFactory(url=receiver.url("/a")),
            EndpointFactory(url=receiver.url("/b"), event_types=ORDER_EVENTS),
        ]
        webs = [deployment.web(), deployment.web()]
        first_schedule = tmp_path / "beat-1.schedule"
        beat = deployment.beat(schedule=first_schedule)
        try:
            deployment.start(*webs, deployment.worker(), deployment.worker(), beat)
            shop = Shop(webs=webs, ledger=ledger, skus=skus, slugs=slugs)
            expiring = [
                shop.place(n, token=tokens[late_payer.pk]).json()["number"] for n in range(4)
            ]
            _expire(expiring[:2])

            steps = [
                ("browse", paced(shop.browse)),
                *[("order", paced(shop.shopper(tokens[u.pk]))) for u in shoppers[1:]],
                ("race", paced(shop.racer(tokens[shoppers[1].pk]))),
                ("catalog", paced(shop.catalog(tokens[staff.pk]))),
                ("restock", paced(shop.restock(tokens[staff.pk]))),
                ("login", paced(shop.login(shoppers[0].email))),
            ]
            with Load(steps) as load:
                traffic_started = time.monotonic()
                # The clients stop on time; starting and killing beats may take longer.
                ends = threading.Timer(TRAFFIC_SECONDS, load.stop_event.set)
                ends.start()
                # A rolling deploy: a second beat (a new container, its own schedule file).
                deployment.start(deployment.beat(schedule=tmp_path / "beat-2.schedule"))
                throttled = _password_resets(ledger, webs, forgetful.email)
                time.sleep(2 * PERIOD)
                # The first beat dies and comes back from its schedule file, which is
                # older than what it last sent: it sends its "overdue" tasks at once.
                beat.kill()
                deployment.start(deployment.beat(schedule=first_schedule))
                locked = _lockout(ledger, webs, victim.email)
                _expire(expiring[2:])
                load.stop_event.wait(timeout=TRAFFIC_SECONDS)
                ends.cancel()
                load.raise_errors()
            traffic_seconds = max(o.ended for o in load.snapshot()) - traffic_started

            deadline = time.monotonic() + 90  # a hint lost to the load waits for a sweep
            while left := _unsettled(expired=expiring):
                assert time.monotonic() < deadline, f"the workers left {left}"
                time.sleep(0.25)
        finally:
            deployment.stop()
        received = Counter((r.path, r.json["id"]) for r in receiver.received)

    # --- What happened, counted (printed first, so a failure shows it too).
    answered = {n for numbers in ledger.numbers_by_key.values() for n in numbers}
    stored = {
        o.number: sorted((line.variant.sku, line.quantity) for line in o.lines.all())
        for o in Order.objects.prefetch_related("lines__variant")
    }
    doubled_orders = sum(n - 1 for n in ledger.fresh_by_key.values())
    events = dict(Event.objects.exclude(pk__in=seeded_events).values_list("pk", "type"))
    expected = {
        (urlsplit(endpoint.url).path, str(pk))
        for pk, type in events.items()
        for endpoint in endpoints
        if endpoint.wants(type)
    }
    duplicate_deliveries = sum(n - 1 for n in received.values())
    sent = set(OutgoingEmail.objects.filter(status=EmailStatus.SENT).values_list("pk", flat=True))
    mailed = Counter(
        int(m)
        for path in deployment.mail_dir.iterdir()
        for m in re.findall(r"^Message-ID: <stockroom-email-(\d+)@", path.read_text(), re.M)
    )
    duplicate_emails = sum(n - 1 for n in mailed.values())
    claims, skips, worked = _scheduled_runs(deployment)
    duplicates = doubled_orders + duplicate_deliveries + duplicate_emails
    fresh_reads = ledger.catalog_checks["detail fresh"] + ledger.catalog_checks["list fresh"]
    server_errors = sum(n for (_, status), n in ledger.requests.items() if (status or 0) >= 500)
    unanswered = sum(n for (_, status), n in ledger.requests.items() if status is None)
    print(
        f"\nmany instances: {sum(ledger.requests.values())} requests in {traffic_seconds:.0f} s "
        f"through 2 instances ({server_errors} 5xx, {unanswered} timed out and retried); "
        f"{len(answered)} orders "
        f"({sum(ledger.cross_instance_retries.values())} retried on the other instance, "
        f"{len(ledger.raced)} raced on both); {len(events)} events, "
        f"{sum(received.values())} deliveries to 2 endpoints (one takes orders only); "
        f"{sum(mailed.values())} emails; "
        f"{sum(len(t) for t in claims.values())} scheduled runs, {sum(skips.values())} skipped; "
        f"{fresh_reads} cached reads after a write on the other instance, "
        f"{ledger.catalog_checks['detail stale'] + ledger.catalog_checks['list stale']} stale; "
        f"duplicates: {duplicates}; {time.monotonic() - started:.0f} s in all"
    )

    # --- Orders: none lost, none doubled (every key one order), stock equals the ledger.
    assert duplicates == 0
    assert server_errors == 0
    assert all(len(numbers) == 1 for numbers in ledger.numbers_by_key.values())
    assert set(stored) == answered
    assert all(stored[number] == lines for number, lines in ledger.lines.items())
    assert set(ledger.cross_instance_retries) == {"replayed"}
    drifted = Variant.objects.annotate(ledger=Sum("movements__delta")).exclude(stock=F("ledger"))
    assert list(drifted.values_list("sku", "stock", "ledger")) == []

    # --- Outbox: each event once per endpoint, each email once.
    assert set(received) == expected
    succeeded = Delivery.objects.filter(event__in=list(events), status=DeliveryStatus.SUCCEEDED)
    assert succeeded.count() == len(expected)
    assert set(mailed) == sent

    # --- Scheduled tasks: at most one run per period, the expired orders cancelled once.
    for task, sent_at in claims.items():
        gaps = [b - a for a, b in itertools.pairwise(sorted(sent_at))]
        assert min(gaps, default=PERIOD) >= 0.9 * PERIOD - 1e-6, (task, gaps)
    interval_tasks = {
        "orders.tasks.cancel_expired_orders",
        "emails.tasks.emails_sweep",
        "webhooks.tasks.webhooks_sweep",
    }
    assert all(len(claims[task]) >= 2 for task in interval_tasks), claims
    # Every run that did its work is one that claimed its period.
    assert {task: worked[task] for task in interval_tasks} == {
        task: len(claims[task]) for task in interval_tasks
    }
    assert sum(skips.values()) >= 1, "two beats sent in the same periods: some runs skipped"
    for number in expiring:
        order = Order.objects.get(number=number)
        assert order.status == OrderStatus.CANCELLED
        assert order.events.filter(to_status=OrderStatus.CANCELLED).count() == 1
        returned = StockMovement.objects.filter(order_number=number, kind="order_cancelled")
        assert returned.count() == order.lines.count()
        cancelled_mail = OutgoingEmail.objects.filter(order=order, kind=EmailKind.ORDER_CANCELLED)
        assert cancelled_mail.count() == 1

    # --- Limits held across instances; the catalog's caches agreed.
    assert throttled == [202] * 5 + [429]
    assert locked == [400] * 5 + [429]
    assert ledger.catalog_checks["detail stale"] == ledger.catalog_checks["list stale"] == 0
    assert fresh_reads > 0


def _expire(numbers: list[str]) -> None:
    """Let these orders' payment time run out (as if placed two hours ago)."""
    Order.objects.filter(number__in=numbers).update(created_at=F("created_at") - timedelta(hours=2))


def _password_resets(ledger: Ledger, webs: list[Gunicorn], email: str) -> list[int]:
    """Six requests from one address, alternating instances: the limit is 5 an hour in all."""
    statuses = []
    for n in range(6):
        reply = ledger.send(
            "password reset",
            webs[n % 2],
            "POST",
            "/api/v1/auth/password-reset/",
            body={"email": email},
        )
        statuses.append(reply.status)
    return statuses


def _lockout(ledger: Ledger, webs: list[Gunicorn], email: str) -> list[int]:
    """Five wrong passwords, alternating instances, lock the account on both: then even the
    right one is refused."""
    statuses = []
    for n in range(5):
        body = {"email": email, "password": f"wrong-{n}"}
        statuses.append(
            ledger.send("lockout", webs[n % 2], "POST", "/api/v1/auth/login/", body=body).status
        )
    body = {"email": email, "password": PASSWORD}
    statuses.append(
        ledger.send("lockout", webs[1], "POST", "/api/v1/auth/login/", body=body).status
    )
    return statuses


_TASK_DONE = re.compile(r"^Task ([\w.]+)\[[\w-]+\] succeeded in [\d.e-]+s: (.*)$")


def _scheduled_runs(
    deployment: Deployment,
) -> tuple[dict[str, list[float]], Counter[str], Counter[str]]:
    """From the workers' logs: when beat sent each run that claimed its period, how many runs
    were skipped, and how many runs of each task did their work (Celery's own log line: a
    skipped run returns None)."""
    claims: dict[str, list[float]] = defaultdict(list)
    skips: Counter[str] = Counter()
    worked: Counter[str] = Counter()
    for worker in deployment.workers:
        for entry in _json_lines(worker.output()):
            task = str(entry.get("periodic_task"))
            if entry["message"].startswith("scheduled task claimed"):
                claims[task].append(float(entry["sent_at"]))
            elif entry["message"].startswith("scheduled task skipped"):
                skips[task] += 1
            elif (done := _TASK_DONE.match(entry["message"])) and done.group(2) != "None":
                worked[done.group(1)] += 1
    return claims, skips, worked
