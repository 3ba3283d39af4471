"""customers/: staff with the user view permission read customers incrementally."""

from typing import Any

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import StaffOnlyModelPermissions
from core import serializers
from core.cursor import CURSOR_PARAMS, UPDATED_AFTER, cursor_page_serializer, paginate_by_update

User = get_user_model()
_FIELDS = ("id", "email", "first_name", "last_name", "date_joined", "updated_at")


class CustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    date_joined = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def customer_dict(user: Any) -> dict[str, Any]:
    """What staff read of a customer: never a password, token or address."""
    return {name: getattr(user, name) for name in _FIELDS}


def _customers() -> Any:
    return User.objects.filter(is_staff=False).only(*_FIELDS)


ERRORS = {
    401: OpenApiResponse(description="`not_authenticated` or `authentication_failed`."),
    403: OpenApiResponse(description="`permission_denied`."),
}


class CustomerListView(APIView):
    permission_classes = [StaffOnlyModelPermissions]
    queryset = User.objects.none()
    query_drops_empty_values = True  # an empty parameter is no parameter (core.openapi)

    @extend_schema(
        operation_id="customers_list",
        summary="List customers by last change (staff): cursor pages",
        parameters=[*CURSOR_PARAMS, UPDATED_AFTER],
        responses={
            200: cursor_page_serializer("CustomerCursorPage", CustomerSerializer),
            400: OpenApiResponse(description="`invalid`: a bad cursor, time or page size."),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        body = paginate_by_update(
            request, _customers(), render=lambda rows: [customer_dict(u) for u in rows]
        )
        return Response(body)


class CustomerDetailView(APIView):
    permission_classes = [StaffOnlyModelPermissions]
    queryset = User.objects.none()

    @extend_schema(
        operation_id="customers_retrieve",
        summary="Read a customer (staff)",
        responses={
            200: CustomerSerializer,
            404: OpenApiResponse(description="`not_found`."),
            **ERRORS,
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(customer_dict(get_object_or_404(_customers(), pk=pk)))
