"""Declare the trigger-kept product columns as fields that saves never write.

`in_stock` was a raw column (migration 0007); `min_price` and `search_vector`
were plain fields that a save of a stale instance could overwrite. The
database already has every column, default and trigger: only Django's state
changes here.
"""

from django.db import migrations

import catalog.db


class Migration(migrations.Migration):
    dependencies = [("catalog", "0008_product_category_order_indexes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                # The column: boolean NOT NULL DEFAULT false (migration 0007).
                migrations.AddField(
                    model_name="product",
                    name="in_stock",
                    field=catalog.db.TriggerKeptBooleanField(db_default=False, editable=False),
                ),
                migrations.AlterField(
                    model_name="product",
                    name="min_price",
                    field=catalog.db.TriggerKeptDecimalField(
                        db_default=None, decimal_places=2, editable=False, max_digits=12, null=True
                    ),
                ),
                migrations.AlterField(
                    model_name="product",
                    name="search_vector",
                    field=catalog.db.TriggerKeptSearchVectorField(
                        db_default=None, editable=False, null=True
                    ),
                ),
            ],
        )
    ]
