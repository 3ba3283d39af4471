"""Redis down: orders and password resets are answered, and every email arrives once later.

The test's own redis-server is the broker and the cache. It is killed; customers
place orders and ask for password resets through the API (answered 201/202,
the emails wait in the outbox, the failed hint is logged). Redis comes back:
a new order's hint reaches the queue again, its messages are run as a worker
would run them, and the sweep (what beat runs every 30 s) sends the rest. In
the end every email arrived exactly once, and nothing is sent twice however
often the sweep and the hints run.
"""

import base64
import json
import logging
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core import mail
from rest_framework.test import APIClient

from config.celery import app, hint_connection_reset
from emails.models import OutgoingEmail
from emails.services import emails_sweep, message_id
from tests.accounts.factories import UserFactory
from tests.catalog.factories import VariantFactory
from tests.conftest import celery_publishing_to, token_client
from tests.orders.factories import ADDRESS
from tests.reliability.live import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ORDERS = "/api/v1/orders/"
RESET = "/api/v1/auth/password-reset/"


def _run_queued_tasks(client: redis.Redis) -> list[str]:
    """Take every message off the queue and run its task here, as a worker would.

    The names of the tasks run: a transaction's one message (core.tasks.hints_run)
    counts as the tasks it carries.
    """
    ran = []
    while (raw := client.rpop(settings.CELERY_TASK_DEFAULT_QUEUE)) is not None:
        assert isinstance(raw, bytes)
        message = json.loads(raw)
        args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        name = message["headers"]["task"]
        app.tasks[name](*args, **kwargs)
        ran.append(name)
        if name == "core.tasks.hints_run":
            ran.extend(task for task, _kwargs in kwargs["calls"])
    return ran


def test_every_email_arrives_once_after_redis_comes_back(tmp_path: Path, settings, caplog):
    server = RedisServer(log_dir=tmp_path).start()
    base = f"redis://127.0.0.1:{server.port}"
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"{base}/0"}}
    customers = UserFactory.create_batch(3)
    variant = VariantFactory(stock=50)
    order = {"lines": [{"sku": variant.sku, "quantity": 1}], "shipping_address": ADDRESS}
    queue = redis.Redis(port=server.port, db=2)
    try:
        with (
            celery_publishing_to(f"{base}/2"),
            caplog.at_level(logging.INFO, logger="stockroom.tasks"),
        ):
            server.kill()
            numbers = []
            for customer in customers:
                response = token_client(customer).post(ORDERS, order, format="json")
                assert response.status_code == 201, response.content
                numbers.append(response.json()["number"])
            for address in (customers[0].email, customers[1].email, "nobody@example.com"):
                assert APIClient().post(RESET, {"email": address}).status_code == 202
            assert mail.outbox == []
            assert OutgoingEmail.objects.filter(status="pending").count() == 6
            assert any(r.getMessage().startswith("could not queue") for r in caplog.records)

            server.start()
            hint_connection_reset()  # as when TASK_HINT_PAUSE has passed
            response = token_client(customers[2]).post(ORDERS, order, format="json")
            assert response.status_code == 201, response.content
            numbers.append(response.json()["number"])
            assert "emails.tasks.email_send" in _run_queued_tasks(queue)
            assert len(mail.outbox) == 1  # the hint of the order placed after Redis came back

            assert emails_sweep() == 6
            assert emails_sweep() == 0
            for email in OutgoingEmail.objects.all():  # hints arriving late, or twice
                app.tasks["emails.tasks.email_send"](email_id=email.pk)
            assert _run_queued_tasks(queue) == []
    finally:
        server.kill()

    sent = Counter(m.extra_headers["Message-ID"] for m in mail.outbox)
    assert set(sent.values()) == {1}
    rows = OutgoingEmail.objects.order_by("pk")
    assert set(sent) == {message_id(e) for e in rows if e.status == "sent"}
    assert sorted(rows.values_list("status", flat=True)) == ["sent"] * 6 + ["skipped"]
    subjects = Counter(m.subject for m in mail.outbox)
    assert subjects == {
        **{f"Order {number} received": 1 for number in numbers},
        "Reset your Stockroom password": 2,
    }
    resets = [m.to for m in mail.outbox if m.subject == "Reset your Stockroom password"]
    assert sorted(resets) == sorted([[customers[0].email], [customers[1].email]])
