"""Pricing API: the public shipping methods, and the rules for staff with model permissions."""

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, BasePermission

from accounts.countries import COUNTRY_CODE_PATTERN, COUNTRY_NAMES
from catalog.api.permissions import ModelPermissions
from core.openapi import ErrorSerializer
from pricing.api.serializers import (
    PromotionSerializer,
    ShippingMethodSerializer,
    TaxClassSerializer,
    TaxRateSerializer,
    VoucherSerializer,
)
from pricing.models import Promotion, ShippingMethod, TaxClass, TaxRate, Voucher
from pricing.services import shipping_methods_for

_COUNTRY_OR_EMPTY = "^(?:" + COUNTRY_CODE_PATTERN.removeprefix("^").removesuffix(r"\Z") + ")?$"
PROTECTED = OpenApiResponse(
    ErrorSerializer,
    description="`protected`: still in use (products, rates or voucher redemptions).",
)


@extend_schema_view(destroy=extend_schema(responses={204: None, 409: PROTECTED}))
class _RulesViewSet(viewsets.ModelViewSet):
    """Plain CRUD: these rows hold no state of their own (orders copy what they use)."""

    permission_classes = [ModelPermissions]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]


class TaxClassViewSet(_RulesViewSet):
    queryset = TaxClass.objects.all()
    serializer_class = TaxClassSerializer
    lookup_field = "code"


class TaxRateViewSet(_RulesViewSet):
    queryset = TaxRate.objects.all()
    serializer_class = TaxRateSerializer


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "country",
                # A code, or empty (every method).
                {"type": "string", "pattern": _COUNTRY_OR_EMPTY},
                description="ISO 3166-1 alpha-2 (either case): only the methods that serve it; "
                "empty: every method.",
                allow_blank=True,
            )
        ],
        description="Anyone: the active methods (that serve `country`, when given).",
    ),
    retrieve=extend_schema(description="Anyone: an active method."),
)
class ShippingMethodViewSet(_RulesViewSet):
    serializer_class = ShippingMethodSerializer
    lookup_field = "code"

    def get_permissions(self) -> list[BasePermission]:
        if self.action in ("list", "retrieve"):
            return [AllowAny()]
        return [ModelPermissions()]

    def get_queryset(self) -> QuerySet[ShippingMethod]:
        if self.action not in ("list", "retrieve"):
            return ShippingMethod.objects.all()
        country = self.request.query_params.get("country", "").upper()
        if country:
            if country not in COUNTRY_NAMES:
                raise ValidationError({"country": ["Not an ISO 3166-1 alpha-2 country code."]})
            return shipping_methods_for(country=country)
        return ShippingMethod.objects.filter(active=True)


class VoucherViewSet(_RulesViewSet):
    serializer_class = VoucherSerializer

    def get_queryset(self) -> QuerySet[Voucher]:
        return Voucher.objects.prefetch_related("categories", "products")


class PromotionViewSet(_RulesViewSet):
    serializer_class = PromotionSerializer

    def get_queryset(self) -> QuerySet[Promotion]:
        return Promotion.objects.prefetch_related("categories", "products")
