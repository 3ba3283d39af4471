"""Catalog permissions: public reads, Django model permissions for staff writes."""

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions
from rest_framework.request import Request


class ModelPermissions(DjangoModelPermissions):
    """Django model permissions, reads included (GET needs `view_<model>`)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class StockPermissions(BasePermission):
    """The ledger: adjusting needs `add_stockmovement`, reading `view_stockmovement`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        action = "view" if request.method in SAFE_METHODS else "add"
        return user.has_perm(f"catalog.{action}_stockmovement")


def sees_unpublished(user: Any) -> bool:
    """Staff with the product view permission see unpublished products.

    `is_staff` is checked first so that customers cost no permission query.
    """
    return bool(
        user and user.is_authenticated and user.is_staff and user.has_perm("catalog.view_product")
    )
