"""manage.py setup_roles, each role's permissions, and StaffModelPermissions."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from rest_framework import generics
from rest_framework.test import APIRequestFactory, force_authenticate

from accounts import roles
from accounts.models import Address
from accounts.permissions import StaffModelPermissions
from tests.accounts.factories import StaffFactory

pytestmark = pytest.mark.django_db

ROLE_NAMES = {"Catalog manager", "Order manager", "Support", "Analyst", "Integration manager"}


def perms_of(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def all_perms(app_label: str, prefix: str = "") -> set[str]:
    return {
        f"{app_label}.{codename}"
        for codename in Permission.objects.filter(
            content_type__app_label=app_label, codename__startswith=prefix
        ).values_list("codename", flat=True)
    }


def setup_roles() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("setup_roles", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_setup_roles_creates_the_groups_with_exactly_their_permissions():
    out, err = setup_roles()
    assert "Roles are up to date." in out
    assert err == ""
    assert set(Group.objects.values_list("name", flat=True)) >= ROLE_NAMES
    assert perms_of("Catalog manager") == all_perms("catalog") | all_perms("pricing")
    assert perms_of("Order manager") == (
        all_perms("orders") | all_perms("catalog", "view_") | all_perms("pricing", "view_")
    )
    assert perms_of("Support") == all_perms("orders", "view_") | {
        "accounts.view_user",
        "accounts.view_address",
        "orders.cancel_order",
    }
    assert perms_of("Analyst") == (
        all_perms("accounts", "view_")
        | all_perms("catalog", "view_")
        | all_perms("orders", "view_")
        | all_perms("pricing", "view_")
    )
    assert perms_of("Integration manager") == all_perms("webhooks")
    assert all(p.split(".")[1].startswith("view_") for p in perms_of("Analyst"))


def test_only_the_integration_manager_has_webhook_permissions():
    setup_roles()
    webhooks = all_perms("webhooks")
    assert {"webhooks.add_endpoint", "webhooks.change_endpoint", "webhooks.change_delivery"} <= (
        webhooks
    )
    holders = {name for name in ROLE_NAMES if perms_of(name) & webhooks}
    assert holders == {"Integration manager"}


def test_setup_roles_twice_gives_the_same_groups():
    setup_roles()
    first = {name: perms_of(name) for name in ROLE_NAMES}
    group_ids = set(Group.objects.values_list("pk", flat=True))
    setup_roles()
    assert {name: perms_of(name) for name in ROLE_NAMES} == first
    assert set(Group.objects.values_list("pk", flat=True)) == group_ids


def test_setup_roles_removes_permissions_added_by_hand():
    setup_roles()
    support = Group.objects.get(name="Support")
    support.permissions.add(Permission.objects.get(codename="delete_user"))
    setup_roles()
    assert "accounts.delete_user" not in perms_of("Support")


def test_setup_roles_covers_models_added_later():
    setup_roles()
    product_type = ContentType.objects.get(app_label="catalog", model="product")
    Permission.objects.create(
        codename="view_shiny", name="Can view shiny", content_type=product_type
    )
    Permission.objects.create(codename="polish_shiny", name="Polish", content_type=product_type)
    setup_roles()
    assert {"catalog.view_shiny", "catalog.polish_shiny"} <= perms_of("Catalog manager")
    assert "catalog.view_shiny" in perms_of("Analyst")
    assert "catalog.polish_shiny" not in perms_of("Analyst")


def test_setup_roles_skips_a_missing_permission_with_a_warning(monkeypatch):
    role = roles.Role(name="Support", description="", named=("orders.refund_everything",))
    monkeypatch.setattr(roles, "ROLES", (role,))
    _, err = setup_roles()
    assert "orders.refund_everything does not exist yet; skipped" in err
    assert perms_of("Support") == set()


def test_each_role_grants_what_it_says():
    setup_roles()
    users = {name: StaffFactory() for name in ROLE_NAMES}
    for name, user in users.items():
        user.groups.add(Group.objects.get(name=name))
    catalog, orders, support, analyst = (
        users["Catalog manager"],
        users["Order manager"],
        users["Support"],
        users["Analyst"],
    )
    assert catalog.has_perms(["catalog.add_product", "catalog.change_variant"])
    assert not catalog.has_perm("orders.view_order")
    assert orders.has_perms(["orders.change_order", "orders.cancel_order", "catalog.view_product"])
    assert not orders.has_perm("catalog.change_product")
    assert support.has_perms(["accounts.view_user", "orders.view_order", "orders.cancel_order"])
    assert not support.has_perm("orders.change_order")
    assert not support.has_perm("accounts.change_user")
    assert analyst.has_perms(["accounts.view_user", "catalog.view_variant", "orders.view_order"])
    assert not any(
        analyst.has_perm(f"{app}.{verb}_{model}")
        for app, model in [("catalog", "product"), ("orders", "order"), ("accounts", "user")]
        for verb in ("add", "change", "delete")
    )


# --- StaffModelPermissions ---------------------------------------------------


class AddressStaffView(generics.ListCreateAPIView):
    queryset = Address.objects.all()
    permission_classes = [StaffModelPermissions]

    def list(self, request, *args, **kwargs):
        from rest_framework.response import Response

        return Response([])

    def create(self, request, *args, **kwargs):
        from rest_framework.response import Response

        return Response({}, status=201)


def call(method: str, user) -> int:
    request = getattr(APIRequestFactory(), method)("/staff/addresses/", {}, format="json")
    force_authenticate(request, user=user)
    return AddressStaffView.as_view()(request).status_code


def test_staff_model_permissions_need_view_for_reads():
    staff = StaffFactory()
    assert call("get", staff) == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_address"))
    staff = type(staff).objects.get(pk=staff.pk)  # fresh permission cache
    assert call("get", staff) == 200
    assert call("post", staff) == 403
    staff.user_permissions.add(Permission.objects.get(codename="add_address"))
    staff = type(staff).objects.get(pk=staff.pk)
    assert call("post", staff) == 201


def test_staff_model_permissions_follow_the_roles():
    setup_roles()
    analyst = StaffFactory()
    analyst.groups.add(Group.objects.get(name="Analyst"))
    assert call("get", analyst) == 200
    assert call("post", analyst) == 403
