"""Brute-force lockout (PostgreSQL counters) and the throttle scopes of auth/."""

import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from accounts.login import login_failures_purge
from accounts.models import LoginFailure
from accounts.tasks import login_failures_purge as login_failures_purge_task
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory

LOGIN = "/api/v1/auth/login/"
REGISTER = "/api/v1/auth/register/"
RESET = "/api/v1/auth/password-reset/"
# The defaults (config/settings/base.py); tests of other values override them.
EMAIL_FAILURE_LIMIT = settings.LOGIN_LOCKOUT_EMAIL_FAILURES
ADDRESS_FAILURE_LIMIT = settings.LOGIN_LOCKOUT_ADDRESS_FAILURES
FAILURE_WINDOW = settings.LOGIN_LOCKOUT_WINDOW


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
    # savepoint, key and advisory lock, key count, address count, release
    with django_assert_max_num_queries(6):
        response = attempt(api_client, user.email, DEFAULT_PASSWORD)
    retry_after = assert_locked(response)
    assert retry_after > FAILURE_WINDOW.total_seconds() - 60
    # Locked attempts are not counted, so the cool-off cannot be extended forever.
    assert LoginFailure.objects.filter(lockout_key=f"user:{user.pk}").count() == EMAIL_FAILURE_LIMIT


@pytest.mark.django_db
def test_four_failures_do_not_lock_and_success_resets_the_count(api_client, user):
    fail_times(api_client, user.email, EMAIL_FAILURE_LIMIT - 1)
    assert attempt(api_client, user.email, DEFAULT_PASSWORD).status_code == 200
    assert not LoginFailure.objects.filter(lockout_key=f"user:{user.pk}").exists()
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
        LoginFailure(
            lockout_key=f"user:{user.pk}",
            email=user.email,
            ip_address="203.0.113.7",
            created_at=old,
        )
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
    assert LoginFailure.objects.filter(lockout_key=f"user:{user.pk}").count() == EMAIL_FAILURE_LIMIT


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


# --- the admin's login page: same lockout, same throttle scope ---------------

ADMIN_LOGIN = f"/{settings.ADMIN_URL}login/"


def admin_attempt(email, password="wrong-password", ip="203.0.113.7"):  # noqa: S107
    return Client().post(ADMIN_LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def assert_admin_locked(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many failed log-in attempts" in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session
    return int(response["Retry-After"])


def assert_admin_refused(response):
    assert response.status_code == 200
    assert "Please enter the correct email address and password" in response.content.decode()


@pytest.mark.django_db
def test_admin_login_locks_after_the_limit_whatever_the_password(staff_user):
    for _ in range(EMAIL_FAILURE_LIMIT):
        assert_admin_refused(admin_attempt(staff_user.email))
    right = assert_admin_locked(admin_attempt(staff_user.email, DEFAULT_PASSWORD))
    wrong = assert_admin_locked(admin_attempt(staff_user.email))
    assert abs(right - wrong) <= 1
    assert right > FAILURE_WINDOW.total_seconds() - 60
    assert LoginFailure.objects.filter(lockout_key=f"user:{staff_user.pk}").count() == (
        EMAIL_FAILURE_LIMIT
    )


@pytest.mark.django_db
def test_admin_login_below_the_limit_logs_in_and_clears_the_failures(staff_user):
    for _ in range(EMAIL_FAILURE_LIMIT - 1):
        assert_admin_refused(admin_attempt(staff_user.email))
    response = admin_attempt(staff_user.email, DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert response.wsgi_request.session["_auth_user_id"] == str(staff_user.pk)
    assert not LoginFailure.objects.exists()


@pytest.mark.django_db
def test_api_and_admin_failures_count_against_one_lockout(api_client, staff_user):
    half = EMAIL_FAILURE_LIMIT // 2
    fail_times(api_client, staff_user.email, half)
    for _ in range(EMAIL_FAILURE_LIMIT - half):
        assert_admin_refused(admin_attempt(staff_user.email.upper()))
    assert_locked(attempt(api_client, staff_user.email, DEFAULT_PASSWORD))
    assert_admin_locked(admin_attempt(staff_user.email, DEFAULT_PASSWORD))


@pytest.mark.django_db
def test_client_address_limit_applies_to_the_admin_login(staff_user):
    LoginFailure.objects.bulk_create(
        LoginFailure(lockout_key=f"email:V{i}@EXAMPLE.COM", ip_address="198.51.100.9")
        for i in range(ADDRESS_FAILURE_LIMIT - 1)
    )
    assert_admin_refused(admin_attempt("victim-last@example.com", ip="198.51.100.9"))
    assert_admin_locked(admin_attempt(staff_user.email, DEFAULT_PASSWORD, ip="198.51.100.9"))
    assert admin_attempt(staff_user.email, DEFAULT_PASSWORD, ip="198.51.100.10").status_code == 302


@pytest.mark.django_db
def test_admin_login_shares_the_login_throttle_scope(api_client, staff_user, tight_rates):
    for _ in range(2):
        assert attempt(api_client, "someone@example.com").status_code == 400
    assert_admin_refused(admin_attempt("someone-else@example.com"))
    assert_admin_locked(admin_attempt(staff_user.email, DEFAULT_PASSWORD))
    assert_locked(attempt(api_client, staff_user.email, DEFAULT_PASSWORD))
    # The rate throttle refused before the lockout counted anything.
    assert LoginFailure.objects.count() == 3


@pytest.mark.django_db
def test_admin_login_page_still_renders_and_a_customer_is_refused(user):
    assert Client().get(ADMIN_LOGIN).status_code == 200
    assert_admin_refused(admin_attempt(user.email, DEFAULT_PASSWORD))


# --- the limits are settings --------------------------------------------------


@pytest.mark.django_db
@override_settings(LOGIN_LOCKOUT_EMAIL_FAILURES=2)
def test_the_email_limit_is_a_setting(api_client, user):
    fail_times(api_client, user.email, 2)
    assert_locked(attempt(api_client, user.email, DEFAULT_PASSWORD))
    assert_admin_locked(admin_attempt(user.email, DEFAULT_PASSWORD))


@pytest.mark.django_db
@override_settings(LOGIN_LOCKOUT_EMAIL_FAILURES=EMAIL_FAILURE_LIMIT + 2)
def test_a_higher_email_limit_allows_more_failures(api_client, user):
    fail_times(api_client, user.email, EMAIL_FAILURE_LIMIT + 1)
    assert attempt(api_client, user.email, DEFAULT_PASSWORD).status_code == 200


@pytest.mark.django_db
@override_settings(LOGIN_LOCKOUT_ADDRESS_FAILURES=3)
def test_the_address_limit_is_a_setting(api_client, user):
    for i in range(3):
        fail_times(api_client, f"sprayed{i}@example.com", 1, ip="198.51.100.9")
    assert_locked(attempt(api_client, user.email, DEFAULT_PASSWORD, ip="198.51.100.9"))
    assert attempt(api_client, user.email, DEFAULT_PASSWORD, ip="198.51.100.10").status_code == 200


@pytest.mark.django_db
@override_settings(LOGIN_LOCKOUT_WINDOW=timedelta(minutes=2))
def test_the_window_is_a_setting(api_client, user):
    old = timezone.now() - timedelta(minutes=3)
    LoginFailure.objects.bulk_create(
        LoginFailure(lockout_key=f"user:{user.pk}", created_at=old)
        for _ in range(EMAIL_FAILURE_LIMIT)
    )
    assert attempt(api_client, user.email, DEFAULT_PASSWORD).status_code == 200
    fail_times(api_client, user.email, EMAIL_FAILURE_LIMIT)
    assert assert_locked(attempt(api_client, user.email, DEFAULT_PASSWORD)) <= 120
    assert login_failures_purge(now=timezone.now() + timedelta(minutes=2)) == EMAIL_FAILURE_LIMIT


def test_env_example_lists_the_lockout_settings_with_their_defaults():
    env_example = (settings.BASE_DIR / ".env.example").read_text()
    assert "# LOGIN_LOCKOUT_EMAIL_FAILURES=5\n" in env_example
    assert "# LOGIN_LOCKOUT_ADDRESS_FAILURES=50\n" in env_example
    assert "# LOGIN_LOCKOUT_WINDOW_MINUTES=15\n" in env_example
    assert (EMAIL_FAILURE_LIMIT, ADDRESS_FAILURE_LIMIT) == (5, 50)
    assert timedelta(minutes=15) == FAILURE_WINDOW


@pytest.mark.parametrize(
    "variable",
    [
        "LOGIN_LOCKOUT_EMAIL_FAILURES",
        "LOGIN_LOCKOUT_ADDRESS_FAILURES",
        "LOGIN_LOCKOUT_WINDOW_MINUTES",
    ],
)
def test_a_limit_below_one_is_refused_at_start_up(variable):
    """Zero would lock everyone out: the settings refuse to load."""
    env = {**os.environ, variable: "0", "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {variable} must be at least 1" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_failures_the_key_a_log_in_would_use_now():
    before = [("accounts", "0005_user_admin_indexes")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    user = old.get_model("accounts", "User").objects.create(email="miss.iris@example.com")
    failure = old.get_model("accounts", "LoginFailure").objects
    failure.create(email="miss.iris@example.com")
    failure.create(email="m\N{LATIN SMALL LETTER DOTLESS I}ss.iris@example.com")
    failure.create(email="ghost@example.com")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    keys = sorted(LoginFailure.objects.values_list("lockout_key", flat=True))
    assert keys == ["email:GHOST@EXAMPLE.COM", f"user:{user.pk}", f"user:{user.pk}"]
