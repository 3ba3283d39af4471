"""A stateful property test of stock and orders, driven through the services.

Hypothesis picks a sequence of operations (adjust stock, place an order, pay
it by hand or through the payment webhook service, cancel, ship, deliver,
refund with or without restock, expire pending orders with a moved clock;
and the fulfilment steps: partial shipments, returns requested, approved,
rejected and received with or without restock, refunds of an amount or of
lines with or without restock, and the provider's refund.succeeded /
refund.failed webhooks) and after EVERY step checks, for each variant of
the example:

1. `stock >= 0`;
2. `stock == sum(ledger deltas)` (the StockMovement rows);
3. the conservation law, from orders/services.py and orders/transitions.py::

       stock + sum(quantity of the variant's lines in orders that hold stock)
           == initial stock + sum(manual adjustments)

   where an order that is not `cancelled` *holds*, per line, its quantity
   minus the units refunded and restocked before shipping (`refund_restock`)
   minus the units returned and restocked (`return_restock`); a cancelled
   order holds nothing (cancel returns the rest). The ledger's order
   movements are not used on the left side: they are what is checked.

And for every order: shipped <= ordered per line (with the units taken off
before shipping); returned <= claimed by returns <= shipped; refunded
(pending + succeeded) <= paid, in amount and per line; and its status is the
one its quantities and amounts imply.

Vouchers too: an order may use a voucher with a small usage limit; the
model predicts `exhausted` refusals, and checks after every step that the
voucher's `times_used` equals its redemptions, never exceeds the limit, and
counts exactly the orders holding one (cancelling an unpaid order, by hand or
by the timeout, frees its use; cancelling a paid one does not).

The model also predicts every outcome (InsufficientStock exactly when the
stock is short, InvalidTransition exactly when the table forbids the step,
the payment outcome, `refund_due`) and compares the order's status after
each step. Each example runs in a savepoint that is rolled back afterwards,
so examples do not see each other's rows. Examples are bounded for CI.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from catalog.exceptions import InsufficientStock
from catalog.models import Variant
from catalog.services import stock_adjust
from orders import fulfilment
from orders.exceptions import InvalidTransition, OverFulfilment, OverRefund, OverReturn
from orders.models import Order, OrderLine, OrderStatus, Refund, Return
from orders.payments import payment_event_apply
from orders.services import order_place, order_transition, orders_cancel_expired
from pricing.exceptions import VoucherInvalid
from pricing.models import Voucher
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import VariantFactory
from tests.orders.factories import ADDRESS
from tests.pricing.factories import VoucherFactory

S = OrderStatus
VARIANTS = 3
ZERO = Decimal("0.00")
PRICE = Decimal("7.50")
SHIPPABLE = {S.PAID, S.PARTIALLY_SHIPPED}
REFUNDABLE = {S.PAID, S.PARTIALLY_SHIPPED, S.SHIPPED, S.DELIVERED}
RETURNABLE = {S.PARTIALLY_SHIPPED, S.SHIPPED, S.DELIVERED, S.REFUNDED}


@dataclass
class LineModel:
    quantity: int
    shipped: int = 0
    cancelled: int = 0  # refunded and restocked before shipping
    claimed: int = 0  # in requested, approved or received returns
    returned: int = 0
    restocked: int = 0  # returned and restocked
    refunded: int = 0  # in pending and succeeded refunds

    @property
    def unshipped(self) -> int:
        return self.quantity - self.shipped - self.cancelled


@dataclass
class ReturnModel:
    pk: int
    order: "OrderModel"
    lines: dict[int, int]
    status: str = "requested"


@dataclass
class RefundModel:
    pk: int
    order: "OrderModel"
    amount: Decimal
    lines: dict[int, int]
    status: str = "pending"


@dataclass
class OrderModel:
    pk: int
    number: str
    lines: dict[int, LineModel]  # variant pk -> its line
    sku: dict[int, str]
    total: Decimal
    shipping: Decimal
    created_at: datetime
    status: str = S.PENDING_PAYMENT
    refund_due: bool = False
    paid: Decimal = ZERO
    refunded: Decimal = ZERO  # pending and succeeded
    delivered: bool = False
    redeemed: bool = False  # holds a use of the voucher

    def held(self, pk: int) -> int:
        """Units of variant `pk` this order keeps out of stock."""
        if self.status == S.CANCELLED or pk not in self.lines:
            return 0
        line = self.lines[pk]
        return line.quantity - line.cancelled - line.restocked

    def derive(self) -> None:
        """The status the quantities and amounts imply (pending and cancelled stay)."""
        if self.status in {S.PENDING_PAYMENT, S.CANCELLED}:
            return
        shipped = sum(line.shipped for line in self.lines.values())
        unshipped = sum(line.unshipped for line in self.lines.values())
        if self.paid > 0 and self.refunded >= self.paid:
            self.status = S.REFUNDED
        elif shipped and not unshipped:
            self.status = S.DELIVERED if self.delivered else S.SHIPPED
        elif shipped:
            self.status = S.PARTIALLY_SHIPPED
        else:
            self.status = S.PAID


@dataclass
class Model:
    stock: dict[int, int] = field(default_factory=dict)  # expected stock per variant
    added: dict[int, int] = field(default_factory=dict)  # initial + adjustments
    orders: dict[int, OrderModel] = field(default_factory=dict)

    def can_take(self, lines: dict[int, int]) -> bool:
        return all(self.stock[pk] >= qty for pk, qty in lines.items())

    def move(self, lines: dict[int, int], sign: int) -> None:
        for pk, qty in lines.items():
            self.stock[pk] += sign * qty


class StockMachine(RuleBasedStateMachine):
    orders = Bundle("orders")
    returns = Bundle("returns")
    refunds = Bundle("refunds")

    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint_create()
        self.model = Model()
        self.variants: list[Variant] = []
        self.customer = UserFactory()
        self.staff = StaffFactory(is_superuser=True)
        self.voucher: Voucher | None = None

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    # --- steps ------------------------------------------------------------------------

    @initialize(
        stocks=st.lists(st.integers(0, 8), min_size=VARIANTS, max_size=VARIANTS),
        voucher_limit=st.integers(1, 3),
    )
    def make_variants(self, stocks: list[int], voucher_limit: int) -> None:
        self.voucher = VoucherFactory(code=f"SM{uuid.uuid4().hex[:8]}", usage_limit=voucher_limit)
        for stock in stocks:
            variant = VariantFactory(price=PRICE, stock=stock)
            self.variants.append(variant)
            self.model.stock[variant.pk] = stock
            self.model.added[variant.pk] = stock

    @rule(index=st.integers(0, VARIANTS - 1), delta=st.integers(-6, 6).filter(bool))
    def adjust(self, index: int, delta: int) -> None:
        variant = self.variants[index]
        if self.model.stock[variant.pk] + delta < 0:
            with pytest.raises(InsufficientStock):
                stock_adjust(variant=variant, delta=delta, reason="property test")
            return
        stock_adjust(variant=variant, delta=delta, reason="property test")
        self.model.stock[variant.pk] += delta
        self.model.added[variant.pk] += delta

    @rule(
        target=orders,
        wanted=st.dictionaries(
            st.integers(0, VARIANTS - 1), st.integers(1, 4), min_size=1, max_size=VARIANTS
        ),
        use_voucher=st.booleans(),
    )
    def place(self, wanted: dict[int, int], use_voucher: bool) -> object:
        lines = {self.variants[i].pk: qty for i, qty in wanted.items()}
        request = [{"sku": self.variants[i].sku, "quantity": qty} for i, qty in wanted.items()]
        assert self.voucher is not None
        code = self.voucher.code.lower() if use_voucher else None
        exhausted = use_voucher and self._voucher_uses() >= (self.voucher.usage_limit or 0)
        if exhausted or not self.model.can_take(lines):
            with pytest.raises(VoucherInvalid if exhausted else InsufficientStock):
                order_place(
                    user=self.customer, lines=request, shipping_address=ADDRESS, voucher_code=code
                )
            return multiple()  # nothing placed: nothing added to the bundle
        order = order_place(
            user=self.customer, lines=request, shipping_address=ADDRESS, voucher_code=code
        )
        assert (order.voucher_code != "") == use_voucher
        self.model.move(lines, -1)
        placed = OrderModel(
            pk=order.pk,
            number=order.number,
            lines={pk: LineModel(quantity=qty) for pk, qty in lines.items()},
            sku={v.pk: v.sku for v in self.variants},
            total=order.total,
            shipping=order.shipping_total,
            created_at=order.created_at,
            redeemed=use_voucher,
        )
        self.model.orders[order.pk] = placed
        return placed

    def _transition(self, order: OrderModel, action: str, **kwargs: Any) -> bool:
        """Take `action` as staff; True when it happened, checked against the model."""
        allowed = {
            "mark-paid": {S.PENDING_PAYMENT},
            "cancel": {S.PENDING_PAYMENT, S.PAID},
            "ship": SHIPPABLE,
            "deliver": {S.SHIPPED},
            "refund": REFUNDABLE,
        }[action]
        actor = kwargs.pop("actor", self.staff)
        row = Order(pk=order.pk)
        if order.status not in allowed:
            with pytest.raises(InvalidTransition):
                order_transition(order=row, action=action, user=actor, **kwargs)
            return False
        order_transition(order=row, action=action, user=actor, **kwargs)
        return True

    @rule(order=orders)
    def mark_paid(self, order: OrderModel) -> None:
        if self._transition(order, "mark-paid"):
            order.status = S.PAID
            order.paid = order.total

    @rule(order=orders, by_owner=st.booleans())
    def cancel(self, order: OrderModel, by_owner: bool) -> None:
        actor = self.customer if by_owner else self.staff
        was_paid = order.status == S.PAID
        if self._transition(order, "cancel", actor=actor):
            order.redeemed = order.redeemed and was_paid
            order.status = S.CANCELLED
            order.refund_due = order.refund_due or was_paid
            self.model.move(self._unshipped(order), +1)

    @staticmethod
    def _unshipped(order: OrderModel) -> dict[int, int]:
        return {pk: line.quantity - line.cancelled for pk, line in order.lines.items()}

    @rule(order=orders)
    def ship(self, order: OrderModel) -> None:
        nothing_left = not any(line.unshipped for line in order.lines.values())
        if order.status in SHIPPABLE and nothing_left:
            with pytest.raises(OverFulfilment):
                order_transition(
                    order=Order(pk=order.pk), action="ship", user=self.staff, tracking_number="T"
                )
            return
        if self._transition(order, "ship", tracking_number="TRACK-1"):
            for line in order.lines.values():
                line.shipped += line.unshipped
            order.derive()

    @rule(order=orders)
    def deliver(self, order: OrderModel) -> None:
        if self._transition(order, "deliver"):
            order.status = S.DELIVERED
            order.delivered = True

    @rule(order=orders, restock=st.booleans())
    def refund(self, order: OrderModel, restock: bool) -> None:
        remaining = order.paid - order.refunded
        if order.status in REFUNDABLE and remaining <= 0:
            with pytest.raises(OverRefund):
                order_transition(
                    order=Order(pk=order.pk), action="refund", user=self.staff, restock=restock
                )
            return
        if self._transition(order, "refund", restock=restock, note="property test"):
            refund = Refund.objects.filter(order_id=order.pk).latest("pk")
            self._refund_record(order, refund.pk, remaining, self._unrefunded(order), restock)

    # --- fulfilment steps -------------------------------------------------------------

    @staticmethod
    def _unrefunded(order: OrderModel) -> dict[int, int]:
        return {
            pk: line.quantity - line.refunded
            for pk, line in order.lines.items()
            if line.quantity > line.refunded
        }

    def _refund_record(
        self,
        order: OrderModel,
        pk: int,
        amount: Decimal,
        lines: dict[int, int],
        restock: bool,
    ) -> RefundModel:
        for variant_pk, qty in lines.items():
            line = order.lines[variant_pk]
            line.refunded += qty
            if restock:
                back = min(qty, line.unshipped)
                line.cancelled += back
                self.model.stock[variant_pk] += back
        order.refunded += amount
        order.derive()
        return RefundModel(pk=pk, order=order, amount=amount, lines=lines)

    def _pick(self, order: OrderModel, index: int) -> int:
        """One of the order's variants, by `index`."""
        pks = sorted(order.lines)
        return pks[index % len(pks)]

    @rule(order=orders, index=st.integers(0, VARIANTS - 1), quantity=st.integers(1, 4))
    def ship_part(self, order: OrderModel, index: int, quantity: int) -> None:
        pk = self._pick(order, index)
        call: dict[str, Any] = {
            "order": Order(pk=order.pk),
            "user": self.staff,
            "tracking_number": "TRACK-P",
            "lines": [{"sku": order.sku[pk], "quantity": quantity}],
        }
        if order.status not in SHIPPABLE:
            with pytest.raises(InvalidTransition):
                fulfilment.shipment_create(**call)
            return
        if quantity > order.lines[pk].unshipped:
            with pytest.raises(OverFulfilment):
                fulfilment.shipment_create(**call)
            return
        fulfilment.shipment_create(**call)
        order.lines[pk].shipped += quantity
        order.derive()

    @rule(
        target=returns,
        order=orders,
        index=st.integers(0, VARIANTS - 1),
        quantity=st.integers(1, 4),
    )
    def request_return(self, order: OrderModel, index: int, quantity: int) -> object:
        pk = self._pick(order, index)
        line = order.lines[pk]
        call: dict[str, Any] = {
            "order": Order(pk=order.pk),
            "user": self.staff,
            "lines": [{"sku": order.sku[pk], "quantity": quantity}],
        }
        if order.status not in RETURNABLE:
            with pytest.raises(InvalidTransition):
                fulfilment.return_request(**call)
            return multiple()
        if quantity > line.shipped - line.claimed:
            with pytest.raises(OverReturn):
                fulfilment.return_request(**call)
            return multiple()
        created = fulfilment.return_request(**call)
        line.claimed += quantity
        return ReturnModel(pk=created.pk, order=order, lines={pk: quantity})

    @rule(order_return=returns, approve=st.booleans())
    def decide_return(self, order_return: ReturnModel, approve: bool) -> None:
        call: dict[str, Any] = {
            "order_return": Return.objects.get(pk=order_return.pk),
            "user": self.staff,
            "approve": approve,
        }
        if order_return.status != "requested":
            with pytest.raises(InvalidTransition):
                fulfilment.return_decide(**call)
            return
        fulfilment.return_decide(**call)
        order_return.status = "approved" if approve else "rejected"
        if not approve:
            for pk, qty in order_return.lines.items():
                order_return.order.lines[pk].claimed -= qty

    @rule(order_return=returns, received=st.integers(0, 4), restock=st.booleans())
    def receive_return(self, order_return: ReturnModel, received: int, restock: bool) -> None:
        ((pk, quantity),) = order_return.lines.items()
        order = order_return.order
        call: dict[str, Any] = {
            "order_return": Return.objects.get(pk=order_return.pk),
            "user": self.staff,
            "lines": [{"sku": order.sku[pk], "quantity": received, "restock": restock}],
        }
        if order_return.status != "approved":
            with pytest.raises(InvalidTransition):
                fulfilment.return_receive(**call)
            return
        if received > quantity:
            with pytest.raises(OverReturn):
                fulfilment.return_receive(**call)
            return
        fulfilment.return_receive(**call)
        order_return.status = "received"
        line = order.lines[pk]
        line.claimed -= quantity - received
        line.returned += received
        if restock:
            line.restocked += received
            self.model.stock[pk] += received

    @rule(
        target=refunds,
        order=orders,
        index=st.integers(0, VARIANTS - 1),
        quantity=st.integers(0, 4),
        cents=st.integers(1, 4000),
        restock=st.booleans(),
        include_shipping=st.booleans(),
    )
    def create_refund(
        self,
        order: OrderModel,
        index: int,
        quantity: int,
        cents: int,
        restock: bool,
        include_shipping: bool,
    ) -> object:
        """A refund of `quantity` units of one line (0: of an amount), through the service."""
        pk = self._pick(order, index)
        call: dict[str, Any] = {"order": Order(pk=order.pk), "user": self.staff}
        lines: dict[int, int] = {}
        if quantity:
            lines = {pk: quantity}
            amount = PRICE * quantity + (order.shipping if include_shipping else ZERO)
            call.update(
                lines=[{"sku": order.sku[pk], "quantity": quantity}],
                include_shipping=include_shipping,
                restock=restock,
            )
        else:
            amount = Decimal(cents) / 100
            call.update(amount=amount)
        if order.status not in REFUNDABLE:
            with pytest.raises(InvalidTransition):
                fulfilment.refund_create(**call)
            return multiple()
        over_line = quantity > order.lines[pk].quantity - order.lines[pk].refunded
        if over_line or amount > order.paid - order.refunded:
            with pytest.raises(OverRefund):
                fulfilment.refund_create(**call)
            return multiple()
        created = fulfilment.refund_create(**call)
        assert created.amount == amount
        return self._refund_record(order, created.pk, amount, lines, restock and bool(quantity))

    @rule(refund=refunds, succeeded=st.booleans(), mismatch=st.booleans())
    def confirm_refund(self, refund: RefundModel, succeeded: bool, mismatch: bool) -> None:
        event_id = f"evt_{uuid.uuid4().hex}"
        amount = refund.amount + (Decimal("0.01") if mismatch else ZERO)
        outcome = payment_event_apply(
            event_id=event_id,
            type="refund.succeeded" if succeeded else "refund.failed",
            order_number=refund.order.number,
            amount=amount,
            currency=settings.STORE_CURRENCY,
            payload={"id": event_id},
            refund_id=refund.pk,
        )
        if mismatch or refund.status != "pending":
            assert outcome == "refund_mismatch"
            return
        refund.status = "succeeded" if succeeded else "failed"
        assert outcome == f"refund_{refund.status}"
        if not succeeded:
            order = refund.order
            order.refunded -= refund.amount
            for pk, qty in refund.lines.items():
                order.lines[pk].refunded -= qty
            order.derive()

    @rule(order=orders, replay=st.booleans(), mismatch=st.booleans())
    def pay_by_webhook(self, order: OrderModel, replay: bool, mismatch: bool) -> None:
        event_id = f"evt_{uuid.uuid4().hex}"
        amount = order.total + (Decimal("1.00") if mismatch else 0)
        outcome = payment_event_apply(
            event_id=event_id,
            type="payment.succeeded",
            order_number=order.number,
            amount=amount,
            currency=settings.STORE_CURRENCY.lower(),
            payload={"id": event_id},
        )
        if mismatch:
            expected = "payment_mismatch"
        elif order.status == S.PENDING_PAYMENT:
            expected = "paid"
            order.status = S.PAID
            order.paid = order.total
        elif order.status == S.CANCELLED and not order.refund_due:
            if self.model.can_take(self._unshipped(order)):
                expected = "reallocated"
                order.status = S.PAID
                order.paid = order.total
                self.model.move(self._unshipped(order), -1)
            else:
                expected = "payment_unallocatable"
                order.refund_due = True
        else:
            expected = "payment_duplicate"
        assert outcome == expected
        if replay:  # the provider sends the same event again: nothing more happens
            again = payment_event_apply(
                event_id=event_id,
                type="payment.succeeded",
                order_number=order.number,
                amount=amount,
                currency=settings.STORE_CURRENCY,
                payload={"id": event_id},
            )
            assert again == "duplicate"

    @rule(minutes=st.sampled_from([0, 29, 31, 24 * 60]))
    def expire(self, minutes: int) -> None:
        """The payment-timeout sweep, run as if the clock had moved on by `minutes`."""
        now = timezone.now() + timedelta(minutes=minutes)
        cutoff = now - settings.ORDER_PAYMENT_TIMEOUT
        due = [
            o
            for o in self.model.orders.values()
            if o.status == S.PENDING_PAYMENT and o.created_at < cutoff
        ]
        assert orders_cancel_expired(now=now) == len(due)
        for order in due:
            order.status = S.CANCELLED
            order.redeemed = False
            self.model.move(self._unshipped(order), +1)

    def _voucher_uses(self) -> int:
        return sum(o.redeemed for o in self.model.orders.values())

    # --- invariants -------------------------------------------------------------------

    @invariant()
    def voucher_uses_never_exceed_the_limit_and_match_the_orders(self) -> None:
        if self.voucher is None:
            return
        voucher = Voucher.objects.get(pk=self.voucher.pk)
        assert voucher.times_used <= (voucher.usage_limit or 0)
        assert voucher.times_used == voucher.redemptions.count() == self._voucher_uses()

    @invariant()
    def stock_is_never_negative_and_equals_its_ledger(self) -> None:
        for variant in Variant.objects.filter(pk__in=self.model.stock).annotate(
            ledger=Sum("movements__delta")
        ):
            assert variant.stock >= 0
            assert variant.stock == (variant.ledger or 0), variant.sku
            assert variant.stock == self.model.stock[variant.pk], variant.sku

    @invariant()
    def stock_plus_held_equals_initial_plus_adjustments(self) -> None:
        stock = dict(Variant.objects.filter(pk__in=self.model.stock).values_list("pk", "stock"))
        statuses = dict(Order.objects.filter(pk__in=self.model.orders).values_list("pk", "status"))
        held = dict.fromkeys(stock, 0)
        for order in self.model.orders.values():
            assert statuses[order.pk] == order.status, order.number
            for pk in order.lines:
                held[pk] += order.held(pk)
        for pk in stock:
            assert stock[pk] + held[pk] == self.model.added[pk]

    @invariant()
    def quantities_and_amounts_stay_within_their_limits(self) -> None:
        rows = OrderLine.objects.filter(order_id__in=self.model.orders).select_related("order")
        for row in rows:
            line = self.model.orders[row.order_id].lines[row.variant_id]
            assert row.quantity_shipped + row.quantity_cancelled <= row.quantity
            assert row.quantity_returned <= row.quantity_return_claimed <= row.quantity_shipped
            assert row.quantity_refunded <= row.quantity
            assert (
                row.quantity_shipped,
                row.quantity_cancelled,
                row.quantity_return_claimed,
                row.quantity_returned,
                row.quantity_refunded,
            ) == (line.shipped, line.cancelled, line.claimed, line.returned, line.refunded)
        for order in Order.objects.filter(pk__in=self.model.orders):
            model = self.model.orders[order.pk]
            assert ZERO <= order.refunded_total <= order.paid_total
            assert (order.paid_total, order.refunded_total) == (model.paid, model.refunded)
            pending_and_succeeded = sum(
                (r.amount for r in order.refunds.exclude(status="failed")), ZERO
            )
            assert pending_and_succeeded == order.refunded_total

    @invariant()
    def refund_due_as_predicted(self) -> None:
        due = set(
            Order.objects.filter(pk__in=self.model.orders, refund_due=True).values_list(
                "pk", flat=True
            )
        )
        assert due == {pk for pk, o in self.model.orders.items() if o.refund_due}


@pytest.mark.django_db
def test_stock_and_orders_keep_their_invariants_through_any_sequence_of_services() -> None:
    run_state_machine_as_test(
        StockMachine,
        settings=hypothesis_settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
