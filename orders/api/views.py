"""Orders API: input serializer -> service -> output serializer, nothing more."""

from typing import Any, cast

from django.conf import settings
from django.db.models import QuerySet
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.serializers import InsufficientStockSerializer
from core import replicas, serializers
from core.openapi import ErrorSerializer
from orders import selectors, services
from orders.api import incremental
from orders.api.filters import OrderFilter
from orders.api.serializers import (
    OrderCancelSerializer,
    OrderEventSerializer,
    OrderPlaceSerializer,
    OrderQuoteInputSerializer,
    OrderRefundSerializer,
    OrderSerializer,
    OrderShipSerializer,
    QuoteSerializer,
)
from orders.fulfilment_selectors import order_events_for
from orders.models import Order
from orders.payments import (
    SIGNATURE_PATTERN,
    payment_event_apply,
    payment_signature_verify,
)
from orders.quote import order_quote
from pricing.exceptions import VOUCHER_REASONS


class VoucherInvalidErrorSerializer(ErrorSerializer):
    """400 `invalid`, or `voucher_invalid` with its `reason`."""

    reason = serializers.ChoiceField(choices=list(VOUCHER_REASONS), required=False)


class PriceChangedErrorSerializer(InsufficientStockSerializer):
    """409 `insufficient_stock` with `shortages`, or `price_changed` with `quote`."""

    quote = QuoteSerializer(required=False, help_text="With code price_changed.")


TRANSITION_ERRORS = {
    403: OpenApiResponse(ErrorSerializer, description="permission_denied"),
    404: OpenApiResponse(ErrorSerializer, description="not_found"),
    409: OpenApiResponse(ErrorSerializer, description="invalid_transition"),
}


class OrderViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Order]
):
    serializer_class = OrderSerializer
    lookup_field = "number"
    lookup_value_regex = r"[A-Za-z0-9-]+"
    filterset_class = OrderFilter
    # updated_after, cursor and ordering read an empty value as absent (core.openapi).
    query_drops_empty_values = True

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        return selectors.order_list(user=self.request.user)

    def filter_queryset(self, queryset: Any) -> Any:
        # The list filters (status, dates) must never turn a detail or an action into a 404.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    @incremental.ORDER_LIST_SCHEMA
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incremental.ordering_check(request)
        if incremental.wants_cursor_page(request):
            # A cursor page waits for the primary's open transactions: it reads the primary.
            return incremental.order_cursor_page(self, request)
        with replicas.reads_from_replica(request):
            return super().list(request, *args, **kwargs)

    def _respond(self, order: Order, code: int = status.HTTP_200_OK) -> Response:
        order = self.get_queryset().get(pk=order.pk)
        return Response(self.get_serializer(order).data, status=code)

    @extend_schema(
        request=OrderPlaceSerializer,
        responses={
            201: OrderSerializer,
            400: OpenApiResponse(
                VoucherInvalidErrorSerializer,
                description=(
                    "invalid (`errors.shipping_method` when no method serves the "
                    "destination), or voucher_invalid with `reason` and `errors.voucher_code`"
                ),
            ),
            409: OpenApiResponse(
                PriceChangedErrorSerializer,
                description=(
                    "insufficient_stock with `shortages`, or price_changed with `quote` "
                    "(the total differs from `expected_total`); nothing is taken"
                ),
            ),
        },
    )
    def create(self, request: Request) -> Response:
        data = OrderPlaceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.order_place(user=request.user, **data.validated_data)
        # Rendered from the objects in hand (the service leaves the lines on the
        # order): reading it back cost two queries per order.
        return Response(self.get_serializer(order).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=OrderQuoteInputSerializer,
        responses={
            200: QuoteSerializer,
            400: OpenApiResponse(ErrorSerializer, description="invalid"),
        },
        description=(
            "The order body priced as it would be placed: nothing is taken or counted, "
            "shortages are listed, an invalid voucher is reported in `voucher`. "
            "Not idempotent: it changes nothing, and `Idempotency-Key` is ignored."
        ),
    )
    @action(detail=False, methods=["post"])
    def quote(self, request: Request) -> Response:
        data = OrderQuoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = dict(data.validated_data)
        body.pop("note", None)
        return Response(order_quote(user=request.user, **body))

    @extend_schema(
        responses={200: OrderEventSerializer(many=True), 404: OpenApiResponse(ErrorSerializer)},
        filters=False,
    )
    @action(detail=True, methods=["get"], serializer_class=OrderEventSerializer)
    def events(self, request: Request, number: str) -> Response:
        order = self.get_object()
        events = order_events_for(order=order, user=request.user)
        page = self.paginate_queryset(events)  # type: ignore[arg-type]
        serializer = OrderEventSerializer(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)

    def _transition(self, action_name: str, **arguments: Any) -> Response:
        order = self.get_object()
        services.order_transition(
            order=order, action=action_name, user=self.request.user, **arguments
        )
        return self._respond(order)

    @extend_schema(
        request=OrderCancelSerializer, responses={200: OrderSerializer, **TRANSITION_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, number: str) -> Response:
        data = OrderCancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._transition("cancel", note=data.validated_data["reason"])

    @extend_schema(request=None, responses={200: OrderSerializer, **TRANSITION_ERRORS})
    @action(detail=True, methods=["post"], url_path="mark-paid")
    def mark_paid(self, request: Request, number: str) -> Response:
        return self._transition("mark-paid")

    @extend_schema(
        request=OrderShipSerializer, responses={200: OrderSerializer, **TRANSITION_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def ship(self, request: Request, number: str) -> Response:
        data = OrderShipSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._transition("ship", tracking_number=data.validated_data["tracking_number"])

    @extend_schema(request=None, responses={200: OrderSerializer, **TRANSITION_ERRORS})
    @action(detail=True, methods=["post"])
    def deliver(self, request: Request, number: str) -> Response:
        return self._transition("deliver")

    @extend_schema(
        request=OrderRefundSerializer, responses={200: OrderSerializer, **TRANSITION_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def refund(self, request: Request, number: str) -> Response:
        data = OrderRefundSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._transition(
            "refund",
            restock=data.validated_data["restock"],
            note=data.validated_data["reason"],
        )


class PaymentEventDataSerializer(serializers.Serializer):
    order_number = serializers.CharField(max_length=32)
    refund_id = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="`refund.*` events only."
    )
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField(min_length=3, max_length=3)


class PaymentEventSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=255)
    type = serializers.ChoiceField(
        choices=["payment.succeeded", "payment.failed", "refund.succeeded", "refund.failed"]
    )
    data = PaymentEventDataSerializer()  # type: ignore[assignment]


@method_decorator(csrf_exempt, name="dispatch")
class PaymentWebhookView(APIView):
    """Events from the payment provider, authenticated by `Payment-Signature` only."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(
        request=PaymentEventSerializer,
        parameters=[
            OpenApiParameter(
                "Payment-Signature",
                {"type": "string", "pattern": SIGNATURE_PATTERN},
                OpenApiParameter.HEADER,
                required=True,
                description='`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.',
            )
        ],
        responses={
            200: inline_serializer(
                "PaymentWebhookResult",
                fields={"received": serializers.BooleanField(), "outcome": serializers.CharField()},
            ),
            400: OpenApiResponse(ErrorSerializer, description="invalid_signature or invalid"),
        },
        description=(
            "Header `Payment-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "
            '"<t>.<raw body>">` with the shared secret; `t` within 5 minutes.'
        ),
    )
    def post(self, request: Request) -> Response:
        # The signature covers the raw bytes, so check it before parsing anything.
        payment_signature_verify(
            header=request.headers.get("Payment-Signature"),
            body=request.body,
            secret=settings.PAYMENT_WEBHOOK_SECRET,
        )
        event = PaymentEventSerializer(data=request.data)
        event.is_valid(raise_exception=True)
        data = event.validated_data["data"]
        outcome = payment_event_apply(
            event_id=event.validated_data["id"],
            type=event.validated_data["type"],
            order_number=data["order_number"],
            amount=data["amount"],
            currency=data["currency"],
            payload=cast(dict[str, Any], request.data),
            refund_id=data.get("refund_id"),
        )
        return Response({"received": True, "outcome": outcome})
