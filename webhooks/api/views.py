from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import StaffOnlyModelPermissions
from core import serializers
from webhooks import selectors, services
from webhooks.api.serializers import (
    DeliverySerializer,
    EndpointCreatedSerializer,
    EndpointInputSerializer,
    EndpointSerializer,
)
from webhooks.models import Delivery, DeliveryStatus, Endpoint


@extend_schema_view(
    list=extend_schema(summary="List webhook endpoints (staff)"),
    retrieve=extend_schema(summary="Read a webhook endpoint (staff)"),
    destroy=extend_schema(summary="Delete a webhook endpoint and its delivery log (staff)"),
)
class EndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Webhook endpoints registered by staff; the secret is shown once, at creation."""

    permission_classes = [StaffOnlyModelPermissions]
    serializer_class = EndpointSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Endpoint]:
        return selectors.endpoint_list()

    @extend_schema(
        summary="Register a webhook endpoint (staff)",
        request=EndpointInputSerializer,
        responses={201: EndpointCreatedSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = EndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(**data.validated_data)
        return Response(EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a webhook endpoint (staff)",
        description="Setting `is_active` to true re-enables a disabled endpoint and clears "
        "`disabled_reason`. A new `secret` replaces the old one and is not returned.",
        request=EndpointInputSerializer(partial=True),
        responses={200: EndpointSerializer},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        data = EndpointInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, **data.validated_data)
        return Response(EndpointSerializer(endpoint).data)


class DeliveryFilterSerializer(serializers.Serializer):
    """The list's query: validates it and is the schema's description of it."""

    endpoint = serializers.IntegerField(required=False, min_value=1, help_text="An endpoint id.")
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)
    event_type = serializers.CharField(
        required=False, max_length=64, help_text="e.g. `order.paid`."
    )


@extend_schema_view(
    list=extend_schema(
        summary="List webhook deliveries, newest first (staff)",
        parameters=[DeliveryFilterSerializer],
    ),
    retrieve=extend_schema(summary="Read a webhook delivery with its attempts (staff)"),
)
class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every event sent (or being sent) to an endpoint, with the log of each attempt."""

    permission_classes = [StaffOnlyModelPermissions]
    serializer_class = DeliverySerializer
    filter_backends: list[Any] = []
    # `?endpoint=` (empty) means no filter: the schema says allowEmptyValue (core/openapi.py).
    query_drops_empty_values = True
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Delivery]:
        if self.action != "list":
            return selectors.delivery_list()
        filters = DeliveryFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.delivery_list(
            endpoint_id=filters.validated_data.get("endpoint"),
            status=filters.validated_data.get("status"),
            event_type=filters.validated_data.get("event_type"),
        )
