"""Shapes of the catalog API.

Input serializers validate shape only; services do the work. Output bodies
of the hot paths are plain dicts built in catalog.selectors; the output
serializers here describe them for the OpenAPI schema and are not run per row.
"""

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, cast

from django.core.validators import RegexValidator

from catalog.listing import ORDERINGS, PRODUCT_FIELDS, VARIANT_FIELDS, Field, ProductFilters
from catalog.models import SKU_MAX_LENGTH, SKU_PATTERN, Category, Product, StockMovementKind
from core import serializers
from core.openapi import ErrorSerializer
from pricing.models import TaxClass

SKU_VALIDATOR = RegexValidator(
    rf"^{SKU_PATTERN}$",
    "Letters, digits, '.', '_' and '-' only, starting with a letter or digit.",
)
MAX_STOCK_DELTA = 1_000_000


class SlugReference(serializers.SlugRelatedField):
    """Another object named by its slug (or SKU): a JSON string, never a number."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StockShortageSerializer(serializers.Serializer):
    sku = serializers.CharField()
    requested = serializers.IntegerField()
    available = serializers.IntegerField()


class InsufficientStockSerializer(ErrorSerializer):
    """409 `insufficient_stock` (documentation only)."""

    # Not required: the same status also answers `idempotency_in_progress` without it.
    shortages = StockShortageSerializer(many=True, required=False)


# --- Categories --------------------------------------------------------------


class CategorySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    slug = serializers.SlugField(read_only=True)
    parent = serializers.SlugField(  # type: ignore[assignment]  # a field, not Field.parent
        read_only=True, allow_null=True, help_text="The parent's slug; null at the top."
    )
    description = serializers.CharField(read_only=True)


class CategoryInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(
        max_length=220, required=False, help_text="Made from the name when absent."
    )
    parent = SlugReference(  # type: ignore[assignment]  # a field, not Field.parent
        slug_field="slug",
        queryset=Category.objects.all(),
        required=False,
        allow_null=True,
        help_text="The parent's slug, or null for a top-level category.",
    )
    description = serializers.CharField(required=False, allow_blank=True)


# --- Products ----------------------------------------------------------------


class ProductListParamsSerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text=(
            "Full text over name, description and SKU (web-search syntax: quotes, "
            "`or`, `-word`); an exact SKU match comes first, then matches in the name, "
            "then the others, newest first within each. Only when full text finds fewer "
            "matches than the page holds do names with typos or beginnings of the words "
            "match too (after every full-text match). A search counts up to 1,000 "
            "matches: past that `count` is 1,000, the page says `count_exact: false`, "
            "and no page past the 1,000th match is served."
        ),
    )
    category = serializers.SlugField(
        required=False, max_length=220, help_text="A category slug; includes its sub-categories."
    )
    min_price = serializers.DecimalField(
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal(0),
        help_text="Inclusive.",
    )
    max_price = serializers.DecimalField(
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal(0),
        help_text="Inclusive.",
    )
    in_stock = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="`true`: only products in stock; `false`: only those out of stock.",
    )
    ordering = serializers.ChoiceField(
        choices=list(ORDERINGS),
        required=False,
        help_text="Default `-created_at`, or relevance when searching.",
    )


_SLUG = re.compile(r"[-a-zA-Z0-9_]+")
_PRICE = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CENT = Decimal("0.01")


def product_list_params(query: Mapping[str, str]) -> ProductFilters:
    """ProductListParamsSerializer's `validated_data` for `query` (one value per name).

    Its `is_valid()` cost about a third of an uncached list request, so the
    usual, well-formed values are read here directly; anything else (an
    invalid value, an unusual spelling) goes through the serializer, which
    gives the same 400 errors as always. tests/catalog/test_list_params.py
    checks both agree on valid and invalid input alike.
    """
    data: dict[str, Any] = {}
    for name, raw in query.items():
        value: Any = _NOT_FAST
        if name == "search":
            stripped = raw.strip()
            if len(stripped) <= 200 and "\x00" not in stripped and not _SURROGATE.search(stripped):
                value = stripped
        elif name == "category":
            stripped = raw.strip()
            if len(stripped) <= 220 and _SLUG.fullmatch(stripped):
                value = stripped
        elif name in ("min_price", "max_price"):
            if _PRICE.fullmatch(raw):
                value = Decimal(raw).quantize(_CENT)
        elif name == "in_stock":
            lowered = raw.lower()
            for flag, spellings in _BOOLEANS:
                if lowered in spellings:
                    value = flag
        elif name == "ordering":
            if raw in ORDERINGS:
                value = raw
        else:
            continue  # not a filter: ignored, as the serializer ignores it
        if value is _NOT_FAST:
            params = ProductListParamsSerializer(data=dict(query))
            params.is_valid(raise_exception=True)
            return cast(ProductFilters, dict(params.validated_data))
        data[name] = value
    data.setdefault("in_stock", None)
    return cast(ProductFilters, data)


_NOT_FAST = object()
_BOOLEANS = (
    (True, serializers.BooleanField.TRUE_VALUES),
    (False, serializers.BooleanField.FALSE_VALUES),
    (None, serializers.BooleanField.NULL_VALUES),
)


def _described(field: Field) -> serializers.Field:
    """The schema of a declared field of the product answers (catalog.listing)."""
    options: dict[str, Any] = {"help_text": field.help} if field.help else {}
    if field.staff:
        options["required"] = False
    if field.null:
        options["allow_null"] = True
    match field.kind:
        case "integer":
            return serializers.IntegerField(**options)
        case "slug":
            return serializers.SlugField(**options)
        case "string":
            return serializers.CharField(**options)
        case "money":
            return serializers.DecimalField(max_digits=12, decimal_places=2, **options)
        case "boolean":
            return serializers.BooleanField(**options)
        case "datetime":
            return serializers.DateTimeField(**options)
        case "object":
            return serializers.DictField(**options)
        case "variants":
            return VariantPublicSerializer(many=True, **options)


def _described_serializer(
    name: str,
    fields: tuple[Field, ...],
    base: type[serializers.Serializer] = serializers.Serializer,
) -> type[serializers.Serializer]:
    """A serializer (documentation only) describing `fields` as the selectors answer them."""
    return type(name, (base,), {f.name: _described(f) for f in fields})


# The product answers are built in catalog.listing; these describe them for the schema.
VariantPublicSerializer = _described_serializer("VariantPublicSerializer", VARIANT_FIELDS)
ProductListItemSerializer = _described_serializer(
    "ProductListItemSerializer", tuple(f for f in PRODUCT_FIELDS if not f.detail)
)
ProductDetailSerializer = _described_serializer(
    "ProductDetailSerializer",
    tuple(f for f in PRODUCT_FIELDS if f.detail),
    base=ProductListItemSerializer,
)


class ProductInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    slug = serializers.SlugField(
        max_length=255, required=False, help_text="Made from the name when absent."
    )
    description = serializers.CharField(required=False, allow_blank=True)
    category = SlugReference(slug_field="slug", queryset=Category.objects.all())
    is_published = serializers.BooleanField(required=False)
    tax_class = SlugReference(
        slug_field="code",
        queryset=TaxClass.objects.all(),
        required=False,
        help_text="A tax class's code; `standard` when absent.",
    )


# --- Variants and stock -----------------------------------------------------------


class VariantSerializer(serializers.Serializer):
    product = serializers.SlugField(help_text="The product's slug.")
    sku = serializers.CharField()
    name = serializers.CharField()
    attributes = serializers.DictField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    stock = serializers.IntegerField(help_text="Changed only through stock adjustments.")
    weight_grams = serializers.IntegerField(min_value=0)


def _has_nul(value: Any) -> bool:
    """Whether a NUL character is in any string (or key) of a JSON value."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class VariantInputSerializer(serializers.Serializer):
    product = SlugReference(slug_field="slug", queryset=Product.objects.all())
    sku = serializers.CharField(max_length=SKU_MAX_LENGTH, validators=[SKU_VALIDATOR])
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    attributes = serializers.JSONField(required=False, help_text="An object, e.g. size, colour.")
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    weight_grams = serializers.IntegerField(
        min_value=0, max_value=2_147_483_647, required=False, help_text="Default 0."
    )

    def validate_attributes(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        # PostgreSQL's jsonb cannot store \u0000 (the insert failed with a DataError, a 500).
        if _has_nul(value):
            raise serializers.ValidationError("Null characters are not allowed.")
        return value


class StockMovementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=StockMovementKind.choices)
    delta = serializers.IntegerField(help_text="Signed change of the stock.")
    reason = serializers.CharField()
    order = serializers.CharField(
        allow_null=True, help_text="The order number, or null when no order is involved."
    )
    created_by = serializers.EmailField(
        allow_null=True,
        help_text="The email of the user who made the change: a staff member (adjustments, "
        "cancellations, refunds) or the customer placing or cancelling their own order; "
        "null for system changes (payment timeout, late payment, import).",
    )
    created_at = serializers.DateTimeField()


class NonZero:
    """A validator that refuses 0; the schema says so (`not: {enum: [0]}`, core/openapi.py)."""

    openapi_schema: ClassVar[dict[str, Any]] = {"not": {"enum": [0]}}

    def __call__(self, value: int) -> None:
        if value == 0:
            raise serializers.ValidationError("Must not be zero.")


class StockAdjustmentInputSerializer(serializers.Serializer):
    delta = serializers.IntegerField(
        min_value=-MAX_STOCK_DELTA,
        max_value=MAX_STOCK_DELTA,
        validators=[NonZero()],
        help_text="Non-zero: positive adds stock, negative removes it.",
    )
    reason = serializers.CharField(max_length=500)


class StockAdjustmentSerializer(serializers.Serializer):
    sku = serializers.CharField()
    stock = serializers.IntegerField(help_text="The stock after the adjustment.")
    movement = StockMovementSerializer()


class StockMovementPageSerializer(serializers.Serializer):
    """A page of the ledger (the API's list envelope)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = StockMovementSerializer(many=True)
