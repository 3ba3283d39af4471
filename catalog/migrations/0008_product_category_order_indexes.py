from django.db import migrations


# A category's published products in each list ordering, read in order: the
# page of `?category=<leaf>&ordering=...` stops after its rows instead of
# walking the whole catalog's ordering index and filtering out the other
# categories (12 ms -> 0.5 ms at 100,000 products). catalog.listing.sql binds
# a one-category subtree as `category_id = %s`, which these serve (an ANY()
# of several ids cannot give the order). Raw SQL, like 0006.

INDEXES = {
    "product_cat_created_idx": '("category_id", "created_at", "id")',
    "product_cat_name_idx": '("category_id", "name", "id")',
    "product_cat_price_idx": '("category_id", "min_price", "id")',
    "product_cat_price_desc_idx": '("category_id", "min_price" DESC NULLS LAST, "id" DESC)',
}


class Migration(migrations.Migration):
    dependencies = [("catalog", "0007_product_in_stock")]

    operations = [
        migrations.RunSQL(
            sql=[
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "catalog_product" {columns} '
                'WHERE "is_published"'
                for name, columns in INDEXES.items()
            ],
            reverse_sql=[f'DROP INDEX IF EXISTS "{name}"' for name in INDEXES],
        )
    ]
