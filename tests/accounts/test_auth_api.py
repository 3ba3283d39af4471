"""auth/register, auth/login, auth/logout, auth/logout-all and the knox tokens."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import User
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
LOGIN = "/api/v1/auth/login/"
LOGOUT = "/api/v1/auth/logout/"
LOGOUT_ALL = "/api/v1/auth/logout-all/"
ME = "/api/v1/me/"


def login(api_client, email, password=DEFAULT_PASSWORD):
    return api_client.post(LOGIN, {"email": email, "password": password}, format="json")


# --- register ---------------------------------------------------------------


def test_register_creates_a_customer_and_answers_like_me(api_client, django_assert_max_num_queries):
    body = {
        "email": "Ada@Example.COM",
        "password": "a-long-unusual-pass-77",
        "first_name": "Ada",
        "last_name": "Lovelace",
    }
    # email taken?, savepoint, one check per case-insensitive constraint, insert, release
    with django_assert_max_num_queries(6):
        response = api_client.post(REGISTER, body, format="json")
    assert response.status_code == 201, response.content
    user = User.objects.get()
    assert response.json() == {
        "id": user.pk,
        "email": "Ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "is_staff": False,
        "date_joined": response.json()["date_joined"],
    }
    assert not user.is_staff and not user.is_superuser
    assert user.check_password("a-long-unusual-pass-77")


def test_register_names_are_optional(api_client):
    response = api_client.post(
        REGISTER, {"email": "x@example.com", "password": "a-long-unusual-pass-77"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["first_name"] == ""


def test_register_email_is_unique_case_insensitively(api_client):
    UserFactory(email="taken@example.com")
    response = api_client.post(
        REGISTER, {"email": "TAKEN@example.com", "password": "a-long-unusual-pass-77"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "email" in response.json()["errors"]
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("password", "why"),
    [("short1", "too short"), ("password123", "too common"), ("83625419730", "numeric")],
)
def test_register_applies_djangos_password_validators(api_client, password, why):
    response = api_client.post(REGISTER, {"email": "new@example.com", "password": password})
    assert response.status_code == 400, why
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == ["password"]
    assert not User.objects.exists()


def test_register_rejects_password_similar_to_the_email(api_client):
    response = api_client.post(
        REGISTER, {"email": "margaretha.hamilton@example.com", "password": "margaretha.hamilton"}
    )
    assert response.status_code == 400
    assert "password" in response.json()["errors"]


def test_register_rejects_bad_email_and_missing_fields(api_client):
    response = api_client.post(REGISTER, {"email": "not-an-email"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"email", "password"}


def test_register_ignores_privilege_fields(api_client):
    response = api_client.post(
        REGISTER,
        {
            "email": "sneaky@example.com",
            "password": "a-long-unusual-pass-77",
            "is_staff": True,
            "is_superuser": True,
        },
    )
    assert response.status_code == 201
    user = User.objects.get()
    assert not user.is_staff and not user.is_superuser


# --- login ------------------------------------------------------------------


def test_login_returns_token_expiry_and_user(api_client, user, django_assert_max_num_queries):
    # 10: one of them deletes the user's expired tokens (requests read only their own).
    with django_assert_max_num_queries(10):
        response = login(api_client, user.email)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "expiry", "user"}
    assert body["user"]["id"] == user.pk
    assert body["user"]["email"] == user.email
    token = AuthToken.objects.get(user=user)
    expected_expiry = timezone.now() + timedelta(hours=10)
    assert abs(token.expiry - expected_expiry) < timedelta(minutes=1)
    user.refresh_from_db()
    assert user.last_login is not None
    me = api_client.get(ME, HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert me.status_code == 200
    assert me.json()["email"] == user.email


def test_login_email_is_case_insensitive(api_client, user):
    assert login(api_client, user.email.upper()).status_code == 200


def test_login_token_is_stored_hashed(api_client, user):
    key = login(api_client, user.email).json()["token"]
    token = AuthToken.objects.get(user=user)
    stored = [str(value) for value in AuthToken.objects.values_list().get()]
    assert key not in stored
    assert token.digest != key and len(token.digest) == 128
    # Only knox's short lookup prefix is kept in clear, never enough to authenticate.
    assert token.token_key == key[:15]


def test_token_ttl_comes_from_settings(api_client, user, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(minutes=5)}
    body = login(api_client, user.email).json()
    token = AuthToken.objects.get(user=user)
    assert timedelta(minutes=4) < token.expiry - timezone.now() <= timedelta(minutes=5)
    assert body["expiry"].startswith(token.expiry.strftime("%Y-%m-%dT%H:%M"))


def test_expired_token_is_refused(api_client, user, monkeypatch):
    key = login(api_client, user.email).json()["token"]
    client = api_client
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(ME).status_code == 200
    later = timezone.now() + timedelta(hours=10, seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert not AuthToken.objects.filter(user=user).exists()


def test_a_request_reads_only_its_own_token(api_client, user):
    """knox reads all the user's tokens on every request to purge expired ones; not here."""
    keys = [login(api_client, user.email).json()["token"] for _ in range(3)]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {keys[0]}")
    with CaptureQueriesContext(connection) as ctx:
        assert api_client.get(ME).status_code == 200
    knox = [q["sql"] for q in ctx.captured_queries if "knox_authtoken" in q["sql"]]
    assert len(knox) == 1, knox
    assert '"knox_authtoken"."token_key" =' in knox[0]


def test_login_deletes_the_users_expired_tokens_only(api_client, user):
    other = UserFactory()
    expired = login(api_client, user.email).json()["token"]
    login(api_client, other.email)
    AuthToken.objects.filter(token_key=expired[:15]).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    AuthToken.objects.filter(user=other).update(expiry=timezone.now() - timedelta(seconds=1))
    fresh = login(api_client, user.email).json()["token"]
    assert list(AuthToken.objects.filter(user=user).values_list("token_key", flat=True)) == [
        fresh[:15]
    ]
    # Another user's expired token waits for that user's next login (or use: 401, deleted).
    assert AuthToken.objects.filter(user=other).count() == 1


def test_an_expired_token_among_live_ones_is_refused_and_deleted(api_client, user):
    live, dead = (login(api_client, user.email).json()["token"] for _ in range(2))
    AuthToken.objects.filter(token_key=dead[:15]).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {dead}")
    assert api_client.get(ME).status_code == 401
    assert not AuthToken.objects.filter(token_key=dead[:15]).exists()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {live}")
    assert api_client.get(ME).status_code == 200


@pytest.mark.parametrize("case", ["unknown email", "wrong password", "malformed email"])
def test_login_failures_all_answer_invalid_credentials(api_client, user, case):
    email, password = {
        "unknown email": ("nobody@example.com", DEFAULT_PASSWORD),
        "wrong password": (user.email, "not-the-password"),
        "malformed email": ("not an email", DEFAULT_PASSWORD),
    }[case]
    response = login(api_client, email, password)
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_credentials",
        "detail": "Unable to log in with the provided credentials.",
    }
    assert not AuthToken.objects.exists()


def test_login_unknown_email_still_hashes_a_password(api_client, monkeypatch):
    """No timing oracle: the unknown-email path runs the hasher like a wrong password."""
    from django.contrib.auth.hashers import MD5PasswordHasher

    calls = []
    original = MD5PasswordHasher.encode

    def counting_encode(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting_encode)
    login(api_client, "nobody@example.com", "whatever")
    assert calls


def test_login_refuses_inactive_user_like_a_bad_password(api_client):
    user = UserFactory(is_active=False)
    response = login(api_client, user.email)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"


def test_login_requires_both_fields(api_client):
    response = api_client.post(LOGIN, {"email": "a@example.com"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == ["password"]


def test_login_ignores_a_stale_token_header(api_client, user):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert login(api_client, user.email).status_code == 200


# --- tokens: deactivation, logout, logout-all ---------------------------------


def test_deactivated_user_token_stops_working_at_once(user):
    client = token_client(user)
    assert client.get(ME).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_logout_revokes_only_this_token(user, django_assert_max_num_queries):
    first, second = token_client(user), token_client(user)
    with django_assert_max_num_queries(4):
        response = first.post(LOGOUT)
    assert response.status_code == 204
    assert first.get(ME).status_code == 401
    assert second.get(ME).status_code == 200
    assert AuthToken.objects.filter(user=user).count() == 1


def test_logout_all_revokes_every_token_of_the_user(user, django_assert_max_num_queries):
    first, second = token_client(user), token_client(user)
    other = token_client(UserFactory())
    with django_assert_max_num_queries(4):
        response = first.post(LOGOUT_ALL)
    assert response.status_code == 204
    assert first.get(ME).status_code == 401
    assert second.get(ME).status_code == 401
    assert other.get(ME).status_code == 200


@pytest.mark.parametrize("path", [LOGOUT, LOGOUT_ALL])
def test_logout_needs_authentication(api_client, path):
    response = api_client.post(path)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_bad_token_is_authentication_failed(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "x" * 64)
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.django_db(transaction=True)
def test_parallel_registrations_of_one_email_make_one_account():
    import threading

    from django.db import connection

    from accounts.exceptions import EmailTaken
    from accounts.services import user_register

    results: list[str] = []
    barrier = threading.Barrier(4)

    def register(i: int) -> None:
        try:
            barrier.wait()
            user_register(
                email=("same" if i % 2 else "SAME") + "@Example.com",
                password="a-long-unusual-pass-77",
            )
            results.append("created")
        except EmailTaken:
            results.append("taken")
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["created", "taken", "taken", "taken"]
    assert User.objects.count() == 1
