import pytest

from tests.webhooks.receiver import Receiver


@pytest.fixture(autouse=True)
def _receivers_on_loopback_allowed(settings):
    """The test receivers listen on 127.0.0.1: allowed only with this setting on.

    Tests of the refusals turn it off again (tests/webhooks/test_destinations.py).
    """
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running
