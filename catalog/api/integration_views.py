"""The catalog's endpoints for integrations: bulk stock and the incremental variant list."""

from typing import Any, ClassVar

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors
from catalog.api import serializers as s
from catalog.api.permissions import StockPermissions
from catalog.bulk import BULK_ITEMS_MAX, BulkItem, stock_bulk_apply
from catalog.models import Variant
from core import serializers
from core.cursor import (
    CURSOR_PARAMS,
    UPDATED_AFTER,
    cursor_page_serializer,
    paginate_by_update,
    text_param,
)


class BulkItemInputSerializer(serializers.Serializer):
    # Exactly one of `delta` and `set_to`: validate() checks it, the schema states it.
    openapi_schema: ClassVar[dict[str, Any]] = {
        "oneOf": [{"required": ["delta"]}, {"required": ["set_to"]}]
    }

    sku = serializers.CharField(max_length=64)
    delta = serializers.IntegerField(
        required=False,
        min_value=-s.MAX_STOCK_DELTA,
        max_value=s.MAX_STOCK_DELTA,
        validators=[s.NonZero()],
        help_text="Non-zero: added to the stock (negative removes). Exclusive with `set_to`.",
    )
    set_to = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=s.MAX_STOCK_DELTA,
        help_text="The counted stock; the ledger records the difference (kind `count`).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("delta" in attrs) == ("set_to" in attrs):
            raise serializers.ValidationError("Give exactly one of `delta` and `set_to`.")
        return attrs


def _item_schema(name: str, value: dict[str, Any], help_text: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "sku": {"type": "string", "minLength": 1, "maxLength": 64},
            name: {**value, "description": help_text},
        },
        "required": ["sku", name],
        "additionalProperties": False,
    }


# Each item is one of two shapes (the serializer checks it field by field).
@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "maxItems": BULK_ITEMS_MAX,
        "description": "Each SKU at most once.",
        "items": {
            "oneOf": [
                _item_schema(
                    "delta",
                    {
                        "type": "integer",
                        "minimum": -s.MAX_STOCK_DELTA,
                        "maximum": s.MAX_STOCK_DELTA,
                        "not": {"enum": [0]},
                    },
                    "Non-zero: added to the stock (negative removes).",
                ),
                _item_schema(
                    "set_to",
                    {"type": "integer", "minimum": 0, "maximum": s.MAX_STOCK_DELTA},
                    "The counted stock; the ledger records the difference (kind `count`).",
                ),
            ]
        },
    }
)
class BulkItemsField(serializers.ListField):
    child = BulkItemInputSerializer()


class BulkInputSerializer(serializers.Serializer):
    items = BulkItemsField(min_length=1, max_length=BULK_ITEMS_MAX)
    reason = serializers.CharField(max_length=500)


class BulkResultSerializer(serializers.Serializer):
    sku = serializers.CharField()
    stock = serializers.IntegerField(help_text="The stock after the request.")
    movement = s.StockMovementSerializer(
        allow_null=True, help_text="The ledger row written, null when nothing changed."
    )


class BulkOutputSerializer(serializers.Serializer):
    items = BulkResultSerializer(many=True)


class StockBulkView(APIView):
    """POST stock/bulk-adjustments/: many SKUs' stock in one transaction."""

    permission_classes = [StockPermissions]

    @extend_schema(
        operation_id="stock_bulk_adjustments_create",
        summary="Set or adjust the stock of up to 1,000 SKUs, all or nothing",
        description="Each item is `{sku, delta}` or `{sku, set_to}`, each SKU once. Rows are "
        "locked in a fixed order; `set_to` writes a movement of kind `count` with the "
        "difference, or none when the stock is already there.",
        request=BulkInputSerializer,
        responses={
            200: BulkOutputSerializer,
            400: OpenApiResponse(description="`invalid`; an unknown SKU is keyed `items.N.sku`."),
            401: OpenApiResponse(description="`not_authenticated` or `authentication_failed`."),
            403: OpenApiResponse(description="`permission_denied`."),
            409: OpenApiResponse(
                s.InsufficientStockSerializer,
                description="`insufficient_stock`: a delta would take stock below zero.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = BulkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        results = stock_bulk_apply(
            items=[BulkItem(**item) for item in data.validated_data["items"]],
            reason=data.validated_data["reason"],
            user=request.user,
        )
        body = {
            "items": [
                {
                    "sku": r.sku,
                    "stock": r.stock,
                    "movement": selectors.stock_movement_dict(r.movement) if r.movement else None,
                }
                for r in results
            ]
        }
        return Response(body, status=status.HTTP_200_OK)


class VariantListItemSerializer(serializers.Serializer):
    sku = serializers.CharField()
    product = serializers.SlugField(help_text="The product's slug.")
    name = serializers.CharField()
    attributes = serializers.DictField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    stock = serializers.IntegerField()
    weight_grams = serializers.IntegerField(min_value=0)
    updated_at = serializers.DateTimeField(
        help_text="Changes with every change of the variant, its stock included."
    )


def variant_list_item(variant: Variant) -> dict[str, Any]:
    return {
        **selectors.variant_item(variant),
        "updated_at": variant.updated_at,
    }


VARIANT_LIST_SCHEMA = extend_schema(
    summary="List variants by last change (staff): cursor pages",
    description="Ordered by `(updated_at, id)`; a reader resumes from its last `next` and "
    "sees every variant changed since, stock changes included.",
    parameters=[
        *CURSOR_PARAMS,
        UPDATED_AFTER,
        OpenApiParameter("page", int, exclude=True),
        OpenApiParameter(
            "product", str, description="Only this product's (its slug).", allow_blank=True
        ),
    ],
    responses={
        200: cursor_page_serializer("VariantCursorPage", VariantListItemSerializer),
        400: OpenApiResponse(description="`invalid`: a bad cursor, time or page size."),
        401: OpenApiResponse(description="`not_authenticated` or `authentication_failed`."),
        403: OpenApiResponse(description="`permission_denied`."),
    },
)


def variant_list(request: Request) -> Response:
    """The body of GET variants/ (VariantViewSet.list)."""
    queryset = Variant.objects.select_related("product")
    product = text_param(request, "product")
    if product:
        queryset = queryset.filter(product__slug=product)
    body = paginate_by_update(
        request, queryset, render=lambda rows: [variant_list_item(v) for v in rows]
    )
    return Response(body)
