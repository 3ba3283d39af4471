"""integrations/ and integrations/{id}/keys/: staff with the integration permissions."""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import StaffOnlyModelPermissions
from accounts.roles import ROLES
from core import serializers
from integrations import services
from integrations.models import ApiKey, Integration

ROLE_NAMES = [role.name for role in ROLES]


class IntegrationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=200)
    role = serializers.ChoiceField(choices=ROLE_NAMES, help_text="A staff role's name.")
    is_active = serializers.BooleanField(required=False)
    created_at = serializers.DateTimeField(read_only=True)


def integration_dict(integration: Integration) -> dict[str, Any]:
    return {
        "id": integration.pk,
        "name": integration.name,
        "role": integration.role.name,
        "is_active": integration.is_active,
        "created_at": integration.created_at,
    }


class KeyInputSerializer(serializers.Serializer):
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class KeySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    prefix = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="To the minute.")
    created_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)


class KeyCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    prefix = serializers.CharField()
    key = serializers.CharField(help_text="`sr_<prefix>_<secret>`: shown in this answer only.")
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


def key_dict(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.pk,
        "prefix": key.prefix,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


class IntegrationPermissions(StaffOnlyModelPermissions):
    """The integration model permissions; keys need `change_integration` to manage."""

    perms_map = {
        **StaffOnlyModelPermissions.perms_map,
        "POST": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.change_%(model_name)s"],
    }


@extend_schema_view(
    list=extend_schema(summary="List integrations (staff)"),
    retrieve=extend_schema(summary="Read an integration (staff)"),
    destroy=extend_schema(
        summary="Delete an integration: its keys are revoked, its account deactivated"
    ),
)
class IntegrationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [StaffOnlyModelPermissions]
    serializer_class = IntegrationSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Integration]:
        return Integration.objects.select_related("role").order_by("id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        return self.get_paginated_response([integration_dict(i) for i in page])

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(integration_dict(self.get_object()))

    @extend_schema(summary="Create an integration (staff)", responses={201: IntegrationSerializer})
    def create(self, request: Request) -> Response:
        data = IntegrationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        integration = services.integration_create(
            name=data.validated_data["name"], role=data.validated_data["role"]
        )
        if data.validated_data.get("is_active") is False:
            integration = services.integration_update(integration=integration, is_active=False)
        return Response(integration_dict(integration), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Rename, change the role of or (de)activate an integration (staff)",
        request=IntegrationSerializer(partial=True),
        responses={200: IntegrationSerializer},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        integration = self.get_object()
        data = IntegrationSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        integration = services.integration_update(integration=integration, **data.validated_data)
        return Response(integration_dict(integration))

    def perform_destroy(self, instance: Integration) -> None:
        services.integration_delete(integration=instance)


class ApiKeyViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """An integration's API keys: listed without the key, created (key shown once), revoked."""

    permission_classes = [IntegrationPermissions]
    serializer_class = KeySerializer
    lookup_value_regex = r"\d+"
    queryset = Integration.objects.none()  # for the model permissions

    def _integration(self) -> Integration:
        return get_object_or_404(Integration, pk=self.kwargs["integration_id"])

    def get_queryset(self) -> Any:
        return Integration.objects.all()

    @extend_schema(
        summary="List an integration's API keys (staff)", responses=KeySerializer(many=True)
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        integration = self._integration()
        page = self.paginate_queryset(integration.keys.order_by("-created_at", "-id"))
        assert page is not None
        return self.get_paginated_response([key_dict(k) for k in page])

    @extend_schema(
        summary="Create an API key (staff): the key is in this answer only",
        request=KeyInputSerializer,
        responses={
            201: KeyCreatedSerializer,
            400: OpenApiResponse(description="`invalid`."),
            404: OpenApiResponse(description="`not_found`."),
        },
    )
    def create(self, request: Request, integration_id: str) -> Response:
        integration = self._integration()
        data = KeyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.api_key_create(
            integration=integration, expires_at=data.validated_data.get("expires_at")
        )
        key = created.api_key
        body = {
            "id": key.pk,
            "prefix": key.prefix,
            "key": created.key,
            "expires_at": key.expires_at,
            "created_at": key.created_at,
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke an API key now (staff)",
        responses={204: None, 404: OpenApiResponse(description="`not_found`.")},
    )
    def destroy(self, request: Request, integration_id: str, pk: str) -> Response:
        key = get_object_or_404(ApiKey, pk=pk, integration_id=self._integration().pk)
        services.api_key_revoke(key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)
