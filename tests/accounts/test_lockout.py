"""Brute-force lockout (PostgreSQL counters) and the throttle scopes of auth/."""

import threading
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from accounts.login import (
    ADDRESS_FAILURE_LIMIT,
    EMAIL_FAILURE_LIMIT,
    FAILURE_WINDOW,
    login_failures_purge,
)
from accounts.models import LoginFailure
from accounts.tasks import login_failures_purge as login_failures_purge_task
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory

LOGIN = "/api/v1/auth/login/"
REGISTER = "/api/v1/auth/register/"
RESET = "/api/v1/auth/password-reset/"


def attempt(client, email, password="wrong-password", ip="203.0.113.7"):  # noqa: S107
    return client.post(LOGIN, {"email": email, "password": password}, REMOTE_ADDR=ip)


def fail_times(client, email, n, ip="203.0.113.7"):
    for _ in range(n):
        assert attempt(client, email, ip=ip).json()["code"] == "invalid_credentials"


def assert_locked(response):
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= FAILURE_WINDOW.total_seconds()
    return retry_after


@pytest.mark.django_db
def test_five_failures_lock_the_email_even_for_the_right_password(
    api_client, user, django_assert_max_num_queries
):
    fail_times(api_client, user.email, EMAIL_FAILURE_LIMIT)
    # savepoint, advisory lock, email count, address count, release
    with django_assert_max_num_queries(6):
        response = attempt(api_client, user.email, DEFAULT_PASSWORD)
    retry_after = assert_locked(response)
    assert retry_after > FAILURE_WINDOW.total_seconds() - 60
    # Locked attempts are not counted, so the cool-off cannot be extended forever.
    assert LoginFailure.objects.filter(email=user.email).count() == EMAIL_FAILURE_LIMIT


@pytest.mark.django_db
def test_four_failures_do_not_lock_and_success_resets_the_count(api_client, user):
    fail_times(api_client, user.email, EMAIL_FAILURE_LIMIT - 1)
    assert attempt(api_client, user.email, DEFAULT_PASSWORD).status_code == 200
    assert not LoginFailure.objects.filter(email=user.email).exists()
    fail_times(api_client, user.email, EMAIL_FAILURE_LIMIT - 1)
    assert attempt(api_client, user.email, DEFAULT_PASSWORD).status_code == 200


@pytest.mark.django_db
def test_lock_is_per_email_and_case_insensitive(api_client, user):
    fail_times(api_client, user.email.upper(), EMAIL_FAILURE_LIMIT)
    assert_locked(attempt(api_client, user.email, DEFAULT_PASSWORD))
    other = UserFactory()
    assert attempt(api_client, other.email, DEFAULT_PASSWORD).status_code == 200


@pytest.mark.django_db
def test_unknown_email_locks_the_same_way(api_client):
    """No enumeration through the lockout either."""
    fail_times(api_client, "nobody@example.com", EMAIL_FAILURE_LIMIT)
    assert_locked(attempt(api_client, "nobody@example.com"))


@pytest.mark.django_db
def test_lock_ends_after_the_cool_off(api_client, user, monkeypatch):
    fail_times(api_client, user.email, EMAIL_FAILURE_LIMIT)
    retry_after = assert_locked(attempt(api_client, user.email, DEFAULT_PASSWORD))
    later = timezone.now() + timedelta(seconds=retry_after + 1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert attempt(api_client, user.email, DEFAULT_PASSWORD).status_code == 200


@pytest.mark.django_db
def test_old_failures_do_not_count(api_client, user):
    old = timezone.now() - FAILURE_WINDOW - timedelta(seconds=1)
    LoginFailure.objects.bulk_create(
        LoginFailure(email=user.email, ip_address="203.0.113.7", created_at=old)
        for _ in range(EMAIL_FAILURE_LIMIT)
    )
    assert attempt(api_client, user.email, DEFAULT_PASSWORD).status_code == 200


@pytest.mark.django_db
def test_fifty_failures_lock_the_client_address(api_client, user):
    # Spread over many emails, as a credential-stuffing run would be.
    LoginFailure.objects.bulk_create(
        LoginFailure(email=f"victim{i}@example.com", ip_address="198.51.100.9")
        for i in range(ADDRESS_FAILURE_LIMIT - 1)
    )
    fail_times(api_client, "victim-last@example.com", 1, ip="198.51.100.9")
    assert_locked(attempt(api_client, user.email, DEFAULT_PASSWORD, ip="198.51.100.9"))
    # Another address is unaffected.
    assert attempt(api_client, user.email, DEFAULT_PASSWORD, ip="198.51.100.10").status_code == 200


@pytest.mark.django_db
def test_forty_nine_failures_from_an_address_do_not_lock_it(api_client, user):
    LoginFailure.objects.bulk_create(
        LoginFailure(email=f"v{i}@example.com", ip_address="198.51.100.9")
        for i in range(ADDRESS_FAILURE_LIMIT - 1)
    )
    assert attempt(api_client, user.email, DEFAULT_PASSWORD, ip="198.51.100.9").status_code == 200


@pytest.mark.django_db
def test_lockout_holds_when_the_cache_is_unreachable(api_client, user, settings):
    dead = {
        **settings.CACHES["default"],
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
    }
    with override_settings(CACHES={"default": dead}):
        assert caches["default"].get("probe") is None  # the cache is really down
        fail_times(api_client, user.email, EMAIL_FAILURE_LIMIT)
        assert_locked(attempt(api_client, user.email, DEFAULT_PASSWORD))


@pytest.mark.django_db
def test_purge_deletes_only_expired_failures():
    now = timezone.now()
    LoginFailure.objects.create(email="a@example.com", created_at=now - FAILURE_WINDOW * 2)
    fresh = LoginFailure.objects.create(email="a@example.com", created_at=now)
    assert login_failures_purge(now=now) == 1
    assert list(LoginFailure.objects.all()) == [fresh]
    LoginFailure.objects.create(email="a@example.com", created_at=now - FAILURE_WINDOW * 2)
    assert login_failures_purge_task.delay().get() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_cannot_pass_the_email_limit():
    user = UserFactory()
    codes: list[str] = []
    barrier = threading.Barrier(8)

    def guess() -> None:
        try:
            barrier.wait()
            response = attempt(APIClient(), user.email, ip=f"192.0.2.{len(codes) + 1}")
            codes.append(response.json()["code"])
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == ["invalid_credentials"] * EMAIL_FAILURE_LIMIT + ["throttled"] * 3
    assert LoginFailure.objects.filter(email=user.email).count() == EMAIL_FAILURE_LIMIT


# --- throttle scopes (cache based, in front of the lockout) ------------------


@pytest.fixture
def tight_rates(monkeypatch):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "login": "3/min", "register": "2/min"}
    rates["password_reset"] = "2/min"
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def test_scoped_rates_are_configured():
    rates = SimpleRateThrottle.THROTTLE_RATES
    assert {"login", "register", "password_reset"} <= set(rates)


@pytest.mark.django_db
def test_login_has_its_own_throttle_scope(api_client, user, tight_rates):
    for _ in range(3):
        assert attempt(api_client, "someone@example.com").status_code == 400
    assert_locked(attempt(api_client, user.email, DEFAULT_PASSWORD))


@pytest.mark.django_db
def test_register_has_its_own_throttle_scope(api_client, tight_rates):
    for i in range(2):
        body = {"email": f"n{i}@example.com", "password": "a-long-unusual-pass-77"}
        assert api_client.post(REGISTER, body).status_code == 201
    response = api_client.post(REGISTER, {"email": "n9@example.com", "password": "x"})
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db
def test_password_reset_has_its_own_throttle_scope(api_client, tight_rates):
    for _ in range(2):
        assert api_client.post(RESET, {"email": "a@example.com"}).status_code == 202
    response = api_client.post(RESET, {"email": "a@example.com"})
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert "Retry-After" in response


def test_purge_runs_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["accounts-purge-login-failures"]
    assert entry["task"] == login_failures_purge_task.name
