"""Shapes only: the pricing rules as the API shows and takes them."""

from decimal import Decimal
from typing import Any, ClassVar

from django.db.models.functions import Lower

from accounts.api.serializers import CountryField
from catalog.models import Category, Product
from core import serializers
from pricing.models import (
    DiscountKind,
    Promotion,
    ShippingMethod,
    ShippingRule,
    TaxClass,
    TaxRate,
    Voucher,
)

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0")}


class PercentAtMostHundred:
    """A validator: a percentage from 0 to 100; the schema states it as a pattern.

    A decimal string's schema has no `maximum` a client can check, so the
    pattern lists the strings a `max_digits=5, decimal_places=2` field reads
    that are not above 100 (core/openapi.py reads `openapi_schema`).
    """

    openapi_schema: ClassVar[dict[str, Any]] = {
        "pattern": r"^(?:100(?:\.0{0,2})?|[0-9]{1,2}(?:\.[0-9]{0,2})?|\.[0-9]{1,2})$"
    }

    def __call__(self, value: Decimal) -> None:
        if value > 100:
            raise serializers.ValidationError("Ensure this value is less than or equal to 100.")


class TaxClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaxClass
        fields = ["code", "name"]

    def validate_code(self, value: str) -> str:
        # Products and rates refer to a class by its code.
        if self.instance is not None and value != self.instance.code:
            raise serializers.ValidationError("A tax class's code cannot change.")
        return value


class TaxRateSerializer(serializers.ModelSerializer):
    country = CountryField(help_text="ISO 3166-1 alpha-2")
    tax_class = serializers.SlugRelatedField(slug_field="code", queryset=TaxClass.objects.all())
    rate = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        validators=[PercentAtMostHundred()],
        help_text="Percent, like 19.00 (0 to 100).",
    )

    class Meta:
        model = TaxRate
        fields = ["id", "country", "tax_class", "rate"]


class WeightBandSerializer(serializers.Serializer):
    up_to_grams = serializers.IntegerField(min_value=0, max_value=10_000_000)
    price = serializers.DecimalField(**MONEY)


def _kind_is(kind: ShippingRule) -> dict[str, Any]:
    # Stated as "none of the others": an `enum` here would be merged into the
    # kind's shared enum component by drf-spectacular's enum postprocessing.
    return {"not": {"enum": [other.value for other in ShippingRule if other != kind]}}


class PriceRuleSerializer(serializers.Serializer):
    # What each kind needs (ShippingMethodSerializer.validate checks it, the schema states it).
    openapi_schema: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {"properties": {"kind": _kind_is(ShippingRule.FLAT)}},
            {
                "properties": {
                    "kind": _kind_is(ShippingRule.FREE_FROM),
                    "free_from": {"type": "string"},
                },
                "required": ["free_from"],
            },
            {
                "properties": {"kind": _kind_is(ShippingRule.WEIGHT), "bands": {"minItems": 1}},
                "required": ["bands"],
            },
        ]
    }

    kind = serializers.ChoiceField(source="rule", choices=ShippingRule.choices)
    price = serializers.DecimalField(**MONEY, default=Decimal("0.00"))
    free_from = serializers.DecimalField(**MONEY, allow_null=True, required=False, default=None)
    bands = WeightBandSerializer(many=True, required=False, default=list)


class ShippingMethodSerializer(serializers.ModelSerializer):
    price_rule = PriceRuleSerializer(
        source="*",
        help_text=(
            "`flat`: `price`; `free_from`: `price`, free when the discounted goods reach "
            "`free_from`; `weight`: the first of `bands` whose `up_to_grams` holds the "
            "order's weight (heavier: not served)."
        ),
    )
    countries = serializers.ListField(
        child=CountryField(),
        max_length=300,
        required=False,
        help_text="ISO 3166-1 alpha-2 codes; empty: every country.",
    )

    class Meta:
        model = ShippingMethod
        fields = ["code", "name", "price_rule", "countries", "active"]

    def validate_countries(self, value: list[str]) -> list[str]:
        return sorted({code.upper() for code in value})

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        rule = attrs.get("rule", getattr(self.instance, "rule", ShippingRule.FLAT))
        free_from = attrs.get("free_from", getattr(self.instance, "free_from", None))
        bands = attrs.get("bands", getattr(self.instance, "bands", []))
        if rule == ShippingRule.FREE_FROM and free_from is None:
            raise serializers.ValidationError({"price_rule.free_from": ["Required for free_from."]})
        if rule == ShippingRule.WEIGHT and not bands:
            raise serializers.ValidationError({"price_rule.bands": ["Give at least one band."]})
        if "bands" in attrs:
            # A PATCH does not make the nested fields required: each band still needs both.
            if any("up_to_grams" not in band or "price" not in band for band in attrs["bands"]):
                raise serializers.ValidationError(
                    {"price_rule.bands": ["Each band needs up_to_grams and price."]}
                )
            attrs["bands"] = [
                {"up_to_grams": band["up_to_grams"], "price": str(band["price"])}
                for band in sorted(attrs["bands"], key=lambda band: band["up_to_grams"])
            ]
        return attrs


class AppliesToSerializer(serializers.Serializer):
    categories = serializers.SlugRelatedField(
        slug_field="slug",
        many=True,
        queryset=Category.objects.all(),
        required=False,
        help_text="Category slugs; their sub-categories are included.",
    )
    products = serializers.SlugRelatedField(
        slug_field="slug", many=True, queryset=Product.objects.all(), required=False
    )


class _DiscountSerializer(serializers.ModelSerializer):
    """Common to vouchers and promotions: `applies_to` (none given: every line)."""

    applies_to = AppliesToSerializer(source="*", required=False)
    value = serializers.DecimalField(**MONEY, default=Decimal("0.00"))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        value = attrs.get("value", getattr(self.instance, "value", Decimal("0")))
        if kind == DiscountKind.PERCENTAGE and value > 100:
            raise serializers.ValidationError({"value": ["A percentage is at most 100."]})
        starts = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts is not None and ends is not None and ends <= starts:
            raise serializers.ValidationError({"ends_at": ["Must be after starts_at."]})
        return attrs

    def _targets_set(self, instance: Any, targets: dict[str, Any]) -> Any:
        for name in ("categories", "products"):
            if name in targets:
                getattr(instance, name).set(targets[name])
        return instance

    def create(self, validated_data: dict[str, Any]) -> Any:
        targets: dict[str, Any] = {
            k: validated_data.pop(k) for k in ("categories", "products") if k in validated_data
        }
        return self._targets_set(super().create(validated_data), targets)

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        targets: dict[str, Any] = {
            k: validated_data.pop(k) for k in ("categories", "products") if k in validated_data
        }
        return self._targets_set(super().update(instance, validated_data), targets)


class VoucherSerializer(_DiscountSerializer):
    code = serializers.CharField(max_length=64, help_text="Matched case-insensitively.")
    min_subtotal = serializers.DecimalField(**MONEY, allow_null=True, required=False)
    times_used = serializers.IntegerField(read_only=True)

    class Meta:
        model = Voucher
        fields = [
            "id",
            "code",
            "kind",
            "value",
            "applies_to",
            "min_subtotal",
            "starts_at",
            "ends_at",
            "usage_limit",
            "usage_limit_per_customer",
            "times_used",
            "active",
        ]

    def validate_code(self, value: str) -> str:
        code = value.strip()
        clash = Voucher.objects.alias(code_lower=Lower("code")).filter(code_lower=code.lower())
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if not code or clash.exists():
            raise serializers.ValidationError("Another voucher has this code.")
        return code

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        limit = attrs.get("usage_limit", getattr(self.instance, "usage_limit", None))
        used = getattr(self.instance, "times_used", 0)
        if limit is not None and limit < used:
            raise serializers.ValidationError({"usage_limit": [f"Already used {used} times."]})
        return attrs


class PromotionSerializer(_DiscountSerializer):
    class Meta:
        model = Promotion
        fields = ["id", "name", "kind", "value", "applies_to", "starts_at", "ends_at", "active"]
