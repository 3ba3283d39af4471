import pytest
from django.contrib.auth.models import Permission

from tests.accounts.factories import StaffFactory
from tests.conftest import token_client


def grant(user, *codenames: str) -> None:
    """Give `user` catalog permissions by codename (all of them when none is named)."""
    perms = Permission.objects.filter(content_type__app_label="catalog")
    if codenames:
        perms = perms.filter(codename__in=codenames)
    user.user_permissions.add(*perms)


@pytest.fixture
def manager(db):
    """A staff user with every catalog permission (the "Catalog manager" role)."""
    user = StaffFactory()
    grant(user)
    return user


@pytest.fixture
def manager_client(manager):
    return token_client(manager)
