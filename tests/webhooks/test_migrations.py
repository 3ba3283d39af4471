"""The migration to error categories keeps every row and maps the old raw texts."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("webhooks", "0004_delivery_retry_until")]
AFTER = [("webhooks", "0005_delivery_error_categories")]

# (status code, error text written by the previous client) -> category
OLD_ATTEMPTS = [
    (None, "Timed out after 5 seconds.", "timeout"),
    (None, "Connection failed: [Errno 111] Connection refused", "connection_refused"),
    (None, "Connection failed: [Errno -2] Name or service not known", "dns_error"),
    (None, "Connection failed: [SSL: WRONG_VERSION_NUMBER] wrong version number", "tls_error"),
    (None, "RemoteDisconnected: Remote end closed connection without response", "connection_error"),
    (None, "BadStatusLine: SSH-2.0-OpenSSH_9.6", "protocol_error"),
    (302, "Redirect to http://10.0.0.1/admin not followed.", "redirect_not_followed"),
    (404, "", "http_4xx"),
    (500, "", "http_5xx"),
    (200, "", ""),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_raw_errors_become_categories_and_bodies_are_dropped_keeping_the_rest():
    apps = _migrate(BEFORE)
    try:
        endpoint_model = apps.get_model("webhooks", "Endpoint")
        event = apps.get_model("webhooks", "Event").objects.create(type="order.paid", data={})
        scanned = endpoint_model.objects.create(
            url="http://127.0.0.1:22/",
            secret="s" * 20,
            is_active=False,
            disabled_reason="3 consecutive failed attempts; last: BadStatusLine: SSH-2.0-OpenSSH.",
        )
        gone = endpoint_model.objects.create(
            url="https://a.example.com/",
            secret="s" * 20,
            disabled_reason="3 consecutive failed attempts; last: HTTP 503.",
        )
        delivery = apps.get_model("webhooks", "Delivery").objects.create(
            event=event,
            endpoint=scanned,
            attempt_count=len(OLD_ATTEMPTS),
            last_error="Connection failed: [Errno 111] Connection refused",
        )
        attempt_model = apps.get_model("webhooks", "DeliveryAttempt")
        for number, (code, error, _) in enumerate(OLD_ATTEMPTS, start=1):
            attempt_model.objects.create(
                delivery=delivery,
                number=number,
                status_code=code,
                duration_ms=number,
                error=error,
                response_body="SSH-2.0-OpenSSH_9.6 private banner",
            )

        apps = _migrate(AFTER)

        attempts = apps.get_model("webhooks", "DeliveryAttempt").objects.order_by("number")
        assert [(a.number, a.status_code, a.duration_ms, a.error) for a in attempts] == [
            (number, code, number, category)
            for number, (code, _, category) in enumerate(OLD_ATTEMPTS, start=1)
        ]
        delivery = apps.get_model("webhooks", "Delivery").objects.get()
        assert (delivery.last_error, delivery.attempt_count) == (
            "connection_refused",
            len(OLD_ATTEMPTS),
        )
        endpoints = apps.get_model("webhooks", "Endpoint").objects
        assert endpoints.get(pk=scanned.pk).disabled_reason == (
            "3 consecutive failed attempts; last: protocol_error."
        )
        assert endpoints.get(pk=gone.pk).disabled_reason == (
            "3 consecutive failed attempts; last: HTTP 503."
        )
        with connection.cursor() as cursor:
            columns = [
                c.name
                for c in connection.introspection.get_table_description(
                    cursor, "webhooks_deliveryattempt"
                )
            ]
        assert "response_body" not in columns
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
