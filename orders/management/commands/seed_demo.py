"""Fill an empty database with a realistic demo dataset, the same one for the same --seed.

Catalog rows are built with factory-boy factories (build strategy) and written
with bulk inserts in chunks, so 100,000 products take minutes. Stock is
ledgered exactly as the services would: an `adjustment` row for the initial
stock, `order_placed` for every order line, `order_cancelled` and
`refund_restock` where stock came back, and each variant's stock equals the
sum of its rows. Demo history sends no emails and records no outbox events:
it describes the past, nothing happens now.
"""

import random
import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import factory
import factory.random
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone
from django.utils.text import slugify
from factory.django import DjangoModelFactory

from accounts.models import ADDRESS_FIELDS, Address, User
from catalog import cache as catalog_cache
from catalog.models import Category, Product, StockMovement, StockMovementKind, Variant
from core.progress import Progress, Stream
from orders.models import ActorKind, Order, OrderEvent, OrderLine, OrderStatus
from pricing.seed import DEFAULT_SHIPPING_CODE

CHUNK = 2000
POOL_MAX = 20_000  # variants orders are drawn from: enough variety, bounded memory
DEMO_PASSWORD = "stockroom-demo"  # noqa: S105 - every demo customer's password, printed
CENT = Decimal("0.01")
RECENT_SHARE = 0.3  # of the orders past payment, placed in the last 7 days
COUNTRIES = ["DE", "FR", "NL", "BE", "AT", "IE", "ES", "IT", "DK", "SE"]
DEPARTMENTS: dict[str, tuple[list[str], list[str]]] = {
    # department: (sub-categories, product nouns)
    "Apparel": (
        ["T-shirts", "Hoodies", "Jeans", "Jackets", "Socks"],
        ["Tee", "Hoodie", "Jeans", "Jacket", "Socks", "Cap"],
    ),
    "Home & Kitchen": (
        ["Mugs", "Cookware", "Bedding", "Lighting"],
        ["Mug", "Pan", "Duvet Cover", "Lamp", "Teapot", "Cutting Board"],
    ),
    "Electronics": (
        ["Headphones", "Chargers", "Speakers", "Cables"],
        ["Headphones", "Charger", "Speaker", "USB-C Cable", "Power Bank"],
    ),
    "Books": (
        ["Fiction", "Cooking", "Travel", "Science"],
        ["Novel", "Cookbook", "Travel Guide", "Field Guide", "Notebook"],
    ),
    "Sports & Outdoors": (
        ["Running", "Camping", "Cycling", "Yoga"],
        ["Running Shoes", "Tent", "Bike Light", "Yoga Mat", "Water Bottle"],
    ),
    "Garden": (["Tools", "Planters", "Seeds"], ["Trowel", "Planter", "Seed Mix", "Hose"]),
    "Toys & Games": (
        ["Puzzles", "Board Games", "Building Sets"],
        ["Puzzle", "Board Game", "Building Set", "Kite"],
    ),
    "Beauty": (["Skincare", "Fragrance", "Hair Care"], ["Face Cream", "Perfume", "Shampoo"]),
}
ADJECTIVES = ["Classic", "Everyday", "Rustic", "Urban", "Compact", "Premium", "Organic", "Nordic"]
MATERIALS = ["Cotton", "Bamboo", "Steel", "Oak", "Ceramic", "Recycled", "Linen", "Wool"]
COLORS = ["Black", "White", "Navy", "Olive", "Sand", "Red", "Grey"]
SIZES = ["S", "M", "L", "XL"]
STATUS_WEIGHTS = {
    OrderStatus.PENDING_PAYMENT: 10,
    OrderStatus.PAID: 15,
    OrderStatus.PARTIALLY_SHIPPED: 5,
    OrderStatus.SHIPPED: 15,
    OrderStatus.DELIVERED: 40,
    OrderStatus.CANCELLED: 12,
    OrderStatus.REFUNDED: 8,
}
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# --- Factories (build only: rows are written in bulk) ----------------------------------------


def shipping_total_for(subtotal: Decimal) -> Decimal:
    """The default shipping method's price (pricing.seed): demo orders are made in bulk, untaxed."""
    if subtotal >= Decimal(settings.SHIPPING_FREE_FROM):
        return Decimal("0.00")
    return Decimal(settings.SHIPPING_FLAT_RATE).quantize(CENT)


class DemoProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    class Params:
        noun = "Thing"
        n = 0

    name = factory.LazyAttribute(
        lambda o: (
            f"{factory.random.randgen.choice(ADJECTIVES)} "
            f"{factory.random.randgen.choice(MATERIALS)} {o.noun}"
        )
    )
    slug = factory.LazyAttribute(lambda o: f"{slugify(o.name)}-{o.n}")
    description = factory.Faker("paragraph", nb_sentences=2)
    is_published = factory.LazyFunction(lambda: factory.random.randgen.random() < 0.9)


class DemoVariantFactory(DjangoModelFactory):
    class Meta:
        model = Variant

    price = factory.LazyFunction(
        lambda: (Decimal(factory.random.randgen.randint(3, 250)) - Decimal("0.01")).quantize(CENT)
    )


class DemoCustomerFactory(DjangoModelFactory):
    class Meta:
        model = User

    class Params:
        n = 0

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(
        lambda o: (
            f"{re.sub('[^a-z]', '', o.first_name.lower())}."
            f"{re.sub('[^a-z]', '', o.last_name.lower())}{o.n}@example.com"
        )
    )
    phone = factory.Faker("numerify", text="+49 30 #######")


class DemoAddressFactory(DjangoModelFactory):
    class Meta:
        model = Address

    line1 = factory.Faker("street_address")
    city = factory.Faker("city")
    postal_code = factory.Faker("postcode")
    country = factory.Faker("random_element", elements=COUNTRIES)


# --- The dataset -------------------------------------------------------------------------------


@dataclass
class Sellable:
    pk: int
    sku: str
    price: Decimal
    product_name: str
    variant_name: str
    stock: int


@dataclass
class Seeder:
    rng: random.Random
    now: datetime
    stderr: Stream
    pool: list[Sellable] = field(default_factory=list)
    deltas: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    customers: list[tuple[User, Address]] = field(default_factory=list)
    numbers: set[str] = field(default_factory=set)

    def ago(self, *, days: float) -> datetime:
        return self.now - timedelta(seconds=self.rng.uniform(0, days * 86400))

    def categories(self) -> list[Category]:
        """The fixed two-level tree; existing categories with the same slugs are reused."""
        rows = []
        for position, department in enumerate(DEPARTMENTS):
            rows.append(Category(name=department, slug=slugify(department), position=position))
        Category.objects.bulk_create(rows, ignore_conflicts=True)
        parents = {c.slug: c for c in Category.objects.filter(slug__in=[r.slug for r in rows])}
        children_rows = [
            Category(
                name=name,
                slug=slugify(f"{department} {name}"),
                position=position,
                parent=parents[slugify(department)],
            )
            for department, (children, _) in DEPARTMENTS.items()
            for position, name in enumerate(children)
        ]
        Category.objects.bulk_create(children_rows, ignore_conflicts=True)
        return list(
            Category.objects.filter(slug__in=[c.slug for c in children_rows])
            .select_related("parent")
            .order_by("slug")
        )

    def products(self, *, count: int, leaves: list[Category]) -> None:
        progress = Progress(total=count, label="products", stream=self.stderr)
        pool_rate = min(1.0, POOL_MAX / max(count * 2, 1))
        for start in range(0, count, CHUNK):
            size = min(CHUNK, count - start)
            products = []
            for n in range(start + 1, start + size + 1):
                leaf = self.rng.choice(leaves)
                assert leaf.parent is not None
                noun = self.rng.choice(DEPARTMENTS[leaf.parent.name][1])
                created = self.ago(days=365)
                products.append(
                    DemoProductFactory.build(
                        category=leaf, noun=noun, n=n, created_at=created, updated_at=created
                    )
                )
            Product.objects.bulk_create(products)
            variants = [v for p in products for v in self._variants(p)]
            Variant.objects.bulk_create(variants)
            StockMovement.objects.bulk_create(
                StockMovement(
                    variant_id=v.pk,
                    kind=StockMovementKind.ADJUSTMENT,
                    delta=v.stock,
                    reason="demo: initial stock",
                    created_at=v.created_at,
                )
                for v in variants
                if v.stock
            )
            self.pool += [
                Sellable(v.pk, v.sku, v.price, v.product.name, v.name, v.stock)
                for v in variants
                if v.stock and v.product.is_published and self.rng.random() < pool_rate
            ]
            progress.advance(size)
        progress.done()

    def _variants(self, product: Product) -> Iterator[Variant]:
        apparel = product.category.parent is not None and product.category.parent.name == "Apparel"
        kinds = self.rng.choice([1, 1, 2, 3, 4])
        color = self.rng.choice(COLORS)
        for k in range(kinds):
            attributes = {"size": SIZES[k], "color": color} if apparel else {"color": COLORS[k]}
            name = f"{SIZES[k]} / {color}" if apparel else (COLORS[k] if kinds > 1 else "")
            stock = 0 if self.rng.random() < 0.1 else self.rng.randint(1, 200)
            yield DemoVariantFactory.build(
                product=product,
                sku=f"DEMO-{product.slug.rsplit('-', 1)[-1]:0>6}-{k + 1}",
                name=name,
                attributes=attributes if kinds > 1 or apparel else {},
                stock=stock,
                created_at=product.created_at,
                updated_at=product.created_at,
            )

    def customers_create(self, *, count: int) -> None:
        progress = Progress(total=count, label="customers", stream=self.stderr)
        password = make_password(DEMO_PASSWORD, salt="stockroomdemo")
        for start in range(0, count, CHUNK):
            size = min(CHUNK, count - start)
            users = [
                DemoCustomerFactory.build(n=n, password=password, date_joined=self.ago(days=400))
                for n in range(start + 1, start + size + 1)
            ]
            User.objects.bulk_create(users)
            addresses = [
                DemoAddressFactory.build(
                    user=user,
                    full_name=f"{user.first_name} {user.last_name}",
                    phone=user.phone,
                    created_at=user.date_joined,
                )
                for user in users
            ]
            Address.objects.bulk_create(addresses)
            self.customers += list(zip(users, addresses, strict=True))
            progress.advance(size)
        progress.done()

    def _number(self) -> str:
        while True:
            number = "SR-" + "".join(self.rng.choice(NUMBER_ALPHABET) for _ in range(10))
            if number not in self.numbers:
                self.numbers.add(number)
                return number

    def orders_create(self, *, count: int) -> int:
        progress = Progress(total=count, label="orders", stream=self.stderr)
        statuses = list(STATUS_WEIGHTS)
        made = 0
        for start in range(0, count, CHUNK):
            batch: list[tuple[Order, list[OrderLine], list[OrderEvent], list[StockMovement]]] = []
            for i in range(start, min(start + CHUNK, count)):
                status = (
                    statuses[i]
                    if i < len(statuses)
                    else self.rng.choices(statuses, weights=list(STATUS_WEIGHTS.values()))[0]
                )
                planned = self._order(status)
                if planned is None:
                    break  # the pool ran out of stock
                batch.append(planned)
            Order.objects.bulk_create([b[0] for b in batch])
            for order, lines, events, _ in batch:
                for line in lines:
                    line.order_id = order.pk
                for event in events:
                    event.order_id = order.pk
            OrderLine.objects.bulk_create([line for b in batch for line in b[1]])
            OrderEvent.objects.bulk_create([event for b in batch for event in b[2]])
            StockMovement.objects.bulk_create([m for b in batch for m in b[3]])
            made += len(batch)
            progress.advance(len(batch))
            if len(batch) < min(CHUNK, count - start):
                self.stderr.write(f"\nStock ran out after {made} orders.\n")
                break
        progress.done()
        return made

    def _order(
        self, status: str
    ) -> tuple[Order, list[OrderLine], list[OrderEvent], list[StockMovement]] | None:
        user, address = self.rng.choice(self.customers)
        available = [s for s in self.rng.sample(self.pool, min(40, len(self.pool))) if s.stock]
        picked = available[: self.rng.choice([1, 1, 2, 2, 3, 4])]
        if status == OrderStatus.PARTIALLY_SHIPPED:
            picked = available[: max(2, len(picked))]  # one line shipped, one not yet
        if not picked:
            return None
        if status == OrderStatus.PENDING_PAYMENT:
            # Younger than the payment timeout, or the expiry task would cancel it at once.
            limit = settings.ORDER_PAYMENT_TIMEOUT.total_seconds() / 2
            created = self.now - timedelta(seconds=self.rng.uniform(0, limit))
        elif self.rng.random() < RECENT_SHARE:
            # The dashboard's last 7 days have orders and revenue to show.
            created = self.ago(days=7)
        else:
            created = self.ago(days=180) - timedelta(days=2)
        lines = []
        for sellable in picked:
            quantity = self.rng.randint(1, min(3, sellable.stock))
            sellable.stock -= quantity
            lines.append(
                OrderLine(
                    variant_id=sellable.pk,
                    sku=sellable.sku,
                    product_name=sellable.product_name,
                    variant_name=sellable.variant_name,
                    unit_price=sellable.price,
                    quantity=quantity,
                    line_total=(sellable.price * quantity).quantize(CENT),
                )
            )
        subtotal = sum((line.line_total for line in lines), Decimal("0.00"))
        shipping = shipping_total_for(subtotal)
        number = self._number()
        paid_first = status != OrderStatus.CANCELLED or self.rng.random() < 0.5
        # Only units never shipped go back to stock on a refund (restocked before shipping).
        restock = status == OrderStatus.REFUNDED and self.rng.random() < 0.5
        path = (
            _STATUS_PATHS[status]
            if status != OrderStatus.CANCELLED
            else (["paid", "cancelled"] if paid_first else ["cancelled"])
        )
        if restock:
            path = ["paid", "refunded"]
        events = [
            OrderEvent(
                type="placed",
                to_status=OrderStatus.PENDING_PAYMENT,
                actor_kind=ActorKind.CUSTOMER,
                actor=user,
                created_at=created,
            )
        ]
        movements = [
            StockMovement(
                variant_id=line.variant_id,
                kind=StockMovementKind.ORDER_PLACED,
                delta=-line.quantity,
                order_number=number,
                created_by=user,
                created_at=created,
            )
            for line in lines
        ]
        moment, current = created, OrderStatus.PENDING_PAYMENT
        # Each later step within a day, and the last one before now.
        room = (self.now - created).total_seconds() // 60 // (len(path) + 1)
        step_max = int(max(1, min(60 * 24, room)))
        delivered_at = None
        for step in path:
            moment += timedelta(minutes=self.rng.randint(min(5, step_max), step_max))
            events.append(
                OrderEvent(
                    type=step,
                    from_status=current,
                    to_status=_TARGET[step],
                    actor_kind=ActorKind.SYSTEM,
                    created_at=moment,
                    note="Payment timeout." if step == "cancelled" and not paid_first else "",
                )
            )
            current = _TARGET[step]
            if step == "delivered":
                delivered_at = moment
            if step == "cancelled" or (step == "refunded" and restock):
                kind = (
                    StockMovementKind.ORDER_CANCELLED
                    if step == "cancelled"
                    else StockMovementKind.REFUND_RESTOCK
                )
                for line, sellable in zip(lines, picked, strict=True):
                    sellable.stock += line.quantity
                    movements.append(
                        StockMovement(
                            variant_id=line.variant_id,
                            kind=kind,
                            delta=line.quantity,
                            order_number=number,
                            created_at=moment,
                        )
                    )
        for line in lines:
            self.deltas[line.variant_id] += sum(
                m.delta for m in movements if m.variant_id == line.variant_id
            )
        shipped = "shipped" in path or "partially_shipped" in path
        for index, line in enumerate(lines):
            if "shipped" in path or (index == 0 and "partially_shipped" in path):
                line.quantity_shipped = line.quantity
            if "refunded" in path:
                line.quantity_refunded = line.quantity
                line.quantity_cancelled = line.quantity if restock else 0
        paid = "paid" in path
        order = Order(
            number=number,
            user=user,
            status=status,
            currency=settings.STORE_CURRENCY,
            subtotal=subtotal,
            shipping_method_code=DEFAULT_SHIPPING_CODE,
            shipping_method_name="Standard shipping",
            shipping_total=shipping,
            total=subtotal + shipping,
            refund_due=status == OrderStatus.CANCELLED and paid_first,
            paid_total=subtotal + shipping if paid else Decimal("0.00"),
            refunded_total=subtotal + shipping if "refunded" in path else Decimal("0.00"),
            delivered_at=delivered_at,
            tracking_number=f"TRK{self.rng.randint(10**9, 10**10 - 1)}" if shipped else "",
            created_at=created,
            updated_at=moment,
            **{f"shipping_{f}": getattr(address, f) for f in ADDRESS_FIELDS},
        )
        return order, lines, events, movements

    def stock_apply(self) -> None:
        """Write the stock the orders took (and returned) to the variants, in pk order."""
        items = sorted((pk, d) for pk, d in self.deltas.items() if d)
        for start in range(0, len(items), 500):
            batch = items[start : start + 500]
            Variant.objects.filter(pk__in=[pk for pk, _ in batch]).update(
                stock=Case(
                    *[When(pk=pk, then=F("stock") + Value(d)) for pk, d in batch],
                    output_field=IntegerField(),
                )
            )


_TARGET = {
    "paid": OrderStatus.PAID,
    "partially_shipped": OrderStatus.PARTIALLY_SHIPPED,
    "shipped": OrderStatus.SHIPPED,
    "delivered": OrderStatus.DELIVERED,
    "cancelled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
}
_STATUS_PATHS: dict[str, list[str]] = {
    OrderStatus.PENDING_PAYMENT: [],
    OrderStatus.PAID: ["paid"],
    OrderStatus.PARTIALLY_SHIPPED: ["paid", "partially_shipped"],
    OrderStatus.SHIPPED: ["paid", "shipped"],
    OrderStatus.DELIVERED: ["paid", "shipped", "delivered"],
    OrderStatus.REFUNDED: ["paid", "shipped", "delivered", "refunded"],
}


@contextmanager
def _explicit_timestamps(*model_classes: type[models.Model]) -> Iterator[None]:
    """Let the seed write its own created_at/updated_at (history spread over months).

    auto_now/auto_now_add would stamp every row with the same instant; they
    are switched off for this process while seeding, and back on after.
    """
    switched = []
    for model in model_classes:
        for f in model._meta.concrete_fields:
            if isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
                switched.append((f, f.auto_now, f.auto_now_add))
                f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in switched:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Fill an empty database with a realistic demo dataset: a category tree, products "
        "with variants and ledgered stock, customers with addresses, and orders in every "
        "status. Deterministic for a given --seed; bulk inserts, so 100,000 products take "
        f"minutes. Demo customers log in with the password {DEMO_PASSWORD!r}."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--products", type=_non_negative, default=200)
        parser.add_argument("--customers", type=_non_negative, default=50)
        parser.add_argument("--orders", type=_non_negative, default=300)
        parser.add_argument(
            "--seed", type=int, default=None, help="The same seed gives the same data."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        products, customers, orders = options["products"], options["customers"], options["orders"]
        if orders and not (products and customers):
            raise CommandError(
                "Orders need products and customers: give --products and --customers."
            )
        if Product.objects.exists() or Order.objects.exists():
            raise CommandError(
                "The database already has products or orders: seed_demo only fills an empty one."
            )
        seed = (
            options["seed"]
            if options["seed"] is not None
            else random.SystemRandom().randrange(10**6)
        )
        factory.random.reseed_random(seed)
        stderr = cast(Stream, self.stderr._out)
        seeder = Seeder(rng=random.Random(seed), now=timezone.now(), stderr=stderr)
        models_with_timestamps = (Product, Variant, StockMovement, Address, Order, OrderEvent)
        with _explicit_timestamps(*models_with_timestamps), transaction.atomic():
            leaves = seeder.categories()
            seeder.products(count=products, leaves=leaves)
            seeder.customers_create(count=customers)
            made = seeder.orders_create(count=orders) if orders else 0
            seeder.stock_apply()
            catalog_cache.invalidate_on_commit()
        self.stdout.write(
            f"Seed {seed}: {len(leaves)} categories, {products} products, {customers} customers "
            f"(password {DEMO_PASSWORD!r}), {made} orders."
        )
