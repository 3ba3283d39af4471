"""me/password/, auth/password-reset/ and auth/password-reset/confirm/."""

import re

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import override_settings
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from knox.models import AuthToken

from accounts.services import password_reset_link
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

CHANGE = "/api/v1/me/password/"
RESET = "/api/v1/auth/password-reset/"
CONFIRM = "/api/v1/auth/password-reset/confirm/"
ME = "/api/v1/me/"
NEW = "another-long-unusual-pass-42"


# --- me/password/ -------------------------------------------------------------


def test_password_change_keeps_this_token_and_revokes_the_others(
    user, django_assert_max_num_queries
):
    mine, other = token_client(user), token_client(user)
    with django_assert_max_num_queries(6):
        response = mine.post(CHANGE, {"current_password": DEFAULT_PASSWORD, "new_password": NEW})
    assert response.status_code == 204, response.content
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert mine.get(ME).status_code == 200
    assert other.get(ME).status_code == 401
    assert AuthToken.objects.filter(user=user).count() == 1


def test_password_change_with_wrong_current_password(user_client, user):
    response = user_client.post(CHANGE, {"current_password": "nope", "new_password": NEW})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["current_password"]
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_applies_the_validators(user_client, user):
    response = user_client.post(
        CHANGE, {"current_password": DEFAULT_PASSWORD, "new_password": "12345678"}
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["new_password"]
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_needs_authentication(api_client):
    response = api_client.post(CHANGE, {"current_password": "a", "new_password": NEW})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_password_change_with_session_keeps_the_session(user):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=False)
    client.force_login(user)
    response = client.post(CHANGE, {"current_password": DEFAULT_PASSWORD, "new_password": NEW})
    assert response.status_code == 204
    assert client.get(ME).status_code == 200


# --- auth/password-reset/ -----------------------------------------------------


def test_reset_request_sends_an_email_with_a_working_link(
    api_client, user, settings, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    settings.PASSWORD_RESET_URL = "https://shop.example/reset/{uid}/{token}/"
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(1):
        response = api_client.post(RESET, {"email": user.email.upper()})
    assert response.status_code == 202
    assert response.json()["detail"]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert isinstance(message, EmailMultiAlternatives)
    assert message.to == [user.email]
    assert message.subject == "Reset your Stockroom password"
    match = re.search(r"https://shop\.example/reset/([^/]+)/([^/]+)/", str(message.body))
    assert match, message.body
    html, _mimetype = message.alternatives[0]
    assert match.group(0) in str(html)
    uid, token = match.groups()
    response = api_client.post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
    assert response.status_code == 204
    user.refresh_from_db()
    assert user.check_password(NEW)


def test_reset_request_for_unknown_email_answers_the_same(
    api_client, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as known_callbacks:
        known = api_client.post(RESET, {"email": user.email})
    with django_capture_on_commit_callbacks(execute=True) as unknown_callbacks:
        unknown = api_client.post(RESET, {"email": "nobody@example.com"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    # The known path only schedules work for after the response; no email for the unknown.
    assert len(known_callbacks) == 1 and len(unknown_callbacks) == 0
    assert len(mail.outbox) == 1


def test_reset_request_for_inactive_user_sends_nothing(
    api_client, django_capture_on_commit_callbacks
):
    inactive = UserFactory(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(RESET, {"email": inactive.email})
    assert response.status_code == 202
    assert mail.outbox == []


def test_reset_request_rejects_a_malformed_email(api_client):
    response = api_client.post(RESET, {"email": "nope"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["email"]


# --- auth/password-reset/confirm/ ---------------------------------------------


def _link_parts(user):
    return urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)


def test_confirm_sets_the_password_and_revokes_every_token(
    api_client, user, django_assert_max_num_queries
):
    client = token_client(user)
    uid, token = _link_parts(user)
    with django_assert_max_num_queries(6):
        response = api_client.post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
    assert response.status_code == 204
    assert client.get(ME).status_code == 401
    assert not AuthToken.objects.filter(user=user).exists()


def test_confirm_link_is_single_use(api_client, user):
    uid, token = _link_parts(user)
    body = {"uid": uid, "token": token, "new_password": NEW}
    assert api_client.post(CONFIRM, body).status_code == 204
    response = api_client.post(CONFIRM, {**body, "new_password": "yet-another-pass-9911"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"
    user.refresh_from_db()
    assert user.check_password(NEW)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda uid, token: ("not-base64!", token),
        lambda uid, token: (urlsafe_base64_encode(b"999999"), token),
        lambda uid, token: (urlsafe_base64_encode(b"abc"), token),
        lambda uid, token: (uid, "bogus-token"),
        lambda uid, token: (uid, token[:-1] + ("0" if token[-1] != "0" else "1")),
    ],
    ids=["garbage uid", "unknown user", "non-numeric uid", "bogus token", "tampered token"],
)
def test_confirm_rejects_bad_links(api_client, user, mutate):
    uid, token = mutate(*_link_parts(user))
    response = api_client.post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_confirm_rejects_an_expired_link(api_client, user, settings):
    uid, token = _link_parts(user)
    settings.PASSWORD_RESET_TIMEOUT = -1
    response = api_client.post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"


def test_confirm_applies_the_validators(api_client, user):
    uid, token = _link_parts(user)
    response = api_client.post(CONFIRM, {"uid": uid, "token": token, "new_password": "short"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == ["new_password"]


def test_confirm_requires_every_field(api_client):
    response = api_client.post(CONFIRM, {})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"uid", "token", "new_password"}


def test_reset_link_follows_the_setting(user):
    with override_settings(PASSWORD_RESET_URL="https://x.example/#/r?u={uid}&t={token}"):
        link = password_reset_link(user=user)
    assert link.startswith("https://x.example/#/r?u=")
    assert "{token}" not in link


@override_settings(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
)
def test_production_hasher_is_argon2id():
    from django.conf import settings as live

    from config.settings import base

    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert live.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    user = UserFactory.build()
    user.set_password("one-slow-hash-only")
    assert user.password.startswith("argon2$argon2id$")


def test_reset_request_survives_a_broker_outage(
    api_client, user, monkeypatch, django_capture_on_commit_callbacks
):
    """The publish goes to a broker port where nothing listens: still 202, no mail."""
    from config.celery import app
    from tests.foundation.procs import free_port

    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.update(task_always_eager=False, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setattr(app, "_pool", None)  # connections to the real broker: not these
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = api_client.post(RESET, {"email": user.email})
        dead_pool = app._pool
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.update(saved)
    assert response.status_code == 202
    assert len(callbacks) == 1, "the reset email was never queued"
    assert dead_pool is not None, "nothing tried the dead broker"
    assert mail.outbox == []
