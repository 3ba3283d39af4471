"""Every change list runs the same number of queries whether it shows 3 rows or 40.

Each registered model has a seeder here (a new admin page without one fails
`test_every_list_page_is_covered`); rows are bulk-created so the test stays fast.
"""

from collections.abc import Callable
from decimal import Decimal
from itertools import count

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import ApiToken, LoginFailure, User
from catalog.models import Category, Product, StockMovement, StockMovementKind, Variant
from integrations.models import ApiKey, Integration
from orders.models import Order, OrderEvent, OrderLine, OrderStatus, PaymentEvent
from pricing.models import Promotion, ShippingMethod, TaxClass, TaxRate, Voucher
from tests.accounts.factories import UserFactory
from tests.orders.factories import OrderFactory
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db

FEW, MANY = 3, 40
_serial = count()


def _n() -> int:
    return next(_serial)


def _users(n: int) -> None:
    User.objects.bulk_create(
        User(email=f"bulk{_n()}@example.com", first_name="Bulk", last_name="U", is_staff=True)
        for _ in range(n)
    )


def _groups(n: int) -> None:
    Group.objects.bulk_create(Group(name=f"Group {_n()}") for _ in range(n))


def _categories(n: int) -> None:
    root = Category.objects.create(name=f"Root {_n()}", slug=f"root-{_n()}")
    Category.objects.bulk_create(
        Category(name=f"Child {i}", slug=f"child-{_n()}", parent=root) for i in range(n - 1)
    )


def _products(n: int) -> list[Product]:
    category = Category.objects.create(name=f"Cat {_n()}", slug=f"cat-{_n()}")
    products = Product.objects.bulk_create(
        Product(name=f"Product {i}", slug=f"product-{_n()}", category=category) for i in range(n)
    )
    Variant.objects.bulk_create(
        Variant(product=p, sku=f"SKU-{_n()}", price=Decimal("9.90"), stock=3) for p in products
    )
    return products


def _variants(n: int) -> None:
    _products(n)


def _movements(n: int) -> None:
    _products(1)
    variant = Variant.objects.order_by("-pk").first()
    staff = UserFactory(is_staff=True)
    StockMovement.objects.bulk_create(
        StockMovement(variant=variant, kind=StockMovementKind.ADJUSTMENT, delta=1, created_by=staff)
        for _ in range(n)
    )


def _orders(n: int) -> None:
    users = User.objects.bulk_create(User(email=f"buyer{_n()}@example.com") for _ in range(n))
    orders = Order.objects.bulk_create(
        OrderFactory.build(user=user, number=f"SR-T{_n():08d}", status=OrderStatus.PAID)
        for user in users
    )
    variant = Variant.objects.create(
        product=_products(1)[0], sku=f"SKU-{_n()}", price=Decimal("5.00")
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=o,
            variant=variant,
            sku=variant.sku,
            product_name="P",
            unit_price=Decimal("5.00"),
            quantity=1,
            line_total=Decimal("5.00"),
        )
        for o in orders
    )
    OrderEvent.objects.bulk_create(
        OrderEvent(order=o, type="placed", actor_kind="customer", actor=o.user) for o in orders
    )


def _payment_events(n: int) -> None:
    PaymentEvent.objects.bulk_create(
        PaymentEvent(event_id=f"evt_{_n()}", type="payment.succeeded", outcome="paid")
        for _ in range(n)
    )


def _tokens(n: int) -> None:
    user = UserFactory()
    for _ in range(n):
        AuthToken.objects.create(user=user)


def _login_failures(n: int) -> None:
    LoginFailure.objects.bulk_create(
        LoginFailure(email=f"x{_n()}@example.com", ip_address="127.0.0.1") for _ in range(n)
    )


def _endpoints(n: int) -> None:
    Endpoint.objects.bulk_create(
        Endpoint(url=f"https://h{_n()}.example.com/", secret="s" * 32, event_types=["*"])
        for _ in range(n)
    )


def _events(n: int) -> list[Event]:
    return Event.objects.bulk_create(
        Event(type="order.placed", data={"n": i}, dispatched_at=timezone.now()) for i in range(n)
    )


def _deliveries(n: int) -> None:
    endpoint = Endpoint.objects.create(
        url=f"https://d{_n()}.example.com/", secret="s" * 32, event_types=["*"]
    )
    Delivery.objects.bulk_create(
        Delivery(event=event, endpoint=endpoint, status=DeliveryStatus.SUCCEEDED)
        for event in _events(n)
    )


def _tax_classes(n: int) -> None:
    TaxClass.objects.bulk_create(TaxClass(code=f"class-{_n()}", name="Bulk") for _ in range(n))


def _tax_rates(n: int) -> None:
    countries = ["DE", "FR", "AT", "IT", "ES", "NL", "BE", "PL", "SE", "DK"]
    TaxRate.objects.bulk_create(
        TaxRate(country=countries[i % 10], tax_class=tax_class, rate=Decimal("19.00"))
        for i, tax_class in enumerate(
            TaxClass.objects.bulk_create(
                TaxClass(code=f"rated-{_n()}", name="Bulk") for _ in range(n)
            )
        )
    )


def _shipping_methods(n: int) -> None:
    ShippingMethod.objects.bulk_create(
        ShippingMethod(code=f"method-{_n()}", name="Bulk", price=Decimal("4.90")) for _ in range(n)
    )


def _vouchers(n: int) -> None:
    Voucher.objects.bulk_create(
        Voucher(code=f"BULK{_n()}", kind="percentage", value=Decimal("10.00")) for _ in range(n)
    )


def _promotions(n: int) -> None:
    Promotion.objects.bulk_create(
        Promotion(name=f"Bulk {_n()}", kind="percentage", value=Decimal("5.00")) for _ in range(n)
    )


def _integrations(n: int) -> None:
    from accounts.roles import roles_setup
    from integrations.services import api_key_create, integration_create

    roles_setup(warn=lambda message: None)
    for _ in range(n):
        api_key_create(integration=integration_create(name=f"I{_n()}", role="Support"))


SEEDERS: dict[type[Model], Callable[[int], object]] = {
    User: _users,
    Group: _groups,
    ApiToken: _tokens,
    LoginFailure: _login_failures,
    Category: _categories,
    Product: _products,
    Variant: _variants,
    StockMovement: _movements,
    Order: _orders,
    PaymentEvent: _payment_events,
    Endpoint: _endpoints,
    Event: _events,
    Delivery: _deliveries,
    TaxClass: _tax_classes,
    TaxRate: _tax_rates,
    ShippingMethod: _shipping_methods,
    Voucher: _vouchers,
    Promotion: _promotions,
    Integration: _integrations,
    ApiKey: _integrations,
}
# Extra query strings worth proving too: the filters staff use most.
FILTERED = {
    Order: [{"status__exact": "paid"}, {"created_at__gte": "2000-01-01T00:00:00+00:00"}],
    Product: [{"is_published__exact": "0"}, {"stock": "in"}],
    StockMovement: [{"kind__exact": "adjustment"}],
    User: [{"is_staff__exact": "1"}],
    Delivery: [{"status__exact": "succeeded"}],
}
CASES: list[tuple[type[Model], dict[str, str]]] = [(model, {}) for model in SEEDERS] + [
    (model, params) for model, options in FILTERED.items() for params in options
]


def _url(model: type[Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _queries(client, url: str, params: dict[str, str], rows: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= rows
    return len(queries)


def test_every_list_page_is_covered():
    assert set(admin.site._registry) == set(SEEDERS)


@pytest.mark.parametrize(
    ("model", "params"),
    CASES,
    ids=[f"{m._meta.model_name}-{'&'.join(p) or 'all'}" for m, p in CASES],
)
def test_changelist_queries_do_not_grow_with_rows(admin_client_super, model, params):
    url = _url(model)
    SEEDERS[model](FEW)
    few = _queries(admin_client_super, url, params, FEW)
    SEEDERS[model](MANY - FEW)
    many = _queries(admin_client_super, url, params, MANY)
    assert many == few, f"{model.__name__}: {few} queries with {FEW} rows, {many} with {MANY}"


BIG_TABLES = [User, Category, Product, Variant, StockMovement, Order, Event, Delivery]


@pytest.mark.parametrize("model", BIG_TABLES, ids=lambda m: m.__name__)
def test_big_list_pages_never_count_the_whole_table(model):
    model_admin = admin.site._registry[model]
    assert model_admin.show_full_result_count is False
