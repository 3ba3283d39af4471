"""Every write to the catalog. Stock changes only here, always with a ledger row.

Each service invalidates the public catalog cache once its transaction
commits (catalog.cache.invalidate_on_commit), so no committed change is ever
hidden by a cached response; a stock change that crosses zero for no variant
invalidates only its products' pages (invalidate_products_on_commit).
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Model, ProtectedError, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from catalog import cache as catalog_cache
from catalog.db import CATEGORY_TREE_LOCK_SQL, category_subtree_ids
from catalog.exceptions import InsufficientStock, VariantOfAnotherProduct
from catalog.models import Category, Product, StockMovement, StockMovementKind, Variant
from core.errors import FieldInvalid, ProtectedObject
from webhooks.services import events_record

SLUG_ATTEMPTS = 5
# A stock change touching more products than this (an import) invalidates the
# whole catalog cache at once rather than product by product.
PRODUCT_INVALIDATIONS_MAX = 50


def _stock_apply(
    *,
    deltas: Mapping[int, int],
    kind: str,
    reason: str = "",
    order_number: str = "",
    user: Any = None,
    locked: Iterable[Variant] | None = None,
    kinds: Mapping[int, str] | None = None,
) -> list[StockMovement]:
    """Apply signed deltas to variants, all or nothing, and write the ledger.

    Locks the variant rows in primary-key order (so concurrent callers cannot
    deadlock), raises InsufficientStock listing every short variant when a
    delta would take stock below zero, then updates all rows in one
    statement. The CHECK constraint `stock >= 0` is the last line of defence.
    `locked`: rows the caller already read with variants_lock() in this
    transaction (so their stock is current), instead of reading them again.
    `kinds`: the movement's kind per variant id where it is not `kind`.
    """
    deltas = {pk: delta for pk, delta in deltas.items() if delta}
    kind_of = {pk: (kinds or {}).get(pk, kind) for pk in deltas}
    if not deltas:
        return []
    ids = sorted(deltas)
    if locked is None:
        variants = list(
            Variant.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .select_related("product")
            .order_by("pk")
            .only("pk", "sku", "stock", "product__slug")
        )
    else:
        variants = sorted((v for v in locked if v.pk in deltas), key=lambda v: v.pk)
    if len(variants) != len(ids):
        missing = set(ids) - {v.pk for v in variants}
        raise Variant.DoesNotExist(f"Unknown variant ids: {sorted(missing)}")

    shortages = [
        {"sku": v.sku, "requested": -deltas[v.pk], "available": v.stock}
        for v in variants
        if v.stock + deltas[v.pk] < 0
    ]
    if shortages:
        raise InsufficientStock(shortages=shortages)

    flips = _products_lock_for_stock(variants=variants, deltas=deltas)
    # One statement for all rows, its parameters two arrays: the same cost to
    # build and plan for 1 row or 1,000 (a CASE per row grows with the square).
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Variant._meta.db_table} AS v"  # noqa: S608  # nosec B608 - the model's table
            " SET stock = v.stock + d.delta, updated_at = %s"
            " FROM unnest(%s::bigint[], %s::integer[]) AS d(id, delta) WHERE v.id = d.id",
            [timezone.now(), ids, [deltas[pk] for pk in ids]],
        )
    movements = StockMovement.objects.bulk_create(
        [
            StockMovement(
                variant_id=v.pk,
                kind=kind_of[v.pk],
                delta=deltas[v.pk],
                reason=reason,
                order_number=order_number,
                created_by=user if user is not None and user.is_authenticated else None,
            )
            for v in variants
        ]
    )
    for variant, movement in zip(variants, movements, strict=True):
        variant.stock += deltas[variant.pk]
        movement.variant = variant
    # Orders change stock through here too. A list shows only whether a
    # product is in stock: unless some stock crosses zero, only the products'
    # own pages (which show stock) change, and cached lists stay valid.
    slugs = {v.product.slug for v in variants}
    if flips or len(slugs) > PRODUCT_INVALIDATIONS_MAX:
        catalog_cache.invalidate_on_commit()
    else:
        catalog_cache.invalidate_products_on_commit(slugs=slugs)
    events_record(
        events=[
            (
                "stock.changed",
                {
                    "sku": m.variant.sku,
                    "stock": m.variant.stock,
                    "delta": m.delta,
                    "kind": m.kind,
                    "order": order_number or None,
                },
            )
            for m in movements
        ]
    )
    return movements


def _products_lock_for_stock(*, variants: list[Variant], deltas: Mapping[int, int]) -> set[int]:
    """Lock the products of these variants in primary-key order; return the ids of those
    whose `in_stock` flag this change flips.

    Triggers write a product's row when one of its variants' stock changes:
    its `updated_at` always (migration 0016: the product's page shows the
    stock), its `in_stock` flag when the stock crosses zero (migration 0007).
    Left to the triggers, those rows would be locked in the order the UPDATE
    meets the variants, so two transactions changing the stock of variants
    of the same two products could deadlock. Taken here first, after the
    variants and in a fixed order, they cannot.
    """
    _products_lock(ids={v.product_id for v in variants})
    return {v.product_id for v in variants if (v.stock > 0) != (v.stock + deltas[v.pk] > 0)}


def _products_lock(*, ids: Iterable[int]) -> None:
    """Lock these product rows in primary-key order, before a trigger writes them.

    Every writer that may change a product's trigger-kept columns (`in_stock`,
    and `updated_at` on stock changes) takes its variant rows first, then the
    products through here: one order for all, so no deadlock; and its next
    statement, whose trigger recomputes the flag,
    then sees every change committed before it (no two writers both keeping a
    flag that neither change alone would keep).
    """
    wanted = sorted(set(ids))
    if wanted:
        locked = Product.objects.select_for_update().filter(pk__in=wanted).order_by("pk")
        list(locked.values_list("pk", flat=True))


@transaction.atomic
def stock_adjust(*, variant: Variant, delta: int, reason: str, user: Any = None) -> StockMovement:
    """Add (or remove, with a negative delta) stock by hand; returns the ledger row.

    Raises InsufficientStock when the result would be below zero.
    """
    if delta == 0:
        raise ValueError("A stock adjustment needs a non-zero delta.")
    (movement,) = _stock_apply(
        deltas={variant.pk: delta}, kind=StockMovementKind.ADJUSTMENT, reason=reason, user=user
    )
    variant.stock = movement.variant.stock
    return movement


def variants_lock(*, skus: Iterable[str]) -> list[Variant]:
    """Published variants with these SKUs, locked for the caller's transaction.

    Call it inside a transaction. Rows are locked in primary-key order, as
    _stock_apply locks them, so that concurrent callers cannot deadlock. Give
    the result to stock_take(locked=) to take stock without reading them again.
    Loaded: what a sale copies (sku, name, price, stock, the product's name);
    other fields are deferred (the product's search vector is large).
    """
    return list(
        Variant.objects.select_for_update(of=("self",))
        .filter(sku__in=list(skus), product__is_published=True)
        .select_related("product")
        .only(
            "pk",
            "sku",
            "name",
            "price",
            "stock",
            "weight_grams",
            "product__name",
            "product__slug",
            "product__tax_class",
            "product__category",
        )
        .order_by("pk")
    )


def stock_take(
    *,
    quantities: Mapping[int, int],
    order_number: str = "",
    kind: str = StockMovementKind.ORDER_PLACED,
    reason: str = "",
    user: Any = None,
    locked: Iterable[Variant] | None = None,
) -> list[StockMovement]:
    """Take `quantities` ({variant_id: positive quantity}) all together, or nothing.

    Raises InsufficientStock with `shortages` for every short variant (and
    takes nothing); Variant.DoesNotExist for an unknown id. Returns the ledger
    rows, each with `.variant` holding the new stock. `locked`: the variants,
    as variants_lock() returned them in this same transaction (one query less).

    Runs in the caller's transaction when there is one, without a savepoint
    (it would cost two queries on every order): both refusals are found
    before anything is written, so the caller's transaction stays usable
    after them (the rows read stay locked until it ends); any other error
    marks it for rollback.
    """
    if any(q <= 0 for q in quantities.values()):
        raise ValueError("Quantities to take must be positive.")
    with transaction.atomic(savepoint=False):
        try:
            return _stock_apply(
                deltas={pk: -q for pk, q in quantities.items()},
                kind=kind,
                reason=reason,
                order_number=order_number,
                user=user,
                locked=locked,
            )
        except (InsufficientStock, Variant.DoesNotExist) as exc:
            # Raised outside the block: leaving it with an exception would mark
            # the caller's whole transaction for rollback.
            refusal = exc
    raise refusal


def stock_return(
    *,
    quantities: Mapping[int, int],
    kind: str,
    order_number: str = "",
    reason: str = "",
    user: Any = None,
) -> list[StockMovement]:
    """Put `quantities` ({variant_id: positive quantity}) back, with ledger rows of `kind`.

    Runs in the caller's transaction when there is one, without a savepoint:
    an error marks that transaction for rollback.
    """
    if any(q <= 0 for q in quantities.values()):
        raise ValueError("Quantities to return must be positive.")
    with transaction.atomic(savepoint=False):
        return _stock_apply(
            deltas=dict(quantities), kind=kind, reason=reason, order_number=order_number, user=user
        )


# --- Slugs -------------------------------------------------------------------


def _slug_candidates(*, model: type[Model], name: str) -> Iterable[str]:
    """Free slugs for `name`: `base`, then `base-2`, `base-3`, ... (one query)."""
    max_length = getattr(model._meta.get_field("slug"), "max_length", None) or 50
    base = slugify(name)[: max_length - 8].strip("-") or model._meta.model_name or "item"
    taken = set(model._default_manager.filter(slug__startswith=base).values_list("slug", flat=True))
    suffix = 1
    while True:
        candidate = base if suffix == 1 else f"{base}-{suffix}"
        if candidate not in taken:
            yield candidate
        suffix += 1


def _save_with_slug(
    *, obj: Category | Product, explicit_slug: bool, update_fields: list[str] | None = None
) -> None:
    """Save `obj`, keeping its slug unique.

    An explicit slug that is taken is the caller's error (400 on `slug`); a
    generated one is retried with the next free suffix, so two concurrent
    creations with the same name both succeed. Each try runs in a savepoint.
    """
    candidates = (
        iter([obj.slug]) if explicit_slug else _slug_candidates(model=type(obj), name=obj.name)
    )
    for attempt, slug in enumerate(candidates, start=1):
        obj.slug = slug
        try:
            with transaction.atomic():
                obj.save(update_fields=update_fields)
        except IntegrityError:
            if explicit_slug or attempt >= SLUG_ATTEMPTS:
                raise FieldInvalid(field="slug", message="This slug is already in use.") from None
            continue
        return
    raise FieldInvalid(field="slug", message="This slug is already in use.")


def _delete_all(queryset: QuerySet[Any]) -> int:
    """Delete the rows (and what cascades) in a savepoint; returns how many of them went."""
    try:
        with transaction.atomic():
            _, per_model = queryset.delete()
    except ProtectedError:
        raise ProtectedObject() from None
    return per_model.get(queryset.model._meta.label, 0)


# --- Categories --------------------------------------------------------------


def category_parent_check(*, category: Category, parent: Category | None) -> None:
    """FieldInvalid (400 on `parent`) if `parent` is `category` or one of its descendants.

    Without the tree lock this only reads the tree as it is now: a move that must not
    close a loop goes through `category_update`, which checks again under the lock.
    """
    if parent is None or category.pk is None:
        return
    if (
        parent.pk == category.pk
        or Category.objects.filter(
            pk=parent.pk, pk__in=category_subtree_ids(pk=category.pk)
        ).exists()
    ):
        raise FieldInvalid(
            field="parent", message="A category cannot be moved under itself or its descendants."
        )


def _category_tree_lock(*, category: Category) -> None:
    """Lock the category's row, then the whole tree, for the rest of the transaction.

    Two moves that are each fine alone (A under B, B under A) close a loop together, so
    moves run one at a time, and the check that follows sees every move committed before.
    The order (row, then tree) is the one an UPDATE takes through the tree's trigger.
    """
    # NO KEY UPDATE: the foreign-key check of another move under this category takes
    # KEY SHARE on it, which a plain FOR UPDATE would block (a deadlock with the tree lock).
    rows = Category.objects.select_for_update(no_key=True).filter(pk=category.pk)
    list(rows.values_list("pk"))
    with connection.cursor() as cursor:
        cursor.execute(CATEGORY_TREE_LOCK_SQL)


@transaction.atomic
def category_create(
    *,
    name: str,
    slug: str | None = None,
    parent: Category | None = None,
    description: str = "",
    position: int = 0,
) -> Category:
    """Create a category; the slug is made from the name when not given (kept unique)."""
    category = Category(
        name=name, slug=slug or "", parent=parent, description=description, position=position
    )
    _save_with_slug(obj=category, explicit_slug=bool(slug))
    catalog_cache.invalidate_on_commit()
    return category


CATEGORY_FIELDS = frozenset({"name", "slug", "parent", "description", "position"})


@transaction.atomic
def category_update(*, category: Category, data: Mapping[str, Any]) -> Category:
    """Change the given fields of a category. Refuses a parent inside its own subtree.

    A change of parent locks the category's row and the tree (see `_category_tree_lock`)
    until the caller's transaction ends.
    """
    unknown = set(data) - CATEGORY_FIELDS
    if unknown:
        raise TypeError(f"Unknown category fields: {sorted(unknown)}")
    if "parent" in data:
        _category_tree_lock(category=category)
        category_parent_check(category=category, parent=data["parent"])
    for field, value in data.items():
        setattr(category, field, value)
    fields = list(data)
    if data.get("slug"):
        _save_with_slug(obj=category, explicit_slug=True, update_fields=fields)
    elif fields:
        category.save(update_fields=fields)
    catalog_cache.invalidate_on_commit()
    return category


def category_delete(*, category: Category) -> None:
    """Delete a category; ProtectedObject (409 `protected`) if it has products or children."""
    categories_delete(category_ids=[category.pk])


@transaction.atomic
def categories_delete(*, category_ids: Iterable[int]) -> int:
    """Delete these categories, all or nothing; returns how many were deleted.

    ProtectedObject (409 `protected`) if any has products or children that are not deleted too.
    """
    deleted = _delete_all(Category.objects.filter(pk__in=sorted(set(category_ids))))
    catalog_cache.invalidate_on_commit()
    return deleted


# --- Products ----------------------------------------------------------------


@transaction.atomic
def product_create(
    *,
    name: str,
    category: Category,
    slug: str | None = None,
    description: str = "",
    is_published: bool = False,
    tax_class: Any = None,
) -> Product:
    """Create a product; the slug is made from the name when not given (kept unique).

    `tax_class`: a pricing.TaxClass (None: `standard`).
    """
    product = Product(
        name=name,
        slug=slug or "",
        category=category,
        description=description,
        is_published=is_published,
    )
    if tax_class is not None:
        product.tax_class = tax_class
    _save_with_slug(obj=product, explicit_slug=bool(slug))
    catalog_cache.invalidate_on_commit()
    return product


PRODUCT_FIELDS = frozenset({"name", "slug", "description", "category", "is_published", "tax_class"})


@transaction.atomic
def product_update(*, product: Product, data: Mapping[str, Any]) -> Product:
    """Change the given fields of a product (its slug stays unless given)."""
    unknown = set(data) - PRODUCT_FIELDS
    if unknown:
        raise TypeError(f"Unknown product fields: {sorted(unknown)}")
    for field, value in data.items():
        setattr(product, field, value)
    fields = [*data, "updated_at"]
    if data.get("slug"):
        _save_with_slug(obj=product, explicit_slug=True, update_fields=fields)
    else:
        product.save(update_fields=fields)
    catalog_cache.invalidate_on_commit()
    return product


@transaction.atomic
def products_publish(*, product_ids: Iterable[int], is_published: bool) -> int:
    """Publish or unpublish many products in one statement; returns how many changed."""
    changed = (
        Product.objects.filter(pk__in=list(product_ids))
        .exclude(is_published=is_published)
        .update(is_published=is_published, updated_at=timezone.now())
    )
    catalog_cache.invalidate_on_commit()
    return changed


def _has_order_movements(variants: Any) -> bool:
    # The ledger names the orders a variant was sold in; catalog does not import orders.
    return StockMovement.objects.filter(variant__in=variants).exclude(order_number="").exists()


def product_delete(*, product: Product) -> None:
    """Delete a product and its variants.

    ProtectedObject (409 `protected`) when any variant was ever ordered
    (order lines protect variants; the ledger names orders): unpublish instead.
    """
    products_delete(product_ids=[product.pk])


def products_with_variants_lock(*, product_ids: Iterable[int]) -> list[int]:
    """Lock these products' variants, then the products, in primary-key order; returns the
    variants' ids.

    Call it inside a transaction that writes a product and then its variants
    (the variant triggers write the product again): taken first, in the order
    stock changes take them, the locks cannot deadlock with those changes.
    """
    ids = sorted(set(product_ids))
    variant_ids = list(
        Variant.objects.select_for_update(of=("self",))
        .filter(product_id__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    _products_lock(ids=ids)
    return variant_ids


@transaction.atomic
def products_delete(*, product_ids: Iterable[int]) -> int:
    """Delete these products with their variants, all or nothing; returns how many were deleted.

    ProtectedObject (409 `protected`) when any of their variants was ever
    ordered. Locks the variants, then the products, in primary-key order, as
    stock changes do, so that neither waits for the other in a cycle.
    """
    ids = sorted(set(product_ids))
    variant_ids = products_with_variants_lock(product_ids=ids)
    if _has_order_movements(variant_ids):
        raise ProtectedObject()
    deleted = _delete_all(Product.objects.filter(pk__in=ids))
    catalog_cache.invalidate_on_commit()
    return deleted


# --- Variants ----------------------------------------------------------------


def _save_variant(variant: Variant, *, update_fields: list[str] | None = None) -> Variant:
    try:
        with transaction.atomic():
            variant.save(update_fields=update_fields)
    except IntegrityError:
        raise FieldInvalid(field="sku", message="This SKU is already in use.") from None
    return variant


@transaction.atomic
def variant_create(
    *,
    product: Product,
    sku: str,
    price: Decimal,
    name: str = "",
    attributes: Mapping[str, Any] | None = None,
    weight_grams: int = 0,
) -> Variant:
    """Create a variant with no stock: stock only ever comes through stock services."""
    variant = Variant(
        product=product,
        sku=sku,
        name=name,
        attributes=dict(attributes or {}),
        price=price,
        weight_grams=weight_grams,
    )
    _save_variant(variant)
    catalog_cache.invalidate_on_commit()
    return variant


VARIANT_FIELDS = frozenset({"product", "sku", "name", "attributes", "price", "weight_grams"})


@transaction.atomic
def variant_update(*, variant: Variant, data: Mapping[str, Any]) -> Variant:
    """Change the given fields of a variant; `stock` is not one of them."""
    unknown = set(data) - VARIANT_FIELDS
    if unknown:
        raise TypeError(f"Unknown variant fields: {sorted(unknown)}")
    if "product" in data:  # the old and the new product's in_stock may change
        current = Variant.objects.select_for_update(of=("self",)).filter(pk=variant.pk)
        _products_lock(ids=[*current.values_list("product_id", flat=True), data["product"].pk])
    for field, value in data.items():
        setattr(variant, field, value)
    _save_variant(variant, update_fields=[*data, "updated_at"])
    catalog_cache.invalidate_on_commit()
    return variant


def variant_delete(*, variant: Variant) -> None:
    """Delete a variant and its ledger; ProtectedObject if it was ever ordered."""
    variants_delete(variant_ids=[variant.pk])


@transaction.atomic
def variants_delete(*, variant_ids: Iterable[int]) -> int:
    """Delete these variants with their ledgers, all or nothing; returns how many were deleted.

    ProtectedObject (409 `protected`) if any was ever ordered. Locks the
    variants, then their products (whose trigger-kept columns the delete
    refreshes), in primary-key order, as stock changes do.
    """
    locked = list(
        Variant.objects.select_for_update(of=("self",))
        .filter(pk__in=sorted(set(variant_ids)))
        .order_by("pk")
        .values_list("pk", "product_id")
    )
    ids = [pk for pk, _ in locked]
    if _has_order_movements(ids):
        raise ProtectedObject()
    _products_lock(ids={product_id for _, product_id in locked})
    deleted = _delete_all(Variant.objects.filter(pk__in=ids))
    catalog_cache.invalidate_on_commit()
    return deleted


# --- Imports (catalog import command) -------------------------------------------


@transaction.atomic
def stock_import(
    *, deltas: Mapping[int, int], reason: str, user: Any = None
) -> list[StockMovement]:
    """Apply the stock changes of a catalog import ({variant_id: signed delta}), all or nothing.

    Ledger rows of kind `import`; InsufficientStock if any would go below zero.
    """
    return _stock_apply(deltas=deltas, kind=StockMovementKind.IMPORT, reason=reason, user=user)


# --- Bulk upsert (catalog import command) --------------------------------------

UPSERT_CHUNK = 1000


@dataclass(frozen=True, kw_only=True)
class ProductUpsert:
    """A product to create or update, by slug. None keeps the current value (or the default)."""

    slug: str
    name: str
    category_id: int
    description: str | None = None
    is_published: bool | None = None


@dataclass(frozen=True, kw_only=True)
class VariantUpsert:
    """A variant to create or update, by SKU. None keeps the current value (or the default).

    `stock` is the stock to reach: the difference goes through the ledger.
    """

    sku: str
    product_slug: str
    price: Decimal
    name: str | None = None
    attributes: Mapping[str, Any] | None = None
    stock: int | None = None


@dataclass
class UpsertSummary:
    """Counts per variant (a variant whose product changed counts as updated), and per product."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    products_created: int = 0
    products_updated: int = 0


def _chunks[T](items: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), UPSERT_CHUNK):
        yield items[start : start + UPSERT_CHUNK]


def _lock_by_key[M: Model](queryset: QuerySet[M], *, field: str, keys: Sequence[str]) -> list[M]:
    """The rows whose `field` is in `keys`, locked in primary-key order across all chunks."""
    ids: list[int] = []
    for names in _chunks(sorted(set(keys))):
        ids.extend(queryset.filter(**{f"{field}__in": names}).values_list("pk", flat=True))
    rows: list[M] = []
    for pks in _chunks(sorted(ids)):
        rows.extend(queryset.select_for_update(of=("self",)).filter(pk__in=pks).order_by("pk"))
    return rows


def _assign(obj: Model, values: Mapping[str, Any]) -> bool:
    """Set the values that differ; True when any did."""
    changed = {key: value for key, value in values.items() if getattr(obj, key) != value}
    for key, value in changed.items():
        setattr(obj, key, value)
    return bool(changed)


@transaction.atomic
def catalog_upsert(
    *,
    products: Sequence[ProductUpsert],
    variants: Sequence[VariantUpsert],
    reason: str,
    user: Any = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> UpsertSummary:
    """Create or update products (by slug) and variants (by SKU), all or nothing, in bulk.

    Every product a variant names must be given or exist. Existing variants,
    then products, are locked in primary-key order (as stock changes lock
    them), then compared with their current values: only what differs is
    written, a few statements per thousand rows. Stock is brought to each
    given level through the ledger (kind `import`, with `reason`).
    VariantOfAnotherProduct if an existing SKU belongs to another product;
    FieldInvalid when a SKU or slug was taken meanwhile. `dry_run`:
    counts what would change and writes nothing. `progress(n)` is called as
    variant rows are written.
    """
    existing_variants = {
        v.sku: v
        for v in _lock_by_key(
            Variant.objects.select_related("product").only(
                "pk", "sku", "name", "attributes", "price", "stock", "product__slug"
            ),
            field="sku",
            keys=[row.sku for row in variants],
        )
    }
    conflicts = [
        (row.sku, current.product.slug)
        for row in variants
        if (current := existing_variants.get(row.sku)) is not None
        and current.product.slug != row.product_slug
    ]
    if conflicts:
        raise VariantOfAnotherProduct(conflicts=conflicts)
    existing_products = {
        p.slug: p
        for p in _lock_by_key(
            Product.objects.defer("search_vector", "min_price"),
            field="slug",
            keys=[row.slug for row in products] + [row.product_slug for row in variants],
        )
    }

    summary = UpsertSummary()
    now = timezone.now()
    new_products: dict[str, Product] = {}
    changed_products: dict[str, Product] = {}
    for product_row in products:
        values = {
            "name": product_row.name,
            "category_id": product_row.category_id,
            "description": product_row.description,
            "is_published": product_row.is_published,
        }
        values = {k: v for k, v in values.items() if v is not None}
        product = existing_products.get(product_row.slug)
        if product is None:
            new_products.setdefault(product_row.slug, Product(slug=product_row.slug, **values))
        elif _assign(product, values):
            product.updated_at = now
            changed_products[product_row.slug] = product
    summary.products_created, summary.products_updated = len(new_products), len(changed_products)

    new_variants: list[Variant] = []
    changed_variants: list[Variant] = []
    targets: dict[str, int] = {}
    for row in variants:
        values = {"price": row.price, "name": row.name, "attributes": row.attributes}
        values = {k: v for k, v in values.items() if v is not None}
        if row.stock is not None:
            targets[row.sku] = row.stock
        variant = existing_variants.get(row.sku)
        if variant is None:
            product = existing_products.get(row.product_slug) or new_products.get(row.product_slug)
            if product is None:
                raise ValueError(f"Variant {row.sku!r} names an unknown product.")
            new_variants.append(Variant(sku=row.sku, product=product, **values))
            summary.created += 1
            continue
        fields_changed = _assign(variant, values)
        if fields_changed:
            variant.updated_at = now
            changed_variants.append(variant)
        stock_changed = targets.get(row.sku, variant.stock) != variant.stock
        if fields_changed or stock_changed or row.product_slug in changed_products:
            summary.updated += 1
        else:
            summary.unchanged += 1
    if dry_run:
        return summary

    try:
        with transaction.atomic():
            Product.objects.bulk_create(new_products.values(), batch_size=UPSERT_CHUNK)
            for chunk in _chunks(new_variants):
                Variant.objects.bulk_create(chunk)
                if progress is not None:
                    progress(len(chunk))
    except IntegrityError:
        raise FieldInvalid(
            field="sku", message="A SKU or slug was taken while importing."
        ) from None
    Product.objects.bulk_update(
        changed_products.values(),
        ["name", "category_id", "description", "is_published", "updated_at"],
        batch_size=UPSERT_CHUNK,
    )
    for chunk in _chunks(changed_variants):
        Variant.objects.bulk_update(chunk, ["price", "name", "attributes", "updated_at"])
        if progress is not None:
            progress(len(chunk))

    locked = [*existing_variants.values(), *new_variants]
    deltas = sorted(
        (v.pk, targets[v.sku] - v.stock) for v in locked if targets.get(v.sku, v.stock) != v.stock
    )
    for batch in _chunks(deltas):
        _stock_apply(
            deltas=dict(batch),
            kind=StockMovementKind.IMPORT,
            reason=reason,
            user=user,
            locked=locked,
        )
    catalog_cache.invalidate_on_commit()
    return summary
