"""`catalog_product.in_stock`: whether any variant has stock, kept by triggers (PostgreSQL).

The list's `in_stock` filter was a semi-join of every product in range with
the in-stock variants: counting a price range in stock took 80-400 ms at
100,000 products. With the flag the count is an index-only scan of a partial
index. Added as a raw column; the model declares it (migration
0009_product_trigger_kept_fields) as a field that saves never write.

It changes only when a variant's stock crosses zero (the WHEN clause: other
stock updates, the usual case when an order is placed, fire nothing), and
with the lowest price and the search document whenever variants are
inserted, deleted or moved to another product.
"""

from django.db import migrations


_HAS_STOCK = (
    "EXISTS (SELECT 1 FROM catalog_variant v WHERE v.product_id = p.id AND v.stock > 0)"
)

REFRESH = """
    UPDATE catalog_product p
        SET search_vector = catalog_product_search_vector(p.id, p.name, p.description),
            min_price = (SELECT min(v.price) FROM catalog_variant v WHERE v.product_id = p.id),
            in_stock = {has_stock}
        WHERE p.id IN (SELECT DISTINCT product_id FROM {table})
"""

ROW_FUNCTION = """
CREATE OR REPLACE FUNCTION catalog_variant_product_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        ids := ARRAY[NEW.product_id];
    ELSIF TG_OP = 'DELETE' THEN
        ids := ARRAY[OLD.product_id];
    ELSE
        ids := ARRAY[NEW.product_id, OLD.product_id];
    END IF;
    UPDATE catalog_product p
        SET search_vector = catalog_product_search_vector(p.id, p.name, p.description),
            min_price = (SELECT min(v.price) FROM catalog_variant v WHERE v.product_id = p.id){extra}
        WHERE p.id = ANY(ids);
    RETURN NULL;
END
$$;
"""

ROWS_FUNCTION = """
CREATE OR REPLACE FUNCTION catalog_variant_rows_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {inserted};
    ELSE
        {deleted};
    END IF;
    RETURN NULL;
END
$$;
"""

STOCK_TRIGGER_TEMPLATE = """
CREATE OR REPLACE FUNCTION catalog_variant_stock_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_product p SET in_stock = {has_stock}
        WHERE p.id = NEW.product_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER catalog_variant_stock
    AFTER UPDATE OF stock ON catalog_variant
    FOR EACH ROW WHEN ((OLD.stock > 0) IS DISTINCT FROM (NEW.stock > 0))
    EXECUTE FUNCTION catalog_variant_stock_trigger();
"""
STOCK_TRIGGER = STOCK_TRIGGER_TEMPLATE.format(has_stock=_HAS_STOCK)  # constants only

OLD_REFRESH = """
    UPDATE catalog_product p
        SET search_vector = catalog_product_search_vector(p.id, p.name, p.description),
            min_price = (SELECT min(v.price) FROM catalog_variant v WHERE v.product_id = p.id)
        WHERE p.id IN (SELECT DISTINCT product_id FROM {table})
"""

FORWARD = [
    "ALTER TABLE catalog_product ADD COLUMN in_stock boolean NOT NULL DEFAULT false",
    f"UPDATE catalog_product p SET in_stock = true WHERE {_HAS_STOCK}",  # nosec B608
    ROW_FUNCTION.format(extra=f",\n            in_stock = {_HAS_STOCK}"),
    ROWS_FUNCTION.format(
        inserted=REFRESH.format(has_stock=_HAS_STOCK, table="new_rows"),
        deleted=REFRESH.format(has_stock=_HAS_STOCK, table="old_rows"),
    ),
    STOCK_TRIGGER,
    # Counts and pages of the `in_stock` and category filters, index-only.
    "CREATE INDEX product_stock_price_idx ON catalog_product (min_price, id) "
    "WHERE is_published AND in_stock",
    "CREATE INDEX product_category_stock_idx ON catalog_product "
    "(category_id, in_stock, min_price) WHERE is_published",
]

BACKWARD = [
    "DROP INDEX IF EXISTS product_category_stock_idx",
    "DROP INDEX IF EXISTS product_stock_price_idx",
    "DROP TRIGGER IF EXISTS catalog_variant_stock ON catalog_variant",
    "DROP FUNCTION IF EXISTS catalog_variant_stock_trigger()",
    ROWS_FUNCTION.format(
        inserted=OLD_REFRESH.format(table="new_rows"),
        deleted=OLD_REFRESH.format(table="old_rows"),
    ),
    ROW_FUNCTION.format(extra=""),
    "ALTER TABLE catalog_product DROP COLUMN IF EXISTS in_stock",
]


class Migration(migrations.Migration):
    dependencies = [("catalog", "0006_product_price_desc_index")]

    operations = [migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD)]
