"""The email outbox: a row per email in the change's transaction, sent once by hint or sweep."""

import logging
import re
import socket
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.services import user_erase
from config.celery import app, hint_connection, hint_connection_reset, task_hint
from emails.models import EmailKind, EmailStatus, OutgoingEmail
from emails.services import email_queue, email_send, emails_purge, emails_sweep, message_id
from emails.tasks import email_send_task
from orders.services import order_transition
from tests.accounts.factories import UserFactory
from tests.catalog.factories import VariantFactory
from tests.conftest import celery_publishing_to
from tests.orders.factories import ADDRESS, order_place

pytestmark = pytest.mark.django_db

RESET = "/api/v1/auth/password-reset/"
SLOW = {"default": {"BACKEND": "tests.emails.backends.SlowBackend"}}
REFUSING = {"default": {"BACKEND": "tests.emails.backends.RefusingBackend"}}


def _rows(**filters):
    return list(OutgoingEmail.objects.filter(**filters).values_list("kind", "status"))


# --- Recorded in the transaction of the change --------------------------------------------


def test_placing_an_order_records_its_email_and_sends_it_after_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order = order_place()
    email = OutgoingEmail.objects.get(order=order)
    assert (email.kind, email.status, email.next_attempt_at is not None) == (
        "order_placed",
        "pending",
        True,
    )
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    email.refresh_from_db()
    assert (email.status, email.attempt_count) == ("sent", 1)
    (message,) = mail.outbox
    assert message.to == [order.user.email]
    assert message.extra_headers["Message-ID"] == message_id(email)


@pytest.mark.parametrize(
    ("action", "kind"),
    [("mark-paid", "order_paid"), ("cancel", "order_cancelled")],
)
def test_each_customer_transition_records_its_email(action, kind):
    order = order_place()
    order_transition(order=order, action=action, user=None)
    assert _rows(order=order) == [("order_placed", "pending"), (kind, "pending")]


def test_a_rolled_back_change_records_no_email():
    order = order_place()
    with pytest.raises(RuntimeError), transaction.atomic():
        order_transition(order=order, action="cancel", user=None)
        raise RuntimeError("boom")
    assert _rows(order=order) == [("order_placed", "pending")]


def test_the_database_rejects_an_order_email_without_an_order():
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        OutgoingEmail.objects.create(kind=EmailKind.ORDER_PAID)
    with pytest.raises(IntegrityError), transaction.atomic():
        OutgoingEmail.objects.create(kind=EmailKind.PASSWORD_RESET, address="")
    with pytest.raises(IntegrityError), transaction.atomic():
        OutgoingEmail.objects.create(
            kind=EmailKind.PASSWORD_RESET, address="a@example.com", next_attempt_at=None
        )


# --- The hint: bounded, and its failure costs nothing ----------------------------------------


def test_hints_connect_once_with_short_timeouts_and_no_retry(settings):
    settings.TASK_HINT_TIMEOUT = 0.05
    hint_connection_reset()
    try:
        conn = hint_connection()
        options = conn.transport_options or {}
        assert options["max_retries"] == 0
        assert options["socket_connect_timeout"] == 0.05
        assert options["socket_timeout"] == 0.05
        assert conn.connect_timeout == 0.05
        assert conn is not app.pool.connection  # not the pool a retrying publish configures
    finally:
        hint_connection_reset()


def test_a_failed_hint_tries_one_connection_then_pauses(caplog):
    """A broker that accepts and hangs up: one connection attempt, then no more for a while."""
    accepted = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        server.settimeout(0.5)

        def accept():
            try:
                while True:
                    client, _ = server.accept()
                    accepted.append(client)
                    client.close()
            except OSError:
                return

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        with (
            celery_publishing_to(f"redis://127.0.0.1:{server.getsockname()[1]}/0"),
            caplog.at_level(logging.INFO, logger="stockroom.tasks"),
        ):
            assert task_hint(email_send_task, kwargs={"email_id": 1}, what="email 1") is False
            assert task_hint(email_send_task, kwargs={"email_id": 2}, what="email 2") is False
        thread.join(timeout=2)
    assert len(accepted) == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "stockroom.tasks"]
    assert messages == [
        "could not queue email 1: the sweep sends it later",
        "broker recently unreachable: email 2 left to the sweep",
    ]


def test_order_placed_while_the_broker_is_down_is_answered_and_its_email_stays_due(
    user_client, user, broker_unreachable, caplog, django_capture_on_commit_callbacks
):
    variant = VariantFactory(stock=5)
    body = {"lines": [{"sku": variant.sku, "quantity": 1}], "shipping_address": ADDRESS}
    with (
        caplog.at_level(logging.INFO, logger="stockroom.tasks"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = user_client.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    (email,) = OutgoingEmail.objects.all()
    assert (email.kind, email.status, email.attempt_count) == ("order_placed", "pending", 0)
    assert mail.outbox == []
    # The dispatch of its webhook events and its email leave in one message, which fails.
    logged = [r.getMessage() for r in caplog.records if r.name == "stockroom.tasks"]
    assert logged == [
        f"could not queue the dispatch of webhook events; email {email.pk}: "
        "the sweep sends it later"
    ]

    assert emails_sweep() == 1
    assert _rows() == [("order_placed", "sent")]
    assert len(mail.outbox) == 1
    assert emails_sweep() == 0
    assert len(mail.outbox) == 1


# --- Password reset: the same work for every address --------------------------------------


def test_reset_request_does_the_same_work_whether_or_not_the_account_exists(
    api_client, user, django_capture_on_commit_callbacks
):
    def request(email):
        with (
            django_capture_on_commit_callbacks(execute=False) as callbacks,
            CaptureQueriesContext(connection) as queries,
        ):
            response = api_client.post(RESET, {"email": email})
        assert response.status_code == 202
        statements = [re.sub(r"VALUES .*", "", q["sql"]) for q in queries.captured_queries]
        return response.json(), statements, callbacks

    known = request(user.email)
    unknown = request("nobody@example.com")
    assert known[0] == unknown[0]
    assert known[1] == unknown[1]
    assert len(known[1]) == 1 and known[1][0].startswith('INSERT INTO "emails_outgoingemail"')
    rows = OutgoingEmail.objects.order_by("pk")
    assert [(e.kind, e.status, e.address) for e in rows] == [
        ("password_reset", "pending", user.email),
        ("password_reset", "pending", "nobody@example.com"),
    ]
    # Each request hinted its email. The test's transaction never commits, so the
    # second hint joined the first one's hook (core.hints), as hints of one transaction do;
    # every hint registers that hook, which sends once.
    hooks = list({id(hook): hook for hook in known[2] + unknown[2]}.values())
    hinted = [
        kwargs["email_id"]
        for hook in hooks
        for task, kwargs, _ in hook.calls
        if task.name == "emails.tasks.email_send"
    ]
    assert hinted == [e.pk for e in rows]

    for callback in known[2] + unknown[2]:
        callback()
    assert [(e.status, e.address) for e in rows.all()] == [("sent", ""), ("skipped", "")]
    (message,) = mail.outbox
    assert message.to == [user.email]


def test_reset_for_an_erased_or_inactive_account_sends_nothing():
    erased = UserFactory()
    user_erase(user=erased)
    inactive = UserFactory(is_active=False)
    for address in ("deleted-1@erased.invalid", erased.email, inactive.email):
        email_queue(kind=EmailKind.PASSWORD_RESET, address=address)
    assert emails_sweep() == 3
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {"skipped"}
    assert mail.outbox == []


def test_order_emails_of_an_erased_customer_are_skipped():
    order = order_place()
    user_erase(user=order.user)
    assert emails_sweep() == 1
    assert _rows(order=order) == [("order_placed", "skipped")]
    assert mail.outbox == []


# --- Sending: retries with backoff, once per row ---------------------------------------------


def test_smtp_failure_is_retried_later_with_backoff(settings):
    settings.EMAIL_BACKOFF_BASE = 30
    settings.EMAIL_MAX_ATTEMPTS = 3
    order = order_place()
    email = OutgoingEmail.objects.get(order=order)

    settings.MAILERS = REFUSING
    before = timezone.now()
    assert email_send(email_id=email.pk) == "pending"
    email.refresh_from_db()
    assert email.attempt_count == 1
    assert email.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    next_at = email.next_attempt_at
    assert next_at is not None
    assert before + timedelta(seconds=27) <= next_at <= timezone.now() + timedelta(seconds=33)
    assert email_send(email_id=email.pk) is None  # not due yet
    assert emails_sweep() == 0

    OutgoingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert email_send(email_id=email.pk) == "pending"
    email.refresh_from_db()
    assert email.next_attempt_at is not None
    wait = email.next_attempt_at - timezone.now()
    assert timedelta(seconds=53) <= wait <= timedelta(seconds=66)  # doubled

    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    OutgoingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert emails_sweep() == 1
    email.refresh_from_db()
    assert (email.status, email.attempt_count, email.last_error) == ("sent", 3, "")
    assert len(mail.outbox) == 1


def test_an_email_that_keeps_failing_is_given_up(settings):
    settings.EMAIL_MAX_ATTEMPTS = 2
    settings.MAILERS = REFUSING
    email = email_queue(kind=EmailKind.PASSWORD_RESET, address=UserFactory().email)
    for status in ("pending", "failed"):
        OutgoingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
        assert email_send(email_id=email.pk) == status
    email.refresh_from_db()
    assert (email.next_attempt_at, email.address, email.attempt_count) == (None, "", 2)


def test_a_sent_email_is_never_sent_again():
    order = order_place()
    email = OutgoingEmail.objects.get(order=order)
    assert email_send(email_id=email.pk) == "sent"
    assert email_send(email_id=email.pk) is None
    assert emails_sweep() == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_workers_racing_over_the_outbox_send_each_email_once(settings):
    """Sweeps and per-email tasks in four threads at once: every row is sent exactly once."""
    settings.MAILERS = SLOW
    users = UserFactory.create_batch(12)
    emails = OutgoingEmail.objects.bulk_create(
        OutgoingEmail(kind=EmailKind.PASSWORD_RESET, address=user.email) for user in users
    )
    assert mail.outbox == []
    ids = [e.pk for e in emails]
    barrier = threading.Barrier(4)
    errors = []

    def work(n):
        try:
            barrier.wait(timeout=10)
            if n % 2:
                emails_sweep()
            else:
                for pk in ids if n == 0 else reversed(ids):
                    email_send(email_id=pk)
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    sent = sorted(m.extra_headers["Message-ID"] for m in mail.outbox)
    assert sent == sorted(message_id(e) for e in emails)
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {EmailStatus.SENT}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in users)


def test_beat_sweeps_the_outbox_every_30_seconds(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["emails-sweep"]
    assert (entry["task"], entry["schedule"]) == ("emails.tasks.emails_sweep", 30.0)
    assert entry["task"] in app.tasks


def test_messages_queued_before_the_outbox_are_recorded_in_it():
    from accounts.tasks import password_reset_email_send
    from orders.tasks import order_email_send

    order = order_place()
    OutgoingEmail.objects.all().delete()
    order_email_send(order_id=order.pk, kind="shipped")
    password_reset_email_send(user_id=order.user_id)
    assert sorted(OutgoingEmail.objects.values_list("kind", "status")) == [
        ("order_shipped", "pending"),
        ("password_reset", "pending"),
    ]
    assert emails_sweep() == 2
    assert sorted(m.subject for m in mail.outbox) == [
        f"Order {order.number} is on its way",
        "Reset your Stockroom password",
    ]


def test_purge_forgets_old_sent_and_skipped_emails_but_keeps_failed_ones(settings):
    settings.EMAIL_OUTBOX_KEEP_DAYS = 30
    long_ago = timezone.now() - timedelta(days=31)
    kept = OutgoingEmail.objects.bulk_create(
        [
            OutgoingEmail(
                kind=EmailKind.PASSWORD_RESET,
                status=status,
                created_at=created,
                next_attempt_at=None,
            )
            for status, created in [
                ("sent", long_ago),
                ("skipped", long_ago),
                ("failed", long_ago),
                ("sent", timezone.now() - timedelta(days=29)),
            ]
        ]
    )
    assert emails_purge() == 2
    assert sorted(OutgoingEmail.objects.values_list("pk", flat=True)) == [
        kept[2].pk,
        kept[3].pk,
    ]
