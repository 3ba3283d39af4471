from typing import Any

from rest_framework.request import Request

from accounts.permissions import StaffModelPermissions


class StaffOnlyModelPermissions(StaffModelPermissions):
    """Webhook endpoints hold secrets: staff accounts only, and the model permission too."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user and user.is_authenticated and not user.is_staff:
            return False
        return super().has_permission(request, view)
