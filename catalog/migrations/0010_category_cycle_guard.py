from django.db import migrations


# Whatever writes catalog_category (services, admin, raw SQL), a parent change that
# would make a category its own ancestor is refused. The trigger takes the tree lock
# (catalog.db.CATEGORY_TREE_LOCK_SQL) before it walks up from the new parent, so of
# two concurrent moves that close a loop together, the second waits for the first
# to commit and then sees it. It fires after the row is written, so the row is
# locked before the tree: the order category_update takes its locks in. A new row
# has no descendants: only a parent that is itself can loop.

FORWARD = """
CREATE FUNCTION catalog_category_no_cycle() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('catalog_category_tree'), 0);
    IF EXISTS (
        WITH RECURSIVE ancestors(id) AS (
            SELECT NEW.parent_id
            UNION
            SELECT c.parent_id FROM catalog_category c
            JOIN ancestors a ON c.id = a.id
            WHERE c.parent_id IS NOT NULL
        )
        SELECT 1 FROM ancestors WHERE id = NEW.id
    ) THEN
        RAISE EXCEPTION 'category % cannot be moved under its own descendant %',
            NEW.id, NEW.parent_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'catalog_category_no_cycle';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER catalog_category_no_cycle
AFTER UPDATE OF parent_id ON catalog_category
FOR EACH ROW
WHEN (NEW.parent_id IS NOT NULL AND NEW.parent_id IS DISTINCT FROM OLD.parent_id)
EXECUTE FUNCTION catalog_category_no_cycle();

CREATE CONSTRAINT TRIGGER catalog_category_no_self_parent
AFTER INSERT ON catalog_category
FOR EACH ROW
WHEN (NEW.parent_id = NEW.id)
EXECUTE FUNCTION catalog_category_no_cycle();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS catalog_category_no_self_parent ON catalog_category;
DROP TRIGGER IF EXISTS catalog_category_no_cycle ON catalog_category;
DROP FUNCTION IF EXISTS catalog_category_no_cycle();
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0009_product_trigger_kept_fields")]

    operations = [migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD)]
