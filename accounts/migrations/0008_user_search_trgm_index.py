"""The back office's user search reads a trigram index (pg_trgm, installed by
catalog's 0002_product_search).

Built CONCURRENTLY (outside a transaction): the tables stay writable while
the index is built.
"""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0007_user_email_upper_unique"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("catalog", "0002_product_search"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="user",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("email"), name="gin_trgm_ops"
                ),
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("first_name"), name="gin_trgm_ops"
                ),
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("last_name"), name="gin_trgm_ops"
                ),
                name="user_search_trgm_idx",
            ),
        ),
    ]
