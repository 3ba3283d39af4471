"""The staff roles: Django groups with exactly the model permissions each role needs.

Sets are computed from app labels and codenames, so a model added later to
one of these apps is covered the next time `setup_roles` runs.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    # Every permission of these apps.
    all_of_apps: tuple[str, ...] = ()
    # Every view_* permission of these apps.
    view_of_apps: tuple[str, ...] = ()
    # Named permissions "app_label.codename"; a missing one is skipped with a warning.
    named: tuple[str, ...] = field(default=())


ROLES: tuple[Role, ...] = (
    Role(
        name="Catalog manager",
        description="Runs the catalog: categories, products, variants, stock, and pricing.",
        all_of_apps=("catalog", "pricing"),
    ),
    Role(
        name="Order manager",
        description="Runs orders end to end; reads the catalog.",
        all_of_apps=("orders",),
        view_of_apps=("catalog", "pricing"),
    ),
    Role(
        name="Support",
        description="Reads customers and orders, cancels orders.",
        view_of_apps=("orders",),
        named=("accounts.view_user", "accounts.view_address", "orders.cancel_order"),
    ),
    Role(
        name="Analyst",
        description="Reads everything about customers, the catalog and orders; changes nothing.",
        view_of_apps=("accounts", "catalog", "orders", "pricing"),
    ),
    Role(
        # Endpoints decide where the server sends requests, and their URLs often carry
        # the receiver's token: a role of their own, and no other role reads them.
        name="Integration manager",
        description="Registers and changes webhook endpoints, reads deliveries, redelivers.",
        all_of_apps=("webhooks",),
    ),
)


def role_permissions(*, role: Role, warn: Callable[[str], None]) -> list[Permission]:
    """The permissions of `role` as they exist in the database now."""
    query = Q(content_type__app_label__in=role.all_of_apps) | Q(
        content_type__app_label__in=role.view_of_apps, codename__startswith="view_"
    )
    wanted: dict[tuple[str, str], str] = {}
    for name in role.named:
        app_label, _, codename = name.partition(".")
        wanted[(app_label, codename)] = name
        query |= Q(content_type__app_label=app_label, codename=codename)
    permissions = list(
        Permission.objects.filter(query).select_related("content_type").order_by("pk")
    )
    found = {(p.content_type.app_label, p.codename) for p in permissions}
    for key, name in wanted.items():
        if key not in found:
            warn(f"{role.name}: permission {name} does not exist yet; skipped.")
    return permissions


@transaction.atomic
def roles_setup(*, warn: Callable[[str], None]) -> dict[str, list[str]]:
    """Create or update every role's group to hold exactly its permissions.

    Idempotent. Returns {group name: sorted "app_label.codename"}.
    """
    result: dict[str, list[str]] = {}
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role.name)
        permissions = role_permissions(role=role, warn=warn)
        group.permissions.set(permissions)
        result[role.name] = sorted(f"{p.content_type.app_label}.{p.codename}" for p in permissions)
    return result
