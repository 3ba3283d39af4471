"""In the user admin, only superusers grant rights or touch a superuser's account."""

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from accounts.models import User
from tests.accounts.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

RIGHTS = ("is_superuser", "groups", "user_permissions")


@pytest.fixture
def user_manager() -> User:
    """Staff, not superuser, who holds accounts.change_user (and view_user)."""
    staff = StaffFactory()
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user", "delete_user"])
    )
    return staff


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post_change(client: Client, target: User, **changes: object):
    """Post the change form of `target` as a browser would, every right ticked."""
    url = f"/admin/accounts/user/{target.pk}/change/"
    page = client.get(url).content.decode()
    data: dict[str, object] = {
        "email": target.email,
        "first_name": "Renamed",
        "last_name": target.last_name,
        "phone": "",
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [Group.objects.create(name="Everything").pk],
        "user_permissions": list(Permission.objects.values_list("pk", flat=True)),
    }
    for prefix in re.findall(r'name="([\w-]+)-TOTAL_FORMS"', page):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return client.post(url, data | changes)


@pytest.mark.parametrize("whose", ["a customer's", "their own"])
def test_staff_with_change_user_cannot_grant_rights_by_posting_them(user_manager, whose):
    target = UserFactory() if whose == "a customer's" else user_manager
    client = _client(user_manager)

    response = _post_change(client, target)

    assert response.status_code == 302  # the rest of the form was accepted
    target.refresh_from_db()
    assert target.first_name == "Renamed"
    assert target.is_superuser is False
    assert list(target.groups.all()) == []
    assert list(target.user_permissions.all()) == list(
        user_manager.user_permissions.all() if target == user_manager else []
    )


def test_staff_with_change_user_sees_rights_read_only(user_manager):
    response = _client(user_manager).get(f"/admin/accounts/user/{UserFactory().pk}/change/")

    form = response.context["adminform"].form
    assert response.status_code == 200
    assert not set(RIGHTS) & set(form.fields)
    assert "email" in form.fields


def test_superuser_grants_rights(superuser):
    target = UserFactory()

    response = _post_change(_client(superuser), target)

    assert response.status_code == 302
    target.refresh_from_db()
    assert target.is_superuser is True
    assert [g.name for g in target.groups.all()] == ["Everything"]
    assert target.user_permissions.count() == Permission.objects.count()


def test_staff_cannot_take_over_or_delete_a_superuser_account(user_manager, superuser):
    client = _client(user_manager)
    before = superuser.email

    assert _post_change(client, superuser, email="mine@example.com").status_code == 403
    password = client.post(
        f"/admin/accounts/user/{superuser.pk}/password/",
        {"password1": "a-long-unusual-pass-77", "password2": "a-long-unusual-pass-77"},
    )
    delete = client.post(f"/admin/accounts/user/{superuser.pk}/delete/", {"post": "yes"})
    bulk = client.post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "_selected_action": [superuser.pk], "post": "yes"},
    )

    assert (password.status_code, delete.status_code) == (403, 403)
    assert bulk.status_code in (200, 403)
    superuser.refresh_from_db()
    assert superuser.email == before
    assert superuser.check_password("a-long-unusual-pass-77") is False
