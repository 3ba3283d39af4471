"""accounts.backends.ModelBackend: Django's answers, in one query instead of two."""

import pytest
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.models import Group, Permission

from accounts.backends import ModelBackend
from accounts.models import User
from tests.accounts.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _perm(label: str) -> Permission:
    app, codename = label.split(".")
    return Permission.objects.get(content_type__app_label=app, codename=codename)


def _fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)  # no permission cache yet


@pytest.fixture
def users():
    plain = UserFactory()
    direct = UserFactory()
    direct.user_permissions.add(_perm("orders.transition_order"), _perm("catalog.view_variant"))
    managers = Group.objects.create(name="Managers")
    managers.permissions.add(_perm("orders.view_order"), _perm("orders.transition_order"))
    readers = Group.objects.create(name="Readers")
    readers.permissions.add(_perm("catalog.view_product"))
    grouped = StaffFactory()
    grouped.groups.add(managers, readers)
    both = StaffFactory()
    both.groups.add(readers)
    both.user_permissions.add(_perm("orders.cancel_order"))
    inactive = StaffFactory(is_active=False)
    inactive.groups.add(managers)
    superuser = StaffFactory(is_superuser=True)
    return [plain, direct, grouped, both, inactive, superuser]


def test_every_kind_of_user_gets_the_same_permissions_as_with_djangos_backend(users):
    ours, django = ModelBackend(), DjangoModelBackend()
    for user in users:
        expected = django.get_all_permissions(_fresh(user))
        assert ours.get_all_permissions(_fresh(user)) == expected, user
        for label in ("orders.transition_order", "orders.view_order", "catalog.view_product"):
            assert ours.has_perm(_fresh(user), label) == django.has_perm(_fresh(user), label)
    grouped = _fresh(users[2])
    assert ours.get_all_permissions(grouped) == {
        "orders.view_order",
        "orders.transition_order",
        "catalog.view_product",
    }


def test_the_settings_use_it_and_a_user_costs_one_query_per_request(
    users, django_assert_num_queries
):
    customer = _fresh(users[3])
    with django_assert_num_queries(1):
        assert customer.has_perm("orders.cancel_order")
        assert customer.has_perm("catalog.view_product")
        assert not customer.has_perm("orders.transition_order")
