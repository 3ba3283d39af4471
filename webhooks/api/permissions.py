from typing import Any

from rest_framework.permissions import DjangoModelPermissions
from rest_framework.request import Request


class StaffModelPermissions(DjangoModelPermissions):
    """Staff only, and the model permission of the method (reads need `view_<model>`)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user and user.is_authenticated and not user.is_staff:
            return False
        return super().has_permission(request, view)
