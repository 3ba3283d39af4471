"""A product's `updated_at` moves with every change its answers show.

The product's page shows its variants (SKU, name, attributes, price, stock)
and its category's slug; its list item the lowest price and whether it is in
stock. Readers that copy products by last change (cursor pages, ordered by
`(updated_at, id)`) must find a product again after any of these changes, so
triggers move `updated_at` whichever path wrote them (services, admin,
imports, raw SQL):

* one statement-level trigger per variant INSERT, UPDATE and DELETE (with
  transition tables: one UPDATE of the products a statement touched, however
  many variants it wrote); an UPDATE that changes nothing a page shows
  (`weight_grams` only) moves nothing;
* a row trigger on a category's slug.

The time is the statement's (`statement_timestamp()`): never before the
transaction started, which is what cursor pages rely on (core.cursor). The
products are locked in primary-key order; stock services lock them so first
(catalog.services._products_lock_for_stock). An index on `(updated_at, id)`
serves the pages.
"""

from django.db import migrations, models

_TOUCH = (
    "UPDATE catalog_product SET updated_at = statement_timestamp()"
    " WHERE id IN (SELECT id FROM catalog_product WHERE id IN ({ids}) ORDER BY id FOR UPDATE)"
)
_SHOWN = "n.sku, n.name, n.attributes, n.price, n.stock, n.product_id"

FORWARD = [
    f"""
CREATE FUNCTION catalog_variant_touch_products() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_TOUCH.format(ids="SELECT product_id FROM new_rows")};
    ELSIF TG_OP = 'DELETE' THEN
        {_TOUCH.format(ids="SELECT product_id FROM old_rows")};
    ELSE
        {
        _TOUCH.format(
            ids="SELECT unnest(ARRAY[n.product_id, o.product_id])"
            " FROM new_rows n JOIN old_rows o ON o.id = n.id"
            f" WHERE ({_SHOWN}) IS DISTINCT FROM ({_SHOWN.replace('n.', 'o.')})"
        )
    };
    END IF;
    RETURN NULL;
END
$$;
""",
    "CREATE TRIGGER catalog_variant_touch_inserted AFTER INSERT ON catalog_variant"
    " REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION catalog_variant_touch_products()",
    "CREATE TRIGGER catalog_variant_touch_updated AFTER UPDATE ON catalog_variant"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION catalog_variant_touch_products()",
    "CREATE TRIGGER catalog_variant_touch_deleted AFTER DELETE ON catalog_variant"
    " REFERENCING OLD TABLE AS old_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION catalog_variant_touch_products()",
    f"""
CREATE FUNCTION catalog_category_touch_products() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    {_TOUCH.format(ids="SELECT id FROM catalog_product WHERE category_id = NEW.id")};
    RETURN NULL;
END
$$;
""",
    "CREATE TRIGGER catalog_category_touch_products AFTER UPDATE OF slug ON catalog_category"
    " FOR EACH ROW WHEN (OLD.slug IS DISTINCT FROM NEW.slug)"
    " EXECUTE FUNCTION catalog_category_touch_products()",
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS catalog_category_touch_products ON catalog_category",
    "DROP FUNCTION IF EXISTS catalog_category_touch_products()",
    "DROP TRIGGER IF EXISTS catalog_variant_touch_inserted ON catalog_variant",
    "DROP TRIGGER IF EXISTS catalog_variant_touch_updated ON catalog_variant",
    "DROP TRIGGER IF EXISTS catalog_variant_touch_deleted ON catalog_variant",
    "DROP FUNCTION IF EXISTS catalog_variant_touch_products()",
]


class Migration(migrations.Migration):
    dependencies = [("catalog", "0015_variant_updated_index")]

    operations = [
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["updated_at", "id"], name="product_updated_idx"),
        ),
        migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD),
    ]
