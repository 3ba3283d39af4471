"""Server-side request forgery through outgoing webhooks (OWASP API7).

Staff register the URLs the server POSTs to. Whatever they register, the
worker never connects to loopback, link-local (cloud metadata), private,
multicast or reserved addresses (unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES opens
the internal ones), and what it records tells nothing about what answered.
The addresses come from the table of special-purpose ranges in
tests/webhooks/test_destinations.py, sampled by Hypothesis.
"""

import ipaddress

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.webhooks.receiver import Receiver
from tests.webhooks.test_destinations import GLOBAL, IPV4_RANGES, IPV6_RANGES
from webhooks import services
from webhooks.models import Delivery, DeliveryAttempt, DeliveryError, Endpoint, Event

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks/"
REFUSED = [network for network, kind in IPV4_RANGES + IPV6_RANGES if kind is not GLOBAL]


def _url_for(network: str) -> st.SearchStrategy[str]:
    net = ipaddress.ip_network(network)

    def spell(index: int) -> str:
        ip = net[index]
        host = f"[{ip}]" if ip.version == 6 else str(ip)
        return f"http://{host}:6379/"

    return st.integers(0, net.num_addresses - 1).map(spell)


def test_private_addresses_are_refused_by_default():
    assert settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES is False


@pytest.mark.parametrize("network", REFUSED)
@given(data=st.data())
@hypothesis_settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_staff_cannot_register_a_url_on_a_refused_address(superuser_client, network, data):
    url = data.draw(_url_for(network))
    response = superuser_client.post(URL, {"url": url, "event_types": ["*"]}, format="json")
    assert response.status_code == 400, url
    assert response.json()["code"] == "url_blocked_address"
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pw@127.0.0.1:6379/",
        "https://user:pw@hooks.example.com/in",
        "https://token@hooks.example.com/in",
    ],
)
def test_staff_cannot_register_a_url_with_credentials(superuser_client, url):
    response = superuser_client.post(URL, {"url": url, "event_types": ["*"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "url_credentials")


def test_the_delivery_log_is_no_port_scanner(superuser_client):
    """An open port, a closed port and a refused address differ only by a fixed category."""
    with Receiver() as open_port:
        closed = Receiver()
        closed_url = closed.url()
        closed.server.server_close()
        urls = {
            "open": open_port.url(),
            "closed": closed_url,
            "metadata": "http://169.254.169.254/latest/meta-data/",
        }
        endpoints = {
            name: Endpoint.objects.create(url=url, secret="s" * 20, event_types=["*"])
            for name, url in urls.items()
        }
        event = Event.objects.create(type="order.paid", data={})
        services.events_dispatch(event_ids=[str(event.pk)])
        for delivery in Delivery.objects.all():
            services.delivery_attempt(delivery_id=delivery.pk)

        errors = {
            name: Delivery.objects.get(endpoint=endpoint).last_error
            for name, endpoint in endpoints.items()
        }
        assert open_port.received == []
    assert errors == dict.fromkeys(urls, "blocked_address")
    listed = superuser_client.get("/api/v1/webhooks/deliveries/").json()["results"]
    categories = {"", *DeliveryError.values}
    for delivery in listed:
        assert delivery["last_error"] in categories
        assert all(attempt["error"] in categories for attempt in delivery["attempts"])
    assert all(a.error in categories for a in DeliveryAttempt.objects.all())
