"""me/ (read, update, erase) and me/export/, with the personal-data registries."""

import pytest
from django.contrib.auth import authenticate
from knox.models import AuthToken

from accounts import personal_data
from accounts.models import Address, LoginFailure, User
from accounts.services import user_erase
from tests.accounts.factories import DEFAULT_PASSWORD, AddressFactory, UserFactory
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
EXPORT = "/api/v1/me/export/"
LOGIN = "/api/v1/auth/login/"


def test_me_shows_the_documented_fields(user_client, user, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = user_client.get(ME)
    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_staff": False,
        "date_joined": user.date_joined.isoformat().replace("+00:00", "Z"),
    }


def test_me_needs_authentication(api_client):
    for method in ("get", "patch", "delete"):
        response = getattr(api_client, method)(ME)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_me_patch_changes_the_names(user_client, user, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = user_client.patch(ME, {"first_name": "Grace", "last_name": "Hopper"})
    assert response.status_code == 200
    assert response.json()["first_name"] == "Grace"
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("Grace", "Hopper")


def test_me_patch_one_name_keeps_the_other(user_client, user):
    last_name = user.last_name
    assert user_client.patch(ME, {"first_name": "Grace"}).status_code == 200
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("Grace", last_name)


def test_me_patch_ignores_everything_but_the_names(user_client, user):
    before = User.objects.values().get(pk=user.pk)
    response = user_client.patch(
        ME,
        {
            "is_staff": True,
            "is_superuser": True,
            "is_active": False,
            "email": "hijack@example.com",
            "date_joined": "2000-01-01T00:00:00Z",
            "id": 999,
            "password": "x",
            "phone": "123",
        },
    )
    assert response.status_code == 200
    assert User.objects.values().get(pk=user.pk) == before
    assert response.json()["email"] == user.email


def test_me_patch_rejects_overlong_names(user_client):
    response = user_client.patch(ME, {"first_name": "x" * 151})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["first_name"]


def test_me_put_is_not_allowed(user_client):
    assert user_client.put(ME, {"first_name": "A"}).status_code == 405


# --- export ---------------------------------------------------------------------


def test_export_contains_profile_addresses_and_orders(
    user_client, user, django_assert_max_num_queries
):
    address = AddressFactory(user=user, country="FR")
    AddressFactory()  # someone else's
    with django_assert_max_num_queries(6):
        response = user_client.get(EXPORT)
    assert response.status_code == 200
    body = response.json()
    assert body["profile"]["email"] == user.email
    assert body["profile"]["phone"] == user.phone
    assert [a["id"] for a in body["addresses"]] == [address.pk]
    assert body["addresses"][0]["line1"] == address.line1
    assert body["orders"] == []
    assert len(body["tokens"]) == 1
    assert set(body["tokens"][0]) == {"created", "expiry"}  # never a digest or key


def test_export_has_orders_even_without_an_orders_exporter(user_client, monkeypatch):
    monkeypatch.delitem(personal_data.EXPORTERS, "orders", raising=False)
    assert user_client.get(EXPORT).json()["orders"] == []


def test_export_includes_every_registered_section(user_client, user, monkeypatch):
    monkeypatch.setitem(personal_data.EXPORTERS, "loyalty", lambda u: {"points": u.pk})
    assert user_client.get(EXPORT).json()["loyalty"] == {"points": user.pk}


def test_exporter_cannot_take_an_accounts_section():
    with pytest.raises(ValueError, match="profile"):
        personal_data.register_exporter("profile")


def test_export_lists_the_users_orders(user_client, user):
    from tests.orders.factories import OrderFactory

    order = OrderFactory(user=user)
    OrderFactory()
    orders = user_client.get(EXPORT).json()["orders"]
    assert [o["number"] for o in orders] == [order.number]


def test_export_needs_authentication(api_client):
    assert api_client.get(EXPORT).status_code == 401


# --- erasure (DELETE me/) -----------------------------------------------------


@pytest.fixture
def eraser_calls():
    calls: list[int] = []

    def eraser(user):
        calls.append(user.pk)

    personal_data.register_eraser(eraser)
    yield calls
    personal_data.ERASERS.remove(eraser)


def test_delete_me_erases_personal_data_and_keeps_the_row(
    user, eraser_calls, django_assert_max_num_queries
):
    user.phone = "+33 1 23 45 67 89"
    user.save()
    AddressFactory.create_batch(2, user=user)
    client, other = token_client(user), token_client(user)
    old_email = user.email
    LoginFailure.objects.create(lockout_key=f"user:{user.pk}", email=old_email)
    with django_assert_max_num_queries(16):
        response = client.delete(ME, {"password": DEFAULT_PASSWORD})
    assert response.status_code == 204, response.content
    erased = User.objects.get(pk=user.pk)
    assert erased.email == f"deleted-{user.pk}@erased.invalid"
    assert (erased.first_name, erased.last_name, erased.phone) == ("", "", "")
    assert not erased.is_active
    assert not erased.has_usable_password()
    assert not Address.objects.filter(user=erased).exists()
    assert not AuthToken.objects.filter(user=erased).exists()
    assert not LoginFailure.objects.exists()
    assert eraser_calls == [user.pk]
    assert other.get(ME).status_code == 401


def test_login_after_erasure_is_a_plain_invalid_credentials(api_client, user):
    email = user.email
    assert token_client(user).delete(ME, {"password": DEFAULT_PASSWORD}).status_code == 204
    for login_email in (email, f"deleted-{user.pk}@erased.invalid"):
        response = api_client.post(LOGIN, {"email": login_email, "password": DEFAULT_PASSWORD})
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_credentials"


def test_erased_email_can_register_again(api_client, user):
    email = user.email
    user_erase(user=user)
    response = api_client.post(
        "/api/v1/auth/register/", {"email": email, "password": "a-long-unusual-pass-77"}
    )
    assert response.status_code == 201


def test_delete_me_with_a_wrong_password_changes_nothing(user_client, user):
    response = user_client.delete(ME, {"password": "not-it"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == ["password"]
    user.refresh_from_db()
    assert user.is_active
    assert authenticate(email=user.email, password=DEFAULT_PASSWORD) == user


def test_delete_me_requires_the_password(user_client, user):
    response = user_client.delete(ME)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["password"]


def test_erasure_keeps_orders_and_reduces_their_address(user):
    from tests.orders.factories import OrderFactory

    order = OrderFactory(user=user)
    user_erase(user=user)
    order.refresh_from_db()
    assert order.user_id == user.pk
    assert order.shipping_full_name == "" and order.shipping_line1 == ""
    assert (order.shipping_city, order.shipping_country) == ("London", "GB")


def test_a_failing_eraser_rolls_the_whole_erasure_back(user):
    def broken(u):
        raise RuntimeError("boom")

    personal_data.register_eraser(broken)
    try:
        with pytest.raises(RuntimeError):
            user_erase(user=user)
    finally:
        personal_data.ERASERS.remove(broken)
    user.refresh_from_db()
    assert user.is_active and user.has_usable_password()


def test_erased_placeholders_are_unique_per_user():
    first, second = UserFactory(), UserFactory()
    user_erase(user=first)
    user_erase(user=second)
    assert User.objects.filter(email__endswith="@erased.invalid").count() == 2


def test_erasure_drops_staff_rights():
    from django.contrib.auth.models import Group

    from tests.accounts.factories import StaffFactory

    staff = StaffFactory(is_superuser=True)
    staff.groups.add(Group.objects.create(name="Support"))
    user_erase(user=staff)
    staff.refresh_from_db()
    assert not staff.is_staff and not staff.is_superuser
    assert not staff.groups.exists()


def test_erasure_renames_the_back_office_history_of_the_account(user, superuser):
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    LogEntry.objects.log_actions(
        user_id=superuser.pk, queryset=[user], action_flag=CHANGE, change_message="Changed name."
    )
    old_email = user.email
    user_erase(user=user)
    entry = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(User))
    assert entry.object_repr == f"deleted-{user.pk}@erased.invalid"
    assert not LogEntry.objects.filter(object_repr__icontains=old_email).exists()
