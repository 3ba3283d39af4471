"""The per-client rates: DRF's "anon" and "user" rules, one Redis round trip per request."""

import pytest
from django.core.cache import cache
from django.test import override_settings
from knox.models import AuthToken
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from core import throttling
from core.throttling import ClientRateThrottle

pytestmark = pytest.mark.django_db

# Public and throttled by the default classes; no database work worth speaking of.
PUBLIC = "/api/v1/categories/"
ME = "/api/v1/me/"


@pytest.fixture
def rates(monkeypatch):
    def set_rates(**scoped: str) -> None:
        merged = {**SimpleRateThrottle.THROTTLE_RATES, "anon": "100/min", "user": "100/min"}
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**merged, **scoped})

    return set_rates


@pytest.fixture
def clock(monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(ClientRateThrottle, "timer", lambda self: now[0])
    return now


def _client(address: str, token: str | None = None) -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_anonymous_callers_are_limited_per_address(rates):
    rates(anon="3/min")
    first, other = _client("10.1.1.1"), _client("10.1.1.2")
    assert [first.get(PUBLIC).status_code for _ in range(3)] == [200, 200, 200]
    refused = first.get(PUBLIC)
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert other.get(PUBLIC).status_code == 200


def test_anonymous_callers_are_also_held_to_the_user_rate(rates):
    """As DRF's UserRateThrottle does: an anonymous caller is a user by address."""
    rates(anon="100/min", user="2/min")
    client = _client("10.1.1.3")
    assert [client.get(PUBLIC).status_code for _ in range(3)] == [200, 200, 429]


def test_a_user_is_limited_per_user_whatever_the_address(rates, user):
    rates(user="2/min")
    _, token = AuthToken.objects.create(user=user)
    assert _client("10.2.0.1", token).get(ME).status_code == 200
    assert _client("10.2.0.2", token).get(ME).status_code == 200
    assert _client("10.2.0.3", token).get(ME).status_code == 429
    assert _client("10.2.0.3").get(PUBLIC).status_code == 200  # the address itself is free


def test_the_window_slides_and_refusals_are_not_counted(rates, clock):
    rates(anon="2/min")
    client = _client("10.3.0.1")
    assert client.get(PUBLIC).status_code == 200  # t=0
    clock[0] += 30
    assert client.get(PUBLIC).status_code == 200  # t=30
    clock[0] += 1
    refused = client.get(PUBLIC)  # t=31: two in the last minute
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == 29  # the t=0 request leaves the window at t=60
    clock[0] += 30
    assert client.get(PUBLIC).status_code == 200  # t=61: t=0 has left; t=31 never counted
    clock[0] += 1
    assert client.get(PUBLIC).status_code == 429  # t=62: t=30 and t=61 are in the window


def test_a_request_is_one_round_trip_with_redis(rates, monkeypatch):
    rates()
    commands: list[str] = []
    connection = throttling._redis()
    execute = type(connection).execute_command

    def counting(self, *args, **kwargs):
        commands.append(args[0])
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(type(connection), "execute_command", counting)
    assert _client("10.4.0.1").get(PUBLIC).status_code == 200
    assert commands == ["EVALSHA"]


def test_the_windows_are_sorted_sets_that_expire(rates):
    rates(anon="5/min", user="10/hour")
    _client("10.5.0.1").get(PUBLIC)
    connection = throttling._redis()
    for scope, seconds in (("anon", 60), ("user", 3600)):
        key = cache.make_key(f"throttle:window:{scope}:10.5.0.1")
        assert connection.type(key) == b"zset"
        assert 0 < connection.ttl(key) <= seconds


LOCAL_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@override_settings(CACHES=LOCAL_CACHE)
def test_without_redis_the_same_rule_holds_in_the_cache(rates, clock):
    """The development setup (no REDIS_URL) keeps DRF's rule in the local cache."""
    rates(anon="2/min")
    assert throttling._redis() is None
    client = _client("10.6.0.1")
    assert [client.get(PUBLIC).status_code for _ in range(3)] == [200, 200, 429]
    clock[0] += 61
    assert client.get(PUBLIC).status_code == 200


DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
    }
}


def test_redis_down_lets_requests_through(rates):
    rates(anon="1/min")
    with override_settings(CACHES=DEAD_REDIS):
        client = _client("10.7.0.1")
        assert [client.get(PUBLIC).status_code for _ in range(3)] == [200, 200, 200]
