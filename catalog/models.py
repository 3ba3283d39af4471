from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Upper

from catalog.db import (
    TriggerKeptBooleanField,
    TriggerKeptDecimalField,
    TriggerKeptSearchVectorField,
)


class Category(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    name = models.CharField(max_length=255)
    slug = models.SlugField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    is_published = models.BooleanField(default=False)
    tax_class = models.ForeignKey(
        "pricing.TaxClass",
        to_field="code",
        on_delete=models.PROTECT,
        default="standard",
        related_name="products",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Also moved by triggers (migration 0016) on every change its page shows:
    # a variant's (stock included), added or removed, the category's slug.
    updated_at = models.DateTimeField(auto_now=True)
    # The columns below are kept by triggers (catalog.db.TriggerKept: saves never
    # write them), so every write path (services, admin, imports, raw SQL) keeps
    # them right.
    # The search document (migration 0002): the name (weight A), the variants'
    # SKUs (C) and the description (B).
    search_vector = TriggerKeptSearchVectorField(null=True, editable=False, db_default=None)
    # The lowest variant price, kept on variant writes (price changes are rare;
    # stock updates never fire it), so price filters and ordering use an index
    # instead of a subquery per product. NULL when there is no variant.
    min_price = TriggerKeptDecimalField(
        max_digits=12, decimal_places=2, null=True, editable=False, db_default=None
    )
    # Whether any variant has stock (migration 0007); it changes only when a
    # variant's stock crosses zero.
    in_stock = TriggerKeptBooleanField(editable=False, db_default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["is_published", "min_price", "id"], name="product_pub_price_idx"),
            # product_pub_price_desc_idx (raw SQL, migration 0006) serves
            # ordering=-price: DESC NULLS LAST, which this one read backwards cannot.
            models.Index(fields=["is_published", "-created_at"], name="product_pub_created_idx"),
            models.Index(fields=["is_published", "name"], name="product_pub_name_idx"),
            # The back office lists every product, published or not: newest first, or by name.
            models.Index(fields=["-created_at", "-id"], name="product_created_idx"),
            models.Index(fields=["name"], name="product_name_idx"),
            # The back office's search by a word of the name (`icontains`).
            GinIndex(
                OpClass(Upper("name"), name="gin_trgm_ops"), name="product_name_upper_trgm_idx"
            ),
            # Integrations read products by last change (cursor pages).
            models.Index(fields=["updated_at", "id"], name="product_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.name


# What a SKU may be; the API, its URLs and the import all check it.
SKU_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
SKU_MAX_LENGTH = 64


class Variant(models.Model):
    """A sellable unit. `stock` is only ever changed by catalog.services (with a ledger row)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=SKU_MAX_LENGTH, unique=True)
    name = models.CharField(max_length=255, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    price = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    stock = models.IntegerField(default=0, editable=False)
    weight_grams = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product_id", "id"]
        indexes = [
            # The lowest price per product (list price, filters, ordering) and
            # "is any variant in stock" are per-product index lookups.
            models.Index(fields=["product", "price"], name="variant_product_price_idx"),
            models.Index(
                fields=["product"], condition=models.Q(stock__gt=0), name="variant_in_stock_idx"
            ),
            # Low stock first (the dashboard, the variant list sorted by stock).
            models.Index(fields=["stock", "id"], name="variant_stock_idx"),
            # The back office's search by the start of a SKU, whatever its case.
            models.Index(
                OpClass(Upper("sku"), name="text_pattern_ops"), name="variant_sku_upper_prefix_idx"
            ),
            # Integrations read variants by last change (cursor pages).
            models.Index(fields=["updated_at", "id"], name="variant_updated_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(stock__gte=0), name="variant_stock_gte_0"),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="variant_price_gt_0"),
            models.CheckConstraint(
                condition=models.Q(weight_grams__gte=0), name="variant_weight_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.sku


class StockMovementKind(models.TextChoices):
    ADJUSTMENT = "adjustment", "Adjustment"
    ORDER_PLACED = "order_placed", "Order placed"
    ORDER_CANCELLED = "order_cancelled", "Order cancelled"
    REFUND_RESTOCK = "refund_restock", "Refund restock"
    IMPORT = "import", "Import"
    PAYMENT_REALLOCATED = "payment_reallocated", "Payment reallocated"
    RETURN_RESTOCK = "return_restock", "Return restock"
    COUNT = "count", "Count"


class StockMovement(models.Model):
    """The stock ledger: a variant's stock always equals the sum of its deltas."""

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="movements")
    kind = models.CharField(max_length=32, choices=StockMovementKind.choices)
    delta = models.IntegerField()
    reason = models.CharField(max_length=500, blank=True)
    # The order's number (not a foreign key: the catalog does not depend on orders).
    order_number = models.CharField(max_length=32, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["variant", "-created_at"], name="movement_variant_time_idx"),
            # The whole ledger in the back office, newest first, and by kind.
            models.Index(fields=["-created_at", "-id"], name="movement_created_idx"),
            models.Index(fields=["kind", "-created_at"], name="movement_kind_time_idx"),
            # The back office's search by a word of the reason (`icontains`).
            GinIndex(
                OpClass(Upper("reason"), name="gin_trgm_ops"), name="movement_reason_trgm_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(delta=0), name="movement_delta_nonzero")
        ]

    def __str__(self) -> str:
        return f"{self.variant_id} {self.delta:+d} ({self.kind})"


class SearchWord(models.Model):
    """A word of some product's name: the dictionary typo-tolerant search corrects against.

    Kept by triggers on catalog_product (migration 0016): every word of every
    name ever saved, lowercased (PostgreSQL's `simple` text search parser).
    Never deleted: a word no product has any more corrects to nothing that
    matches, and the table stays as small as the vocabulary of the names.
    """

    word = models.CharField(max_length=255, primary_key=True)

    class Meta:
        indexes = [
            # A misspelt word finds its neighbours (`word %> 'hodie'`) through trigrams.
            GinIndex(OpClass("word", name="gin_trgm_ops"), name="searchword_trgm_idx"),
        ]

    def __str__(self) -> str:
        return self.word
