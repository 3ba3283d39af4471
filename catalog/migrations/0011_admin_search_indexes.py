"""Indexes behind the back office's searches of products, variants and the ledger.

Built CONCURRENTLY (outside a transaction): the tables stay writable while
the index is built.
"""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("catalog", "0010_category_cycle_guard"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="product",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("name"), name="gin_trgm_ops"
                ),
                name="product_name_upper_trgm_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="stockmovement",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("reason"), name="gin_trgm_ops"
                ),
                name="movement_reason_trgm_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="variant",
            index=models.Index(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("sku"), name="text_pattern_ops"
                ),
                name="variant_sku_upper_prefix_idx",
            ),
        ),
    ]
