"""The back office finds orders by the start of a SKU (a btree for LIKE prefixes).

Built CONCURRENTLY (outside a transaction): the tables stay writable while
the index is built.
"""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("orders", "0002_order_refund_due_idx"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="orderline",
            index=models.Index(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("sku"), name="text_pattern_ops"
                ),
                name="orderline_sku_upper_prefix_idx",
            ),
        ),
    ]
