"""Catalog services: slugs, protected deletes, the tree, the stock ledger and its CHECK."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog import services
from catalog.db import category_subtree_ids
from catalog.exceptions import InsufficientStock, VariantOfAnotherProduct
from catalog.models import Category, Product, StockMovement, Variant
from core.errors import FieldInvalid, ProtectedObject
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def test_generated_slugs_stay_unique():
    category = CategoryFactory()
    slugs = [services.product_create(name="Blue Shirt!", category=category).slug for _ in range(3)]

    assert slugs == ["blue-shirt", "blue-shirt-2", "blue-shirt-3"]
    assert services.product_create(name="???", category=category).slug == "product"
    assert services.category_create(name="Blue Shirt").slug == "blue-shirt"


def test_explicit_taken_slug_is_refused():
    ProductFactory(slug="taken")

    with pytest.raises(FieldInvalid) as error:
        services.product_create(name="X", slug="taken", category=CategoryFactory())

    assert error.value.extra == {"errors": {"slug": ["This slug is already in use."]}}


def test_descendants_in_one_query_at_any_depth(django_assert_num_queries):
    root = CategoryFactory(slug="root")
    parent = root
    chain = [root.pk]
    for depth in range(12):
        parent = CategoryFactory(slug=f"level-{depth}", parent=parent)
        chain.append(parent.pk)
    sibling = CategoryFactory(slug="sibling", parent=root)
    CategoryFactory(slug="elsewhere")

    with django_assert_num_queries(1):
        ids = set(
            Category.objects.filter(pk__in=category_subtree_ids(slug="root")).values_list(
                "pk", flat=True
            )
        )
    assert ids == {*chain, sibling.pk}
    with django_assert_num_queries(1):
        assert set(
            Category.objects.filter(pk__in=category_subtree_ids(pk=chain[-2])).values_list(
                "pk", flat=True
            )
        ) == set(chain[-2:])


def test_category_cannot_become_its_own_ancestor():
    root = CategoryFactory()
    leaf = CategoryFactory(parent=CategoryFactory(parent=root))

    with pytest.raises(FieldInvalid):
        services.category_update(category=root, data={"parent": leaf})


def test_protected_deletes():
    category = CategoryFactory()
    variant = VariantFactory(product__category=category, stock=3)

    with pytest.raises(ProtectedObject):
        services.category_delete(category=category)
    services.stock_take(quantities={variant.pk: 1}, order_number="SR-1")
    with pytest.raises(ProtectedObject):
        services.product_delete(product=variant.product)
    with pytest.raises(ProtectedObject):
        services.variant_delete(variant=variant)


def test_duplicate_sku_is_refused():
    VariantFactory(sku="DUP")

    with pytest.raises(FieldInvalid) as error:
        services.variant_create(product=ProductFactory(), sku="DUP", price=Decimal("1.00"))

    assert "sku" in error.value.extra["errors"]


def test_lowest_price_column_follows_every_variant_write():
    product = ProductFactory()
    assert product.min_price is None
    cheap = VariantFactory(product=product, price=Decimal("5.00"))
    VariantFactory(product=product, price=Decimal("8.00"))
    product.refresh_from_db()
    assert product.min_price == Decimal("5.00")

    services.variant_update(variant=cheap, data={"price": Decimal("9.50")})
    product.refresh_from_db()
    assert product.min_price == Decimal("8.00")

    other = ProductFactory()
    services.variant_update(variant=cheap, data={"product": other})
    services.variant_create(product=product, sku="NEW", price=Decimal("2.00"))
    product.refresh_from_db()
    other.refresh_from_db()
    assert (product.min_price, other.min_price) == (Decimal("2.00"), Decimal("9.50"))

    services.variant_delete(variant=cheap)
    other.refresh_from_db()
    assert other.min_price is None


def test_bulk_created_and_deleted_variants_refresh_their_products():
    products = [ProductFactory(), ProductFactory()]
    Variant.objects.bulk_create(
        [
            Variant(product=p, sku=f"BULK-{p.pk}-{i}", price=Decimal(price))
            for p in products
            for i, price in enumerate(["4.00", "3.00"])
        ]
    )

    for product in products:
        product.refresh_from_db()
        assert product.min_price == Decimal("3.00")
        assert Product.objects.filter(pk=product.pk, search_vector=f"BULK-{product.pk}-0").exists()
    Variant.objects.filter(price=Decimal("3.00")).delete()
    assert set(Product.objects.values_list("min_price", flat=True)) == {Decimal("4.00")}


# --- stock -------------------------------------------------------------------------------


def test_stock_check_constraint_refuses_negative_stock():
    variant = VariantFactory(stock=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        Variant.objects.filter(pk=variant.pk).update(stock=-1)


def test_ledger_equals_stock_after_adjustments_takes_and_returns(staff_user):
    variant = VariantFactory(stock=10)
    services.stock_adjust(variant=variant, delta=5, reason="delivery", user=staff_user)
    services.stock_adjust(variant=variant, delta=-2, reason="damaged", user=staff_user)
    services.stock_take(quantities={variant.pk: 4}, order_number="SR-1")
    services.stock_return(quantities={variant.pk: 1}, kind="order_cancelled", order_number="SR-1")

    variant.refresh_from_db()
    deltas = list(variant.movements.order_by("id").values_list("kind", "delta", "created_by"))
    assert variant.stock == 10 == sum(d for _, d, _ in deltas)
    assert deltas == [
        ("adjustment", 10, None),
        ("adjustment", 5, staff_user.pk),
        ("adjustment", -2, staff_user.pk),
        ("order_placed", -4, None),
        ("order_cancelled", 1, None),
    ]


def test_take_is_all_or_nothing_and_names_every_shortage():
    a = VariantFactory(sku="A", stock=5)
    b = VariantFactory(sku="B", stock=1)
    c = VariantFactory(sku="C", stock=0)
    movements_before = StockMovement.objects.count()

    with pytest.raises(InsufficientStock) as error:
        services.stock_take(quantities={a.pk: 2, b.pk: 3, c.pk: 1}, order_number="SR-2")

    assert error.value.extra["shortages"] == [
        {"sku": "B", "requested": 3, "available": 1},
        {"sku": "C", "requested": 1, "available": 0},
    ]
    assert list(Variant.objects.order_by("sku").values_list("stock", flat=True)) == [5, 1, 0]
    assert StockMovement.objects.count() == movements_before


def test_take_returns_movements_with_new_stock_and_records_events():
    a = VariantFactory(sku="A", stock=5)
    b = VariantFactory(sku="B", stock=5)
    Event.objects.all().delete()

    movements = services.stock_take(quantities={b.pk: 1, a.pk: 2}, order_number="SR-3")

    assert sorted((m.variant.sku, m.delta, m.variant.stock) for m in movements) == [
        ("A", -2, 3),
        ("B", -1, 4),
    ]
    assert sorted(
        (e.data["sku"], e.data["stock"], e.data["order"]) for e in Event.objects.all()
    ) == [("A", 3, "SR-3"), ("B", 4, "SR-3")]


def test_take_and_return_join_the_callers_transaction_without_a_savepoint():
    """A savepoint costs two statements on every order; a refusal needs none (nothing written)."""
    variant = VariantFactory(stock=5)
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        services.stock_take(quantities={variant.pk: 2}, order_number="SR-4")
        services.stock_return(quantities={variant.pk: 1}, kind="order_cancelled")
        with pytest.raises(InsufficientStock):
            services.stock_take(quantities={variant.pk: 9}, order_number="SR-5")
        variant.refresh_from_db()  # the caller's transaction is still usable
    assert variant.stock == 4
    assert not [q["sql"] for q in captured.captured_queries if "SAVEPOINT" in q["sql"]]


def test_locked_variants_are_published_ones_in_key_order_and_are_not_read_again():
    b = VariantFactory(sku="B", stock=5)
    a = VariantFactory(sku="A", stock=1)
    VariantFactory(sku="HIDDEN", stock=5, product__is_published=False)
    with transaction.atomic():
        locked = services.variants_lock(skus=["B", "A", "HIDDEN", "NOPE"])
        assert [v.pk for v in locked] == sorted([a.pk, b.pk])
        with CaptureQueriesContext(connection) as captured:
            with pytest.raises(InsufficientStock) as short:
                services.stock_take(quantities={a.pk: 2}, locked=locked)
            services.stock_take(quantities={b.pk: 2, a.pk: 1}, order_number="SR-6", locked=locked)
    assert short.value.extra["shortages"] == [{"sku": "A", "requested": 2, "available": 1}]
    selects = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    # Only A's product, whose stock crosses zero, is locked (for the in_stock trigger).
    assert len(selects) == 1
    assert '"catalog_product"' in selects[0]
    assert selects[0].endswith("FOR UPDATE")
    assert list(Variant.objects.order_by("sku").values_list("stock", flat=True)) == [0, 3, 5]


def test_bad_quantities_are_refused():
    variant = VariantFactory(stock=5)

    with pytest.raises(ValueError):
        services.stock_take(quantities={variant.pk: 0})
    with pytest.raises(ValueError):
        services.stock_return(quantities={variant.pk: -1}, kind="order_cancelled")
    with pytest.raises(ValueError):
        services.stock_adjust(variant=variant, delta=0, reason="x")
    with pytest.raises(Variant.DoesNotExist):
        services.stock_take(quantities={variant.pk + 1000: 1})


# --- stock_reconcile ----------------------------------------------------------------------


def test_stock_reconcile_passes_when_ledger_matches(capsys):
    VariantFactory(stock=3)
    VariantFactory(stock=0)

    call_command("stock_reconcile")

    assert "matches" in capsys.readouterr().out


def test_stock_reconcile_lists_differences_and_exits_1(capsys):
    VariantFactory(sku="GOOD", stock=3)
    bad = VariantFactory(sku="BAD", stock=3)
    Variant.objects.filter(pk=bad.pk).update(stock=7)  # a write that bypassed the services

    with pytest.raises(SystemExit) as exit_:
        call_command("stock_reconcile")

    assert exit_.value.code == 1
    output = capsys.readouterr()
    assert output.out.strip() == "BAD: stock 7, ledger 3 (difference +4)"
    assert "1 variant(s) differ" in output.err


def test_upsert_locks_variants_in_key_order_across_chunks(monkeypatch):
    product = ProductFactory(slug="tee")
    # SKUs sort the other way round from the primary keys.
    variants = [VariantFactory(product=product, sku=f"TEE-{9 - i}") for i in range(5)]
    monkeypatch.setattr(services, "UPSERT_CHUNK", 2)

    with CaptureQueriesContext(connection) as queries:
        services.catalog_upsert(
            products=[],
            variants=[
                services.VariantUpsert(sku=v.sku, product_slug="tee", price=v.price, stock=3)
                for v in variants
            ],
            reason="import",
        )

    locks = [
        q["sql"] for q in queries if "FOR UPDATE" in q["sql"] and "catalog_variant" in q["sql"]
    ]
    locked_ids = [
        int(pk) for sql in locks[:3] for pk in sql.split("IN (")[1].split(")")[0].split(", ")
    ]
    assert locked_ids == sorted(v.pk for v in variants)
    assert set(Variant.objects.values_list("stock", flat=True)) == {3}


def test_upsert_refuses_a_sku_of_another_product_and_writes_nothing():
    VariantFactory(sku="TEE-S", product=ProductFactory(slug="elsewhere"))
    category = CategoryFactory()

    with pytest.raises(VariantOfAnotherProduct) as error:
        services.catalog_upsert(
            products=[services.ProductUpsert(slug="tee", name="Tee", category_id=category.pk)],
            variants=[
                services.VariantUpsert(sku="TEE-S", product_slug="tee", price=Decimal("1.00")),
                services.VariantUpsert(sku="TEE-M", product_slug="tee", price=Decimal("1.00")),
            ],
            reason="import",
        )

    assert error.value.extra == {"conflicts": [("TEE-S", "elsewhere")]}
    assert not Product.objects.filter(slug="tee").exists()


def test_bulk_deletes_are_all_or_nothing():
    ordered, free = VariantFactory(stock=1), VariantFactory()
    services.stock_take(quantities={ordered.pk: 1}, order_number="SR-1")

    with pytest.raises(ProtectedObject):
        services.variants_delete(variant_ids=[free.pk, ordered.pk])
    with pytest.raises(ProtectedObject):
        services.products_delete(product_ids=[free.product_id, ordered.product_id])

    assert Variant.objects.filter(pk__in=[ordered.pk, free.pk]).count() == 2
    assert services.products_delete(product_ids=[free.product_id]) == 1
    assert not Variant.objects.filter(pk=free.pk).exists()
