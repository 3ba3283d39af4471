"""Shapes only: input validation and output rendering. Rules live in orders.services."""

from typing import Any, ClassVar

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.countries import COUNTRY_CODE_VALIDATOR
from orders.models import ActorKind, Order, OrderEvent, OrderLine, OrderStatus
from orders.services import LINE_QUANTITY_MAX
from orders.transitions import PUBLIC_ACTIONS, allowed_transitions


class ShippingAddressSerializer(serializers.Serializer):
    full_name = serializers.CharField(max_length=200)
    line1 = serializers.CharField(max_length=255)
    line2 = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=120)
    postal_code = serializers.CharField(max_length=20)
    country = serializers.CharField(
        min_length=2,
        max_length=2,
        validators=[COUNTRY_CODE_VALIDATOR],
        help_text="ISO 3166-1 alpha-2 code",
    )
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")

    def validate_country(self, value: str) -> str:
        return value.upper()


class OrderLineInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=LINE_QUANTITY_MAX)


ADDRESS_SOURCES = ("shipping_address", "address_id")


class OrderPlaceSerializer(serializers.Serializer):
    # Exactly one of ADDRESS_SOURCES: validate() checks it, the schema states it.
    openapi_schema: ClassVar[dict[str, Any]] = {
        "oneOf": [{"required": [name]} for name in ADDRESS_SOURCES]
    }

    lines = serializers.ListField(child=OrderLineInputSerializer(), allow_empty=False, min_length=1)
    shipping_address = ShippingAddressSerializer(required=False)
    address_id = serializers.IntegerField(required=False, min_value=1)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")

    def validate_lines(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > settings.ORDER_MAX_LINES:
            raise serializers.ValidationError(
                f"At most {settings.ORDER_MAX_LINES} lines per order."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if sum(name in attrs for name in ADDRESS_SOURCES) != 1:
            raise serializers.ValidationError(
                {"shipping_address": ["Give exactly one of shipping_address and address_id."]}
            )
        return attrs


class OrderShipSerializer(serializers.Serializer):
    tracking_number = serializers.CharField(max_length=100)


class OrderRefundSerializer(serializers.Serializer):
    restock = serializers.BooleanField(default=False)
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class OrderCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["sku", "product_name", "variant_name", "unit_price", "quantity", "line_total"]


class ShippingAddressOutputSerializer(serializers.Serializer):
    full_name = serializers.CharField()
    line1 = serializers.CharField()
    line2 = serializers.CharField()
    city = serializers.CharField()
    postal_code = serializers.CharField()
    country = serializers.CharField()
    phone = serializers.CharField()


class OrderSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    allowed_transitions = serializers.SerializerMethodField()
    lines = OrderLineSerializer(many=True)
    shipping_address = ShippingAddressOutputSerializer()

    class Meta:
        model = Order
        fields = [
            "number",
            "status",
            "allowed_transitions",
            "currency",
            "lines",
            "subtotal",
            "shipping_total",
            "total",
            "shipping_address",
            "tracking_number",
            "refund_due",
            "note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=list(PUBLIC_ACTIONS)))
    )
    def get_allowed_transitions(self, order: Order) -> list[str]:
        return allowed_transitions(order=order, user=self.context["request"].user)


class OrderEventSerializer(serializers.ModelSerializer):
    actor = serializers.ChoiceField(source="actor_kind", choices=ActorKind.choices)
    actor_email = serializers.SerializerMethodField(
        help_text="The staff member's email; only shown to staff callers."
    )

    class Meta:
        model = OrderEvent
        fields = ["type", "from_status", "to_status", "actor", "actor_email", "note", "created_at"]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "email", "nullable": True})
    def get_actor_email(self, event: OrderEvent) -> str | None:
        caller = self.context["request"].user
        if event.actor_kind == ActorKind.STAFF and caller.is_staff and event.actor is not None:
            return event.actor.email
        return None
