"""The back office for pricing rules. A voucher's uses are counted only by orders."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.admin_paginator import EstimatedCountPaginator
from pricing.models import (
    Promotion,
    ShippingMethod,
    TaxClass,
    TaxRate,
    Voucher,
    VoucherRedemption,
)


@admin.register(TaxClass)
class TaxClassAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ["country", "tax_class", "rate"]
    list_filter = ["tax_class"]
    search_fields = ["=country"]
    list_select_related = ["tax_class"]


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "rule", "price", "free_from", "active"]
    list_filter = ["rule", "active"]
    search_fields = ["code", "name"]
    fieldsets = [
        (None, {"fields": ["code", "name", "active", "countries"]}),
        (
            "Price rule",
            {
                "fields": ["rule", "price", "free_from", "bands"],
                "description": (
                    "countries: a JSON list of ISO codes, [] for every country. "
                    'bands (rule "weight"): [{"up_to_grams": 1000, "price": "4.90"}, ...].'
                ),
            },
        ),
    ]


class RedemptionInline(admin.TabularInline):
    model = VoucherRedemption
    extra = 0
    can_delete = False
    fields = readonly_fields = ("order", "user", "created_at")
    ordering = ["-created_at", "-id"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("order", "user")


@admin.register(Voucher)
class VoucherAdmin(admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    list_display = ["code", "kind", "value", "times_used", "usage_limit", "active", "ends_at"]
    list_filter = ["kind", "active"]
    search_fields = ["code"]
    readonly_fields = ["times_used", "created_at"]
    autocomplete_fields = ["categories", "products"]
    inlines = [RedemptionInline]


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "value", "starts_at", "ends_at", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name"]
    autocomplete_fields = ["categories", "products"]
