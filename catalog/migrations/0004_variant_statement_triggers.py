"""Variant inserts and deletes refresh their products once per statement, not per row.

A bulk import of N variants ran N product updates through the row trigger;
with transition tables it is one UPDATE over the distinct products touched.
Updates of sku, product_id or price stay row-level (they are rare, and
PostgreSQL does not allow transition tables on triggers with column lists,
which is what keeps stock updates from firing anything).
"""

from django.db import migrations


REFRESH = """
    UPDATE catalog_product p
        SET search_vector = catalog_product_search_vector(p.id, p.name, p.description),
            min_price = (SELECT min(v.price) FROM catalog_variant v WHERE v.product_id = p.id)
        WHERE p.id IN (SELECT DISTINCT product_id FROM {table})
"""

FORWARD = f"""
CREATE OR REPLACE FUNCTION catalog_variant_rows_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {REFRESH.format(table="new_rows")};
    ELSE
        {REFRESH.format(table="old_rows")};
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS catalog_variant_product ON catalog_variant;
CREATE TRIGGER catalog_variant_product
    AFTER UPDATE OF sku, product_id, price ON catalog_variant
    FOR EACH ROW EXECUTE FUNCTION catalog_variant_product_trigger();
CREATE TRIGGER catalog_variant_inserted
    AFTER INSERT ON catalog_variant REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_variant_rows_trigger();
CREATE TRIGGER catalog_variant_deleted
    AFTER DELETE ON catalog_variant REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_variant_rows_trigger();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS catalog_variant_inserted ON catalog_variant;
DROP TRIGGER IF EXISTS catalog_variant_deleted ON catalog_variant;
DROP FUNCTION IF EXISTS catalog_variant_rows_trigger();
DROP TRIGGER IF EXISTS catalog_variant_product ON catalog_variant;
CREATE TRIGGER catalog_variant_product
    AFTER INSERT OR DELETE OR UPDATE OF sku, product_id, price ON catalog_variant
    FOR EACH ROW EXECUTE FUNCTION catalog_variant_product_trigger();
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_product_min_price")]

    operations = [migrations.RunSQL(sql=[FORWARD], reverse_sql=[BACKWARD])]
