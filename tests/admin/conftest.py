"""Staff of each role from `setup_roles`, logged in to the admin."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.roles import roles_setup
from tests.accounts.factories import StaffFactory

ROLE_NAMES = ("Catalog manager", "Order manager", "Support", "Analyst", "Integration manager")


@pytest.fixture
def roles(db) -> dict[str, Group]:
    roles_setup(warn=lambda message: None)
    return {group.name: group for group in Group.objects.filter(name__in=ROLE_NAMES)}


@pytest.fixture
def role_client(roles):
    """role_client("Support") -> a Client logged in as a staff member of that role only."""

    def make(role: str) -> Client:
        staff = StaffFactory()
        staff.groups.set([roles[role]])
        client = Client()
        client.force_login(staff)
        client.user = staff  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def admin_client_super(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client
