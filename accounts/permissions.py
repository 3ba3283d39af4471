"""Permission classes for staff API endpoints, matching what the admin shows a role."""

from typing import Any

from rest_framework.permissions import DjangoModelPermissions
from rest_framework.request import Request


class StaffModelPermissions(DjangoModelPermissions):
    """Django model permissions, with reads needing `view_<model>` too.

    DRF's DjangoModelPermissions lets any authenticated user read; here GET,
    HEAD and OPTIONS need the view permission, so a staff role sees in the API
    exactly what it sees in the admin. Use it on views with a `queryset`
    (or `get_queryset()`) of the model being guarded.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class StaffOnlyModelPermissions(StaffModelPermissions):
    """Staff accounts only, and the model permission too: for what a customer must never
    reach even with a permission granted by mistake (webhook secrets, customer lists,
    integrations)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        return super().has_permission(request, view)
