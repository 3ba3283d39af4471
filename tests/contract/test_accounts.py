"""Contract, "Accounts": registration, tokens, the lockout, me/ and addresses."""

import pytest
from knox.models import AuthToken

from tests.accounts.factories import AddressFactory
from tests.conftest import token_client
from tests.contract.schema import operation

ME_FIELDS = {"id", "email", "first_name", "last_name", "is_staff", "date_joined"}


def test_login_schema_documents_both_of_its_400_codes():
    description = operation("/api/v1/auth/login/", "post")["responses"]["400"]["description"]
    assert "invalid_credentials" in description
    assert "`invalid`" in description


@pytest.mark.django_db
def test_register_answers_the_user_as_me_shows_it(api_client):
    body = {"email": "Ada@Example.org", "password": "a-long-enough-pass-77"}
    response = api_client.post("/api/v1/auth/register/", body)
    assert response.status_code == 201
    assert set(response.json()) == ME_FIELDS
    again = api_client.post("/api/v1/auth/register/", {**body, "email": "ada@EXAMPLE.org"})
    assert again.status_code == 400
    assert set(again.json()["errors"]) == {"email"}


@pytest.mark.django_db
def test_login_answers_token_expiry_and_user(api_client, user, password):
    response = api_client.post("/api/v1/auth/login/", {"email": user.email, "password": password})
    assert response.status_code == 200
    assert set(response.json()) == {"token", "expiry", "user"}
    assert set(response.json()["user"]) == ME_FIELDS


@pytest.mark.django_db
def test_five_failures_lock_the_email_from_the_sixth_attempt(api_client, user, password):
    wrong = {"email": user.email, "password": "wrong-password"}
    codes = [api_client.post("/api/v1/auth/login/", wrong).json()["code"] for _ in range(5)]
    assert codes == ["invalid_credentials"] * 5
    locked = api_client.post("/api/v1/auth/login/", {"email": user.email, "password": password})
    assert locked.status_code == 429
    assert locked.json()["code"] == "throttled"
    assert int(locked["Retry-After"]) > 0


@pytest.mark.django_db
def test_a_password_change_ends_the_other_tokens_but_not_this_one(user, password):
    this, other = token_client(user), token_client(user)
    body = {"current_password": password, "new_password": "another-long-pass-88"}
    assert this.post("/api/v1/me/password/", body).status_code == 204
    assert this.get("/api/v1/me/").status_code == 200
    assert other.get("/api/v1/me/").json()["code"] == "authentication_failed"


@pytest.mark.django_db
def test_a_wrong_current_password_is_400_with_errors_current_password(user_client):
    body = {"current_password": "nope", "new_password": "another-long-pass-88"}
    response = user_client.post("/api/v1/me/password/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == ["current_password"]


@pytest.mark.django_db
def test_logout_all_ends_every_token(user, user_client):
    token_client(user)
    assert user_client.post("/api/v1/auth/logout-all/").status_code == 204
    assert not AuthToken.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_someone_elses_address_is_404(user_client):
    address = AddressFactory()
    assert user_client.get(f"/api/v1/me/addresses/{address.pk}/").status_code == 404
    assert user_client.delete(f"/api/v1/me/addresses/{address.pk}/").status_code == 404


@pytest.mark.django_db
def test_export_has_profile_addresses_and_orders(user_client):
    assert {"profile", "addresses", "orders"} <= set(user_client.get("/api/v1/me/export/").json())
