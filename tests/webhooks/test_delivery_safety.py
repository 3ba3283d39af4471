"""Delivery connects only where the policy allows, within one deadline, holding no lock.

The receivers listen on 127.0.0.1, so WEBHOOK_ALLOW_PRIVATE_ADDRESSES is on
(tests/webhooks/conftest.py) except where a test checks a refusal.
"""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import ANY

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client

from tests.conftest import token_client
from tests.webhooks.factories import EndpointFactory
from webhooks import http, services
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Event


def _deliver(endpoint) -> Delivery:
    """Record an event for `endpoint` and make one attempt now; returns the delivery."""
    event = Event.objects.create(type="order.paid", data={"number": "SR-1"})
    services.events_dispatch(event_ids=[str(event.pk)])
    delivery = Delivery.objects.get(event=event, endpoint=endpoint)
    services.delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


@pytest.mark.django_db
def test_a_receiver_on_loopback_is_refused_unless_the_setting_allows_it(receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    endpoint = EndpointFactory(url=receiver.url())

    delivery = _deliver(endpoint)

    assert (delivery.status, delivery.last_status_code, delivery.last_error) == (
        DeliveryStatus.PENDING,
        None,
        "blocked_address",
    )
    assert receiver.received == []

    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
    services.delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == (DeliveryStatus.SUCCEEDED, "")
    assert len(receiver.received) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "2130706433", "0x7f000001", "127.1"])
def test_a_name_that_resolves_to_loopback_is_refused(receiver, settings, host):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    port = receiver.server.server_address[1]
    endpoint = EndpointFactory(url=f"http://{host}:{port}/hook")

    delivery = _deliver(endpoint)

    assert delivery.last_error == "blocked_address"
    assert receiver.received == []


@pytest.mark.django_db
def test_ipv6_addresses_follow_the_same_rules(settings):
    class V6Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = V6Server(("::1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://[::1]:{server.server_address[1]}/hook"
        assert http.post(url=url, body=b"{}", headers={}, timeout=5, allow_private=True) == (
            http.Response(status_code=204, error="", duration_ms=ANY)
        )
        refused = http.post(url=url, body=b"{}", headers={}, timeout=5, allow_private=False)
        assert (refused.status_code, refused.error) == (None, "blocked_address")
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
def test_a_name_is_sent_as_host_to_the_address_it_resolved_to(receiver):
    port = receiver.server.server_address[1]
    endpoint = EndpointFactory(url=f"http://localhost:{port}/hook?via=name")

    delivery = _deliver(endpoint)

    assert delivery.status == DeliveryStatus.SUCCEEDED
    (received,) = receiver.received
    assert received.path == "/hook?via=name"
    assert received.headers["Host"] == f"localhost:{port}"


@pytest.fixture
def resolver(monkeypatch):
    """A DNS that answers `rebind.test` from a script: one answer per lookup, in order."""
    real = socket.getaddrinfo
    answers: list[list[str]] = []
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))
            for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, lookups


@pytest.mark.django_db
def test_the_name_is_resolved_once_so_a_rebinding_cannot_change_the_address(receiver, resolver):
    answers, lookups = resolver
    # The first answer passes the check; any later lookup would lead to the metadata service.
    answers.extend([["127.0.0.1"], ["169.254.169.254"]])
    port = receiver.server.server_address[1]
    endpoint = EndpointFactory(url=f"http://rebind.test:{port}/hook")

    delivery = _deliver(endpoint)

    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert lookups == ["rebind.test"]
    assert receiver.received[0].headers["Host"] == f"rebind.test:{port}"


@pytest.mark.django_db
def test_a_name_with_any_refused_address_is_refused(receiver, resolver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    answers, lookups = resolver
    answers.append(["8.8.8.8", "127.0.0.1"])
    port = receiver.server.server_address[1]
    endpoint = EndpointFactory(url=f"http://rebind.test:{port}/hook")

    delivery = _deliver(endpoint)

    assert delivery.last_error == "blocked_address"
    assert lookups == ["rebind.test"]
    assert receiver.received == []


@pytest.mark.django_db
def test_credentials_in_a_stored_url_are_refused_at_delivery(receiver):
    port = receiver.server.server_address[1]
    endpoint = EndpointFactory(url=f"http://user:secret@127.0.0.1:{port}/hook")

    delivery = _deliver(endpoint)

    assert (delivery.last_status_code, delivery.last_error) == (None, "invalid_url")
    assert receiver.received == []


@pytest.mark.django_db
def test_tls_to_a_server_that_does_not_speak_it_is_a_tls_error(receiver):
    endpoint = EndpointFactory(url=receiver.url().replace("http://", "https://"))

    delivery = _deliver(endpoint)

    assert (delivery.last_status_code, delivery.last_error) == (None, "tls_error")


class TricklingServer:
    """Accepts one request, then sends a status line and headers one byte every `gap` seconds."""

    ANSWER = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"

    def __init__(self, gap: float) -> None:
        self.gap = gap
        self.sent = 0
        self.cut_off = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/slow"

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            for byte in self.ANSWER:
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    break
                self.sent += 1
                # The sender closing its end shows up as an empty read.
                conn.settimeout(self.gap)
                try:
                    if conn.recv(1) == b"":
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
        self.cut_off.set()

    def __enter__(self) -> "TricklingServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()


@pytest.mark.django_db
def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_deadline(settings):
    settings.WEBHOOK_TIMEOUT = 1.0
    with TricklingServer(gap=0.1) as server:
        endpoint = EndpointFactory(url=server.url())

        delivery = _deliver(endpoint)

        assert server.cut_off.wait(10)
    (attempt,) = delivery.attempts.all()
    assert (attempt.status_code, attempt.error) == (None, "timeout")
    assert delivery.last_error == "timeout"
    # Every byte came well within any per-read timeout: only the deadline can have stopped it.
    assert 0 < server.sent < len(TricklingServer.ANSWER)
    assert attempt.duration_ms < 10_000


def test_each_read_waits_only_for_what_is_left_of_the_deadline():
    ours, theirs = socket.socketpair()
    deadline = http.Deadline(0.8)
    reader = http.DeadlineReader(ours, deadline)
    timeouts: list[float] = []

    def trickle() -> None:
        for _ in range(40):
            try:
                theirs.sendall(b"x")
            except OSError:
                return
            time.sleep(0.05)

    writer = threading.Thread(target=trickle, daemon=True)
    writer.start()
    buffer = bytearray(1)
    with pytest.raises(TimeoutError):
        while True:
            reader.readinto(buffer)
            timeouts.append(ours.gettimeout() or 0.0)
    ours.close()
    theirs.close()
    writer.join(5)

    assert len(timeouts) >= 2
    assert timeouts == sorted(timeouts, reverse=True)
    assert all(0 < t <= 0.8 for t in timeouts)


@pytest.mark.django_db(transaction=True)
def test_no_transaction_or_row_lock_is_held_while_the_receiver_is_called(receiver):
    endpoint = EndpointFactory(url=receiver.url())
    event = Event.objects.create(type="order.paid", data={})
    services.events_dispatch(event_ids=[str(event.pk)])
    delivery = Delivery.objects.get(endpoint=endpoint)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (sender_pid,) = cursor.fetchone()
    seen: dict[str, object] = {}
    db = connection.settings_dict

    def look(received) -> None:
        # A connection of its own: the sender's session is waiting for this answer.
        with psycopg.connect(
            host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
        ) as other:
            seen["state"] = other.execute(
                "SELECT state FROM pg_stat_activity WHERE pid = %s", [sender_pid]
            ).fetchone()
            # What keeps a second worker from sending it meanwhile: a lock of the session.
            seen["advisory_locks"] = other.execute(
                "SELECT count(*) FROM pg_locks WHERE pid = %s AND locktype = 'advisory'",
                [sender_pid],
            ).fetchone()
            locks = {
                "webhooks_delivery": (
                    "SELECT 1 FROM webhooks_delivery WHERE id = %s FOR UPDATE NOWAIT",
                    delivery.pk,
                ),
                "webhooks_endpoint": (
                    "SELECT 1 FROM webhooks_endpoint WHERE id = %s FOR UPDATE NOWAIT",
                    endpoint.pk,
                ),
            }
            for table, (sql, pk) in locks.items():
                try:
                    other.execute(sql, [pk])
                    seen[table] = "free"
                except psycopg.errors.LockNotAvailable:
                    seen[table] = "locked"
                other.rollback()

    receiver.on_request = look

    attempt = services.delivery_attempt(delivery_id=delivery.pk)

    assert attempt is not None and attempt.status_code == 200
    assert seen == {
        "state": ("idle",),
        "advisory_locks": (1,),
        "webhooks_delivery": "free",
        "webhooks_endpoint": "free",
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.SUCCEEDED, 1)


@pytest.mark.django_db
def test_the_answer_is_never_stored_or_shown(receiver, superuser):
    receiver.script = [500, 302]
    endpoint = EndpointFactory(url=receiver.url())
    delivery = _deliver(endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
    services.delivery_attempt(delivery_id=delivery.pk)

    assert [(a.status_code, a.error) for a in delivery.attempts.all()] == [
        (500, "http_5xx"),
        (302, "redirect_not_followed"),
    ]
    assert {f.name for f in DeliveryAttempt._meta.fields} == {
        "id",
        "delivery",
        "number",
        "status_code",
        "duration_ms",
        "error",
        "created_at",
    }
    api = token_client(superuser).get(f"/api/v1/webhooks/deliveries/{delivery.pk}/")
    admin = Client()
    admin.force_login(superuser)
    page = admin.get(f"/admin/webhooks/delivery/{delivery.pk}/change/")
    assert api.status_code == page.status_code == 200
    assert [(a["status_code"], a["error"]) for a in api.json()["attempts"]] == [
        (500, "http_5xx"),
        (302, "redirect_not_followed"),
    ]
    for shown in (api.content.decode(), page.content.decode()):
        assert "answer 500" not in shown and "answer 302" not in shown


@pytest.mark.django_db
def test_only_an_error_category_can_be_stored():
    endpoint = EndpointFactory()
    event = Event.objects.create(type="order.paid", data={})
    delivery = Delivery.objects.create(event=event, endpoint=endpoint)
    for raw in ("[Errno 111] Connection refused", "SSH-2.0-OpenSSH_9.6"):
        with pytest.raises(IntegrityError), transaction.atomic():
            DeliveryAttempt.objects.create(delivery=delivery, number=1, duration_ms=1, error=raw)
        with pytest.raises(IntegrityError), transaction.atomic():
            Delivery.objects.filter(pk=delivery.pk).update(last_error=raw)
