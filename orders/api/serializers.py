"""Shapes only: input validation and output rendering. Rules live in orders.services."""

from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from drf_spectacular.utils import extend_schema_field

from accounts.api.serializers import CountryField
from core import serializers
from orders.models import ActorKind, Order, OrderEvent, OrderLine, OrderStatus
from orders.services import LINE_QUANTITY_MAX
from orders.transitions import PUBLIC_ACTIONS, allowed_transitions
from pricing.exceptions import VOUCHER_REASONS


class ShippingAddressSerializer(serializers.Serializer):
    full_name = serializers.CharField(max_length=200)
    line1 = serializers.CharField(max_length=255)
    line2 = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=120)
    postal_code = serializers.CharField(max_length=20)
    country = CountryField(help_text="ISO 3166-1 alpha-2 code")
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")


class OrderLineInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=LINE_QUANTITY_MAX)


ADDRESS_SOURCES = ("shipping_address", "address_id")


class OrderQuoteInputSerializer(serializers.Serializer):
    # Exactly one of ADDRESS_SOURCES: validate() checks it, the schema states it.
    openapi_schema: ClassVar[dict[str, Any]] = {
        "oneOf": [{"required": [name]} for name in ADDRESS_SOURCES]
    }

    lines = serializers.ListField(child=OrderLineInputSerializer(), allow_empty=False, min_length=1)
    shipping_address = ShippingAddressSerializer(required=False)
    address_id = serializers.IntegerField(required=False, min_value=1)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    shipping_method = serializers.CharField(
        max_length=50,
        required=False,
        help_text="A shipping method's code; absent: the cheapest that serves the destination.",
    )
    voucher_code = serializers.CharField(
        max_length=64, required=False, help_text="Matched case-insensitively."
    )

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


class OrderPlaceSerializer(OrderQuoteInputSerializer):
    expected_total = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
        help_text="The total the customer saw (a quote's); another total → 409 price_changed.",
    )


class OrderShipSerializer(serializers.Serializer):
    tracking_number = serializers.CharField(max_length=100)


class OrderRefundSerializer(serializers.Serializer):
    restock = serializers.BooleanField(default=False)
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class OrderCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class OrderLineSerializer(serializers.ModelSerializer):
    discount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Promotion and voucher, for the whole line.",
    )
    tax_rate = serializers.DecimalField(max_digits=5, decimal_places=2, help_text="Percent.")
    line_total = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="What the customer pays for the line."
    )

    class Meta:
        model = OrderLine
        fields = [
            "sku",
            "product_name",
            "variant_name",
            "unit_price",
            "quantity",
            "discount",
            "tax_rate",
            "tax",
            "line_total",
            "quantity_shipped",
            "quantity_returned",
            "quantity_refunded",
        ]
        read_only_fields = fields


class ShippingMethodRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


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
    # Rendered from the lines loaded with the order (Order.line_list), never a query per order.
    lines = OrderLineSerializer(many=True, source="line_list")
    shipping_address = ShippingAddressOutputSerializer()
    shipping_method = serializers.SerializerMethodField()
    voucher_code = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "number",
            "status",
            "allowed_transitions",
            "currency",
            "lines",
            "subtotal",
            "discount_total",
            "shipping_method",
            "shipping_total",
            "tax_total",
            "total",
            "paid_total",
            "refunded_total",
            "prices_include_tax",
            "voucher_code",
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

    @extend_schema_field(ShippingMethodRefSerializer(allow_null=True))
    def get_shipping_method(self, order: Order) -> dict[str, str] | None:
        if not order.shipping_method_code:
            return None
        return {"code": order.shipping_method_code, "name": order.shipping_method_name}

    @extend_schema_field({"type": "string", "nullable": True})
    def get_voucher_code(self, order: Order) -> str | None:
        return order.voucher_code or None


class QuoteLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    discount = serializers.DecimalField(max_digits=14, decimal_places=2)
    tax_rate = serializers.DecimalField(max_digits=5, decimal_places=2)
    tax = serializers.DecimalField(max_digits=14, decimal_places=2)
    line_total = serializers.DecimalField(max_digits=14, decimal_places=2)


class QuoteShippingOptionSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)


class QuoteVoucherSerializer(serializers.Serializer):
    code = serializers.CharField()
    valid = serializers.BooleanField()
    reason = serializers.ChoiceField(choices=list(VOUCHER_REASONS), allow_null=True)


class QuoteShortageSerializer(serializers.Serializer):
    sku = serializers.CharField()
    requested = serializers.IntegerField()
    available = serializers.IntegerField()


class QuoteSerializer(serializers.Serializer):
    """The priced order as it would be placed (no number; nothing taken or counted)."""

    currency = serializers.CharField()
    lines = QuoteLineSerializer(many=True)
    subtotal = serializers.DecimalField(max_digits=14, decimal_places=2)
    discount_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    shipping_method = ShippingMethodRefSerializer(allow_null=True)
    shipping_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    tax_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    prices_include_tax = serializers.BooleanField()
    voucher_code = serializers.CharField(allow_null=True)
    shipping_methods = QuoteShippingOptionSerializer(many=True)
    voucher = QuoteVoucherSerializer(allow_null=True)
    shortages = QuoteShortageSerializer(many=True)
    tax_rates_missing = serializers.BooleanField()


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
