"""The back office for people: user admin, addresses inline, tokens without digests."""

import re

import pytest
from django.test import Client
from knox.models import AuthToken

from accounts.models import LoginFailure, User
from tests.accounts.factories import AddressFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def visible_text(html: str) -> str:
    """What a person sees: the page without tags or attribute values."""
    return re.sub(r"<[^>]*>", " ", html)


def test_user_changelist_lists_and_searches(admin_client, django_assert_max_num_queries):
    UserFactory(email="findme@example.com", first_name="Findme")
    UserFactory.create_batch(5)
    with django_assert_max_num_queries(12):
        response = admin_client.get("/admin/accounts/user/", {"q": "findme"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "findme@example.com" in html
    assert "Date joined" in html and "Last login" in html
    filtered = admin_client.get("/admin/accounts/user/", {"is_staff__exact": "1"})
    assert "findme@example.com" not in filtered.content.decode()


def test_user_change_page_shows_addresses_and_tokens_without_digests(admin_client, user):
    AddressFactory(user=user, line1="1 Inline Road")
    token, key = AuthToken.objects.create(user=user)
    response = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 Inline Road" in html
    assert "API tokens" in html
    text = visible_text(html)
    assert token.digest not in text
    assert key not in html
    assert token.token_key not in text


def test_user_add_page_uses_email_and_djangos_password_form(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "new.staff@example.com",
            "password1": "a-long-unusual-pass-77",
            "password2": "a-long-unusual-pass-77",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="new.staff@example.com")
    assert user.check_password("a-long-unusual-pass-77")


def test_token_deleted_from_the_inline_is_revoked(admin_client, user):
    token, _ = AuthToken.objects.create(user=user)
    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    prefix = re.search(r'name="([\w-]+)-TOTAL_FORMS"[^>]*value="1"', page)
    assert prefix, "token inline missing"
    formset = prefix.group(1)
    address_prefix = "addresses"
    data = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": "",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        f"{address_prefix}-TOTAL_FORMS": "0",
        f"{address_prefix}-INITIAL_FORMS": "0",
        f"{formset}-TOTAL_FORMS": "1",
        f"{formset}-INITIAL_FORMS": "1",
        f"{formset}-0-digest": token.digest,
        f"{formset}-0-user": str(user.pk),
        f"{formset}-0-DELETE": "on",
    }
    response = admin_client.post(f"/admin/accounts/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not AuthToken.objects.filter(pk=token.pk).exists()


def test_revoke_tokens_action(admin_client, user):
    AuthToken.objects.create(user=user)
    other = UserFactory()
    AuthToken.objects.create(user=other)
    response = admin_client.post(
        "/admin/accounts/user/",
        {"action": "revoke_tokens", "_selected_action": [user.pk]},
    )
    assert response.status_code == 302
    assert not AuthToken.objects.filter(user=user).exists()
    assert AuthToken.objects.filter(user=other).exists()


def test_erase_action_calls_the_erasure_service(admin_client, user, superuser):
    response = admin_client.post(
        "/admin/accounts/user/",
        {"action": "erase_personal_data", "_selected_action": [user.pk, superuser.pk]},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    superuser.refresh_from_db()
    assert user.email.endswith("@erased.invalid") and not user.is_active
    assert superuser.is_active


def test_token_admin_lists_tokens_without_digests_and_revokes(admin_client, user):
    token, _ = AuthToken.objects.create(user=user)
    response = admin_client.get("/admin/accounts/apitoken/")
    assert response.status_code == 200
    html = response.content.decode()
    assert user.email in html
    assert token.digest not in visible_text(html)
    assert f"/admin/accounts/apitoken/{token.digest}" not in html
    response = admin_client.post(
        "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )
    assert response.status_code == 302
    assert not AuthToken.objects.exists()


def test_login_failures_are_visible_read_only(admin_client):
    LoginFailure.objects.create(email="attacked@example.com", ip_address="203.0.113.5")
    response = admin_client.get("/admin/accounts/loginfailure/")
    assert response.status_code == 200
    assert "attacked@example.com" in response.content.decode()
    assert admin_client.get("/admin/accounts/loginfailure/add/").status_code == 403
