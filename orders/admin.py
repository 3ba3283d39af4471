"""The order back office. Status is never edited here: actions call order_transition."""

import itertools
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q, QuerySet
from django.db.models.functions import Upper
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse

from accounts.selectors import user_ids_matching
from core import replicas
from core.admin_list import QuickActionCheckbox
from core.admin_paginator import EstimatedCountPaginator
from core.admin_search import WordSearch, in_array
from core.csv_export import csv_lines
from core.errors import DomainError
from orders.admin_fulfilment import OrderWorkPageMixin
from orders.export import COLUMNS, rows
from orders.models import NUMBER_PREFIX, Order, OrderLine, PaymentEvent
from orders.services import order_transition


def _log_message(action: str, arguments: dict[str, Any]) -> str:
    details = ", ".join(
        f"{name.replace('_', ' ')}: {value}"
        for name, value in arguments.items()
        if value not in ("", None)
    )
    return f"Action {action}" + (f" ({details})" if details else "")


class ShipForm(forms.Form):
    tracking_number = forms.CharField(max_length=100)


class RefundForm(forms.Form):
    restock = forms.BooleanField(required=False, help_text="Put the items back in stock.")
    reason = forms.CharField(max_length=1000, required=False)


@admin.register(Order)
class OrderAdmin(QuickActionCheckbox, WordSearch, OrderWorkPageMixin, admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    list_display = [
        "number",
        "user_email",
        "status",
        "total",
        "currency",
        "refund_due",
        "created_at",
    ]
    list_filter = ["status", "refund_due", "created_at"]
    search_fields = ["number", "user__email", "lines__sku"]  # see get_search_results
    search_help_text = (
        "Finds orders by number (SR-7KQ2 or 7KQ2: its start), by a part of the "
        "customer's email or name, or by the start of a SKU they ordered. "
        "Several words: orders matching all of them."
    )
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    list_select_related = ["user"]
    # Only columns an index sorts (tests/admin/test_indexes.py): 200,000 orders.
    sortable_by = ["number", "status", "created_at"]
    list_per_page = 50
    show_full_result_count = False
    # Lines and the timeline are on the work page (admin_fulfilment), with their quantities.
    inlines = ()
    change_form_template = "admin/orders/order/work_page.html"
    readonly_fields = [
        "number",
        "user",
        "status",
        "currency",
        "subtotal",
        "discount_total",
        "voucher_code",
        "shipping_method_code",
        "shipping_method_name",
        "shipping_total",
        "tax_total",
        "prices_include_tax",
        "total",
        "paid_total",
        "refunded_total",
        "delivered_at",
        "refund_due",
        "tracking_number",
        "shipping_full_name",
        "shipping_line1",
        "shipping_line2",
        "shipping_city",
        "shipping_postal_code",
        "shipping_country",
        "shipping_phone",
        "note",
        "created_at",
        "updated_at",
    ]
    actions = ["mark_paid", "ship", "deliver", "cancel", "refund", "export_csv"]

    @admin.display(description="customer", ordering="user__email")
    def user_email(self, order: Order) -> str:
        return order.user.email

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def search_word(self, word: str) -> Q:
        """Orders whose number starts with the word (with or without `SR-`), whose
        customer's email or name contains it, or with a line whose SKU starts with it."""
        upper = word.upper()
        numbers = [upper] if upper.startswith(NUMBER_PREFIX) else [upper, NUMBER_PREFIX + upper]
        by_number = Q()
        for number in numbers:
            by_number |= Q(number__startswith=number)
        with_sku = OrderLine.objects.alias(sku_upper=Upper("sku")).filter(
            sku_upper__startswith=upper
        )
        return (
            by_number
            | in_array("user_id", user_ids_matching(word=word))
            | in_array("pk", with_sku.values("order_id"))
        )

    def _run(
        self, request: HttpRequest, queryset: QuerySet[Order], action: str, **arguments: Any
    ) -> None:
        done: list[str] = []
        refused: list[str] = []
        for order in queryset.select_related(None).order_by("pk").only("pk", "number"):
            try:
                order_transition(order=order, action=action, user=request.user, **arguments)
            except DomainError as error:
                refused.append(f"{order.number} ({error.detail})")
            else:
                done.append(order.number)
                # The admin log (the order's History) says who took which action;
                # the OrderEvent written by the service is the order's own history.
                self.log_change(request, order, _log_message(action, arguments))
        if done:
            self.message_user(
                request, f"{action}: done for {len(done)} order(s): {', '.join(done)}."
            )
        if refused:
            self.message_user(
                request,
                f"{action}: not allowed for {len(refused)} order(s): {'; '.join(refused)}",
                level=messages.WARNING,
            )

    @admin.action(description="Mark selected orders as paid", permissions=["transition"])
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._run(request, queryset, "mark-paid")

    @admin.action(description="Mark selected orders as delivered", permissions=["transition"])
    def deliver(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._run(request, queryset, "deliver")

    @admin.action(description="Cancel selected orders (stock returned)", permissions=["cancel"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._run(request, queryset, "cancel", note="Cancelled in the back office.")

    def _form_step(
        self,
        request: HttpRequest,
        queryset: QuerySet[Order],
        *,
        action: str,
        form_class: type[forms.Form],
        title: str,
    ) -> forms.Form | HttpResponse:
        """Show `form_class` for the selected orders; return the bound valid form once posted."""
        form = form_class(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            return form
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "orders": queryset.select_related(None).only("pk", "number")[:100],
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/orders/order/action_form.html", context)

    @admin.action(
        description="Ship selected orders (asks for a tracking number)", permissions=["transition"]
    )
    def ship(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        step = self._form_step(
            request, queryset, action="ship", form_class=ShipForm, title="Ship orders"
        )
        if isinstance(step, HttpResponse):
            return step
        self._run(request, queryset, "ship", tracking_number=step.cleaned_data["tracking_number"])
        return None

    @admin.action(description="Refund selected orders", permissions=["transition"])
    def refund(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        step = self._form_step(
            request, queryset, action="refund", form_class=RefundForm, title="Refund orders"
        )
        if isinstance(step, HttpResponse):
            return step
        self._run(
            request,
            queryset,
            "refund",
            restock=step.cleaned_data["restock"],
            note=step.cleaned_data["reason"],
        )
        return None

    @admin.action(
        description="Export selected orders as CSV (a row per line)", permissions=["view"]
    )
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        """Streamed from a server-side cursor: memory stays flat however many orders."""
        lines = OrderLine.objects.filter(order__in=queryset.order_by().values("pk")).order_by(
            "order__created_at", "order_id", "id"
        )
        table = itertools.chain([list(COLUMNS)], (row.values() for row in rows(lines)))
        # Read from a replica (core.replicas) when one is healthy and the user wrote nothing lately.
        with replicas.reads_from_replica(request):
            streamed = replicas.streamed(csv_lines(table))
        response = StreamingHttpResponse(streamed, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="orders.csv"'
        return response  # type: ignore[return-value]

    def has_transition_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.transition_order")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.cancel_order")


@admin.register(PaymentEvent)
class PaymentEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "order_number", "outcome", "created_at"]
    list_filter = ["type", "outcome"]
    search_fields = ["=event_id", "=order_number"]
    search_help_text = "Finds payment events by their whole event id or order number."
    readonly_fields = ["event_id", "type", "order_number", "payload", "outcome", "created_at"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
