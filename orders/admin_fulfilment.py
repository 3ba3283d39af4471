"""The order page staff work in: summary, lines, timeline, and one small form per action.

Each form calls the same service as the API (orders.fulfilment, or
order_transition), and the buttons shown are exactly the actions that
orders.transitions.allowed_transitions gives the staff user now, plus the
decisions on the order's open returns.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from core.errors import DomainError
from orders import fulfilment
from orders.models import Order, OrderLine, Return, ReturnStatus
from orders.services import order_transition
from orders.transitions import allowed_transitions

ACTION_TITLES = {
    "mark-paid": "Mark paid",
    "cancel": "Cancel",
    "ship": "Ship everything left",
    "deliver": "Mark delivered",
    "refund": "Refund everything left",
    "create-shipment": "Ship lines",
    "request-return": "Open a return",
    "create-refund": "Refund amount or lines",
}
RETURN_ACTIONS = {
    "approve": ("Approve", ReturnStatus.REQUESTED),
    "reject": ("Reject", ReturnStatus.REQUESTED),
    "receive": ("Receive", ReturnStatus.APPROVED),
}


def _line_fields(form: forms.Form, lines: list[OrderLine], initial: dict[int, int]) -> None:
    """One quantity field per line, named `line_<pk>`, bounded by `initial`'s maximum."""
    for line in lines:
        form.fields[f"line_{line.pk}"] = forms.IntegerField(
            label=f"{line.sku} ({line.product_name})",
            min_value=0,
            max_value=max(initial.get(line.pk, 0), 0),
            initial=0,
            required=False,
        )


def _lines_requested(form: forms.Form, lines: list[OrderLine]) -> list[dict[str, Any]]:
    return [
        {"sku": line.sku, "quantity": form.cleaned_data.get(f"line_{line.pk}") or 0}
        for line in lines
        if form.cleaned_data.get(f"line_{line.pk}")
    ]


class ConfirmForm(forms.Form):
    reason = forms.CharField(max_length=1000, required=False)


class ShipmentForm(forms.Form):
    tracking_number = forms.CharField(max_length=100)
    carrier = forms.CharField(max_length=100, required=False)


class ShipAllForm(forms.Form):
    tracking_number = forms.CharField(max_length=100)


class ReturnRequestForm(forms.Form):
    reason = forms.CharField(max_length=1000, required=False)


class RefundCreateForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=0.01, required=False, help_text="Or lines:"
    )
    include_shipping = forms.BooleanField(required=False)
    restock = forms.BooleanField(required=False, help_text="Put back units not yet shipped.")
    reason = forms.CharField(max_length=1000, required=False)


class RefundAllForm(forms.Form):
    restock = forms.BooleanField(required=False, help_text="Put back units not yet shipped.")
    reason = forms.CharField(max_length=1000, required=False)


class NoteForm(forms.Form):
    text = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class ReceiveForm(forms.Form):
    def __init__(self, *args: Any, order_return: Return, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for rl in order_return.lines.select_related("order_line"):
            sku = rl.order_line.sku
            self.fields[f"qty_{rl.pk}"] = forms.IntegerField(
                label=f"{sku} received", min_value=0, max_value=rl.quantity, initial=rl.quantity
            )
            self.fields[f"restock_{rl.pk}"] = forms.BooleanField(
                label=f"{sku} back in stock", required=False, initial=True
            )


class OrderWorkPageMixin:
    """Adds the work page's context and its action URLs to the order ModelAdmin.

    The ModelAdmin sets `change_form_template = "admin/orders/order/work_page.html"`.
    """

    admin_site: Any

    def get_urls(self) -> list[URLPattern]:
        urls: list[URLPattern] = super().get_urls()  # type: ignore[misc]
        view = self.admin_site.admin_view
        return [
            path(
                "<int:order_id>/act/<str:action>/",
                view(self.action_view),
                name="orders_order_act",
            ),
            path(
                "<int:order_id>/returns/<int:return_id>/<str:action>/",
                view(self.return_view),
                name="orders_order_return_act",
            ),
            *urls,
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        order = Order.objects.select_related("user").filter(pk=object_id).first()
        context = dict(extra_context or {})
        # Nothing on an order is edited in a form: no Save buttons.
        context.update(
            show_save=False,
            show_save_and_continue=False,
            show_save_and_add_another=False,
            show_delete=False,
        )
        if order is not None:
            context.update(self._work_context(request, order))
        return super().change_view(request, object_id, form_url, context)  # type: ignore[misc]

    def _work_context(self, request: HttpRequest, order: Order) -> dict[str, Any]:
        actions = [
            {"name": name, "title": ACTION_TITLES[name]}
            for name in allowed_transitions(order=order, user=request.user)
        ]
        may_decide = request.user.has_perm("orders.transition_order")
        returns = list(order.returns.prefetch_related("lines__order_line"))
        return {
            "order": order,
            "lines": list(order.lines.order_by("pk")),
            "work_actions": actions,
            "timeline": list(order.events.select_related("actor").order_by("created_at", "id")),
            "returns": [
                {
                    "record": r,
                    "actions": [
                        {"name": name, "title": title}
                        for name, (title, status) in RETURN_ACTIONS.items()
                        if may_decide and r.status == status
                    ],
                }
                for r in returns
            ],
            "refunds": list(order.refunds.all()),
            "refund_open": order.paid_total - order.refunded_total,
            "may_note": may_decide,
        }

    def _page(self, order: Order) -> str:
        return reverse("admin:orders_order_change", args=[order.pk])

    def action_view(self, request: HttpRequest, order_id: int, action: str) -> HttpResponse:
        """A small form for one action on the order; on a valid POST it calls the service."""
        order = get_object_or_404(Order, pk=order_id)
        if not request.user.has_perm("orders.view_order"):
            raise PermissionDenied
        if action != "note" and action not in allowed_transitions(order=order, user=request.user):
            messages.warning(request, f"{action} is not possible now.")
            return HttpResponseRedirect(self._page(order))
        lines = list(order.lines.order_by("pk"))
        form = self._action_form(action, request.POST if request.method == "POST" else None)
        limits = {
            "create-shipment": {
                line.pk: line.quantity - line.quantity_shipped - line.quantity_cancelled
                for line in lines
            },
            "request-return": {
                line.pk: line.quantity_shipped - line.quantity_return_claimed for line in lines
            },
            "create-refund": {line.pk: line.quantity - line.quantity_refunded for line in lines},
        }
        if action in limits:
            _line_fields(form, lines, limits[action])
        if request.method == "POST" and form.is_valid():
            try:
                self._act(request, order, action, form, lines)
            except DomainError as error:
                form.add_error(None, f"{error.detail} {getattr(error, 'extra', '') or ''}")
            else:
                messages.success(request, f"{ACTION_TITLES.get(action, 'Note')}: done.")
                return HttpResponseRedirect(self._page(order))
        return self._form_page(request, order, form, ACTION_TITLES.get(action, "Add a note"))

    @staticmethod
    def _action_form(action: str, data: Any) -> forms.Form:
        form_class: type[forms.Form] = {
            "create-shipment": ShipmentForm,
            "ship": ShipAllForm,
            "request-return": ReturnRequestForm,
            "create-refund": RefundCreateForm,
            "refund": RefundAllForm,
            "note": NoteForm,
        }.get(action, ConfirmForm)
        return form_class(data)

    @staticmethod
    def _act(
        request: HttpRequest, order: Order, action: str, form: forms.Form, lines: list[OrderLine]
    ) -> None:
        data = form.cleaned_data
        user = request.user
        if action == "create-shipment":
            fulfilment.shipment_create(
                order=order,
                user=user,
                tracking_number=data["tracking_number"],
                carrier=data["carrier"],
                lines=_lines_requested(form, lines),
            )
        elif action == "request-return":
            fulfilment.return_request(
                order=order, user=user, lines=_lines_requested(form, lines), reason=data["reason"]
            )
        elif action == "create-refund":
            chosen = _lines_requested(form, lines)
            fulfilment.refund_create(
                order=order,
                user=user,
                amount=data["amount"],
                lines=chosen if data["amount"] is None else None,
                include_shipping=data["include_shipping"],
                restock=data["restock"],
                reason=data["reason"],
            )
        elif action == "note":
            fulfilment.note_add(order=order, user=user, text=data["text"])
        elif action == "ship":
            order_transition(
                order=order, action="ship", user=user, tracking_number=data["tracking_number"]
            )
        elif action == "refund":
            order_transition(
                order=order,
                action="refund",
                user=user,
                restock=data["restock"],
                note=data["reason"],
            )
        else:
            order_transition(order=order, action=action, user=user, note=data.get("reason", ""))

    def return_view(
        self, request: HttpRequest, order_id: int, return_id: int, action: str
    ) -> HttpResponse:
        """Approve, reject or receive one of the order's returns."""
        order = get_object_or_404(Order, pk=order_id)
        order_return = get_object_or_404(Return, pk=return_id, order=order)
        if action not in RETURN_ACTIONS or not request.user.has_perm("orders.transition_order"):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else None
        form: forms.Form = (
            ReceiveForm(data, order_return=order_return)
            if action == "receive"
            else ConfirmForm(data)
        )
        if request.method == "POST" and form.is_valid():
            try:
                if action == "receive":
                    received = [
                        {
                            "sku": rl.order_line.sku,
                            "quantity": form.cleaned_data[f"qty_{rl.pk}"],
                            "restock": form.cleaned_data[f"restock_{rl.pk}"],
                        }
                        for rl in order_return.lines.select_related("order_line")
                    ]
                    fulfilment.return_receive(
                        order_return=order_return, user=request.user, lines=received
                    )
                else:
                    fulfilment.return_decide(
                        order_return=order_return,
                        user=request.user,
                        approve=action == "approve",
                        reason=form.cleaned_data["reason"],
                    )
            except DomainError as error:
                form.add_error(None, str(error.detail))
            else:
                messages.success(request, f"Return {order_return.pk}: {action} done.")
                return HttpResponseRedirect(self._page(order))
        title = f"{RETURN_ACTIONS[action][0]} return {order_return.pk}"
        return self._form_page(request, order, form, title)

    def _form_page(
        self, request: HttpRequest, order: Order, form: forms.Form, title: str
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": f"{title}: {order.number}",
            "form": form,
            "order": order,
            "back": self._page(order),
            "submit": title,
            "opts": Order._meta,
        }
        return TemplateResponse(request, "admin/orders/order/work_form.html", context)
