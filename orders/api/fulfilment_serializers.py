"""Shapes of fulfilment input and output; the rules live in orders.fulfilment."""

from decimal import Decimal
from typing import Any, ClassVar

from core import serializers
from orders.api.serializers import OrderLineInputSerializer
from orders.models import Refund, RefundStatus, Return, ReturnStatus, Shipment
from orders.services import LINE_QUANTITY_MAX

LINES_MAX = 100


def _lines(*, required: bool, child: serializers.Serializer | None = None) -> Any:
    return serializers.ListField(
        child=child or OrderLineInputSerializer(),
        allow_empty=False,
        min_length=1,
        max_length=LINES_MAX,
        required=required,
    )


class ShipmentCreateSerializer(serializers.Serializer):
    lines = _lines(required=False)
    tracking_number = serializers.CharField(max_length=100)
    carrier = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class ReturnCreateSerializer(serializers.Serializer):
    lines = _lines(required=True)
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ReturnDecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ReturnReceiveLineSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=0, max_value=LINE_QUANTITY_MAX)
    restock = serializers.BooleanField(default=True)


class ReturnReceiveSerializer(serializers.Serializer):
    lines = _lines(required=False, child=ReturnReceiveLineSerializer())


# `include_shipping: true` (as "not false": drf-spectacular would turn an `enum` into a component).
_SHIPPING_INCLUDED = {
    "required": ["include_shipping"],
    "properties": {"include_shipping": {"not": {"enum": [False]}}},
}


class RefundCreateSerializer(serializers.Serializer):
    # Either an amount, or lines and/or the shipping (exactly one of the two ways):
    # validate() checks it, the schema states it.
    openapi_schema: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {"required": ["amount"]},
            {"anyOf": [{"required": ["lines"]}, _SHIPPING_INCLUDED]},
        ]
    }

    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), required=False
    )
    lines = _lines(required=False)
    include_shipping = serializers.BooleanField(default=False)
    return_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    restock = serializers.BooleanField(
        default=False, help_text="Put back the refunded units not yet shipped."
    )
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        by_lines = "lines" in attrs or attrs["include_shipping"]
        if ("amount" in attrs) == by_lines:
            raise serializers.ValidationError(
                {"amount": ["Give either amount, or lines and/or include_shipping."]}
            )
        return attrs


class NoteCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=2000)


class RecordLineSerializer(serializers.Serializer):
    sku = serializers.CharField(source="order_line.sku")
    quantity = serializers.IntegerField()


class ReturnLineSerializer(RecordLineSerializer):
    quantity_received = serializers.IntegerField()
    quantity_restocked = serializers.IntegerField()


class ShipmentSerializer(serializers.ModelSerializer):
    lines = RecordLineSerializer(many=True)

    class Meta:
        model = Shipment
        fields = ["id", "lines", "tracking_number", "carrier", "created_at"]
        read_only_fields = fields


class ReturnSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number", help_text="The order's number.")
    status = serializers.ChoiceField(choices=ReturnStatus.choices)
    lines = ReturnLineSerializer(many=True)

    class Meta:
        model = Return
        fields = [
            "id",
            "order",
            "status",
            "lines",
            "reason",
            "decision_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RefundLineSerializer(RecordLineSerializer):
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="What these units were paid: their part of the line's total (discounts "
        "off, tax included).",
    )
    tax = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="The tax inside `amount`."
    )


class RefundSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=RefundStatus.choices)
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="What the customer gets back, tax included (gross), whether prices include "
        "tax or not.",
    )
    tax = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="The tax inside `amount` (for credit notes): the refunded units' and "
        "shipping's tax, or for a plain amount its share of the order's tax.",
    )
    currency = serializers.CharField(source="order.currency")
    lines = RefundLineSerializer(many=True)
    return_id = serializers.IntegerField(source="order_return_id", allow_null=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "status",
            "amount",
            "tax",
            "currency",
            "lines",
            "include_shipping",
            "return_id",
            "reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
