"""A stateful property test of stock and orders, driven through the services.

Hypothesis picks a sequence of operations (adjust stock, place an order, pay
it by hand or through the payment webhook service, cancel, ship, deliver,
refund with or without restock, expire pending orders with a moved clock)
and after EVERY step checks, for each variant of the example:

1. `stock >= 0`;
2. `stock == sum(ledger deltas)` (the StockMovement rows);
3. the conservation law, from orders/services.py and orders/transitions.py::

       stock + sum(quantity of the variant's lines in orders that hold stock)
           == initial stock + sum(manual adjustments)

   where an order *holds* its quantities when its status is
   `pending_payment`, `paid`, `shipped` or `delivered` (taken when placed,
   or taken again by a late payment's `reallocate`), or `refunded` WITHOUT
   restock (the goods are gone: nothing was returned). It holds nothing when
   `cancelled` (cancel returns the stock, whether from pending or paid) or
   `refunded` with restock (returned as `refund_restock`). The ledger's
   order movements are not used on the left side: they are what is checked.

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
from orders.exceptions import InvalidTransition
from orders.models import Order, OrderStatus
from orders.payments import payment_event_apply
from orders.services import order_place, order_transition, orders_cancel_expired
from pricing.exceptions import VoucherInvalid
from pricing.models import Voucher
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import VariantFactory
from tests.orders.factories import ADDRESS
from tests.pricing.factories import VoucherFactory

S = OrderStatus
HOLDING = frozenset({S.PENDING_PAYMENT, S.PAID, S.SHIPPED, S.DELIVERED})
VARIANTS = 3


@dataclass
class OrderModel:
    pk: int
    number: str
    lines: dict[int, int]  # variant pk -> quantity
    total: Decimal
    created_at: datetime
    status: str = S.PENDING_PAYMENT
    refund_due: bool = False
    restocked: bool = False
    redeemed: bool = False  # holds a use of the voucher

    @property
    def holds(self) -> bool:
        return self.status in HOLDING or (self.status == S.REFUNDED and not self.restocked)


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
            variant = VariantFactory(price=Decimal("7.50"), stock=stock)
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
            lines=lines,
            total=order.total,
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
            "ship": {S.PAID},
            "deliver": {S.SHIPPED},
            "refund": {S.PAID, S.SHIPPED, S.DELIVERED},
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

    @rule(order=orders, by_owner=st.booleans())
    def cancel(self, order: OrderModel, by_owner: bool) -> None:
        actor = self.customer if by_owner else self.staff
        was_paid = order.status == S.PAID
        if self._transition(order, "cancel", actor=actor):
            order.redeemed = order.redeemed and was_paid
            order.status = S.CANCELLED
            order.refund_due = order.refund_due or was_paid
            self.model.move(order.lines, +1)

    @rule(order=orders)
    def ship(self, order: OrderModel) -> None:
        if self._transition(order, "ship", tracking_number="TRACK-1"):
            order.status = S.SHIPPED

    @rule(order=orders)
    def deliver(self, order: OrderModel) -> None:
        if self._transition(order, "deliver"):
            order.status = S.DELIVERED

    @rule(order=orders, restock=st.booleans())
    def refund(self, order: OrderModel, restock: bool) -> None:
        if self._transition(order, "refund", restock=restock, note="property test"):
            order.status = S.REFUNDED
            order.restocked = restock
            if restock:
                self.model.move(order.lines, +1)

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
        elif order.status == S.CANCELLED and not order.refund_due:
            if self.model.can_take(order.lines):
                expected = "reallocated"
                order.status = S.PAID
                self.model.move(order.lines, -1)
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
            self.model.move(order.lines, +1)

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
            if order.holds:
                for pk, qty in order.lines.items():
                    held[pk] += qty
        for pk in stock:
            assert stock[pk] + held[pk] == self.model.added[pk]

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
