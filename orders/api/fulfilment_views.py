"""Fulfilment API: shipments, returns, refunds and notes of an order.

Input serializer -> orders.fulfilment service -> output serializer. The order
is looked up among those the caller may see (someone else's is a 404); the
services check who may act (403) and the order's state (409).
"""

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from core import serializers
from core.errors import FieldInvalid
from core.openapi import ErrorSerializer
from core.replicas import replica_reads
from orders import fulfilment
from orders.api.fulfilment_serializers import (
    NoteCreateSerializer,
    RefundCreateSerializer,
    RefundSerializer,
    ReturnCreateSerializer,
    ReturnDecisionSerializer,
    ReturnReceiveSerializer,
    ReturnSerializer,
    ShipmentCreateSerializer,
    ShipmentSerializer,
)
from orders.api.serializers import OrderEventSerializer
from orders.exceptions import TransitionForbidden
from orders.fulfilment_selectors import refunds_of, returns_visible_to, shipments_of
from orders.models import Order, OrderEvent, Refund, Return, ReturnStatus, Shipment
from orders.selectors import orders_visible_to
from orders.transitions import FULFILMENT_ACTIONS, transition_may_take

STAFF_PERMISSION = "orders.transition_order"

NUMBER = OpenApiParameter("number", str, OpenApiParameter.PATH, description="The order number.")


def _errors(*codes: str) -> dict[int, OpenApiResponse]:
    """Error responses for these codes, grouped by status."""
    statuses = {
        "invalid": 400,
        "permission_denied": 403,
        "not_found": 404,
        "invalid_transition": 409,
        "over_fulfilment": 409,
        "over_return": 409,
        "return_window_closed": 409,
        "over_refund": 409,
    }
    grouped: dict[int, list[str]] = {}
    for code in ("not_found", *codes):
        grouped.setdefault(statuses[code], []).append(code)
    return {
        st: OpenApiResponse(ErrorSerializer, description=", ".join(c)) for st, c in grouped.items()
    }


class _OrderRecords(generics.GenericAPIView[Any]):
    """Records of one order, `orders/{number}/...`, visible to its owner and staff."""

    def order(self) -> Order:
        if getattr(self, "swagger_fake_view", False):
            raise NotFound()
        order = orders_visible_to(user=self.request.user).filter(number=self.kwargs["number"])
        found = order.first()
        if found is None:
            raise NotFound()
        return found

    def order_for(self, action: str) -> Order:
        """The order, then who may take `action` on it (403) before any input is judged."""
        order = self.order()
        entry = FULFILMENT_ACTIONS.get(action)
        if entry is not None and not transition_may_take(
            transition=entry, order=order, user=self.request.user
        ):
            raise TransitionForbidden()
        if entry is None and not self.request.user.has_perm(STAFF_PERMISSION):
            raise TransitionForbidden()
        return order

    def _list(self, queryset: QuerySet[Any]) -> Response:
        page = self.paginate_queryset(queryset)
        data = self.get_serializer(page, many=True).data
        return self.get_paginated_response(data)

    def _create(
        self,
        *,
        action: str,
        body: type[serializers.Serializer],
        create: Callable[..., Any],
        readable: Callable[[Order], QuerySet[Any]],
    ) -> Response:
        """Who may (403), the body (400), the service, then the record as a read shows it (201)."""
        order = self.order_for(action)
        data = body(data=self.request.data)
        data.is_valid(raise_exception=True)
        record = create(order=order, user=self.request.user, **data.validated_data)
        found = readable(order).get(pk=record.pk)
        return Response(self.get_serializer(found).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[NUMBER])
class OrderShipmentsView(_OrderRecords):
    queryset = Shipment.objects.none()  # for the schema; reads go through the selectors
    serializer_class = ShipmentSerializer

    @extend_schema(responses={200: ShipmentSerializer(many=True), **_errors()})
    def get(self, request: Request, number: str) -> Response:
        return self._list(shipments_of(order=self.order()))

    @extend_schema(
        request=ShipmentCreateSerializer,
        responses={
            201: ShipmentSerializer,
            **_errors("invalid", "permission_denied", "invalid_transition", "over_fulfilment"),
        },
        description="Ship `lines` (absent: everything not yet shipped). The order becomes "
        "`partially_shipped` or `shipped`; more than remains is 409 `over_fulfilment`.",
    )
    def post(self, request: Request, number: str) -> Response:
        return self._create(
            action="create-shipment",
            body=ShipmentCreateSerializer,
            create=fulfilment.shipment_create,
            readable=lambda order: shipments_of(order=order),
        )


@extend_schema(parameters=[NUMBER])
class OrderReturnsView(_OrderRecords):
    queryset = Return.objects.none()  # for the schema; reads go through the selectors
    serializer_class = ReturnSerializer

    @extend_schema(responses={200: ReturnSerializer(many=True), **_errors()})
    def get(self, request: Request, number: str) -> Response:
        order = self.order()
        return self._list(returns_visible_to(user=request.user).filter(order=order))

    @extend_schema(
        request=ReturnCreateSerializer,
        responses={
            201: ReturnSerializer,
            **_errors(
                "invalid",
                "permission_denied",
                "invalid_transition",
                "over_return",
                "return_window_closed",
            ),
        },
        description="The owner within RETURN_WINDOW_DAYS of delivery, staff at any time. "
        "More than shipped (counting open returns) is 409 `over_return`.",
    )
    def post(self, request: Request, number: str) -> Response:
        return self._create(
            action="request-return",
            body=ReturnCreateSerializer,
            create=fulfilment.return_request,
            readable=lambda order: returns_visible_to(user=request.user).filter(order=order),
        )


@extend_schema(parameters=[NUMBER])
class OrderRefundsView(_OrderRecords):
    queryset = Refund.objects.none()  # for the schema; reads go through the selectors
    serializer_class = RefundSerializer

    @extend_schema(responses={200: RefundSerializer(many=True), **_errors()})
    def get(self, request: Request, number: str) -> Response:
        return self._list(refunds_of(order=self.order()))

    @extend_schema(
        request=RefundCreateSerializer,
        responses={
            201: RefundSerializer,
            **_errors("invalid", "permission_denied", "invalid_transition", "over_refund"),
        },
        description="A `pending` refund of `amount`, or of `lines` (and shipping); the "
        "provider's `refund.succeeded` / `refund.failed` webhook settles it. More than "
        "paid minus pending and succeeded refunds is 409 `over_refund`.",
    )
    def post(self, request: Request, number: str) -> Response:
        return self._create(
            action="create-refund",
            body=RefundCreateSerializer,
            create=fulfilment.refund_create,
            readable=lambda order: refunds_of(order=order),
        )


@extend_schema(parameters=[NUMBER])
class OrderNotesView(_OrderRecords):
    queryset = OrderEvent.objects.none()  # for the schema; reads go through the selectors
    serializer_class = OrderEventSerializer

    @extend_schema(
        request=NoteCreateSerializer,
        responses={201: OrderEventSerializer, **_errors("invalid", "permission_denied")},
        description="An internal note: a `note_added` event that only staff see.",
    )
    def post(self, request: Request, number: str) -> Response:
        order = self.order_for("note")
        data = NoteCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = fulfilment.note_add(
            order=order, user=request.user, text=data.validated_data["text"]
        )
        return Response(self.get_serializer(event).data, status=status.HTTP_201_CREATED)


class ReturnViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Return]
):
    """Returns: staff list them all (filter `status`); owners read their own."""

    serializer_class = ReturnSerializer

    def get_queryset(self) -> QuerySet[Return]:
        if getattr(self, "swagger_fake_view", False):
            return Return.objects.none()
        return returns_visible_to(user=self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=ReturnStatus.values, description="Filter.")
        ],
        responses={200: ReturnSerializer(many=True), 400: ErrorSerializer, 403: ErrorSerializer},
    )
    @replica_reads
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not request.user.has_perm("orders.view_order"):
            raise PermissionDenied()
        queryset = self.get_queryset()
        wanted = request.query_params.get("status")
        if wanted is not None:
            if wanted not in ReturnStatus.values:
                raise FieldInvalid(errors={"status": [f"One of {ReturnStatus.values}."]})
            queryset = queryset.filter(status=wanted)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(responses={200: ReturnSerializer, 404: ErrorSerializer})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    def _respond(self, order_return: Return) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=order_return.pk)).data)

    @extend_schema(
        request=ReturnDecisionSerializer,
        responses={200: ReturnSerializer, **_errors("permission_denied", "invalid_transition")},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        return self._decide(request, approve=True)

    @extend_schema(
        request=ReturnDecisionSerializer,
        responses={200: ReturnSerializer, **_errors("permission_denied", "invalid_transition")},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        return self._decide(request, approve=False)

    def _staff_return(self) -> Return:
        """Staff only (403 for anyone else, whatever the id), then the return (404)."""
        if not self.request.user.has_perm(STAFF_PERMISSION):
            raise TransitionForbidden()
        return self.get_object()

    def _decide(self, request: Request, *, approve: bool) -> Response:
        order_return = self._staff_return()
        data = ReturnDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = fulfilment.return_decide(
            order_return=order_return,
            user=request.user,
            approve=approve,
            reason=data.validated_data["reason"],
        )
        return self._respond(decided)

    @extend_schema(
        request=ReturnReceiveSerializer,
        responses={
            200: ReturnSerializer,
            **_errors("invalid", "permission_denied", "invalid_transition", "over_return"),
        },
        description="`approved` -> `received`; `lines` absent: everything, restocked "
        "(stock movements of kind `return_restock`).",
    )
    @action(detail=True, methods=["post"])
    def receive(self, request: Request, pk: str) -> Response:
        order_return = self._staff_return()
        data = ReturnReceiveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        received = fulfilment.return_receive(
            order_return=order_return,
            user=request.user,
            lines=data.validated_data.get("lines"),
        )
        return self._respond(received)
