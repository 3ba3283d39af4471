# The idempotency key now belongs to core (core 0001 takes over its state); the
# table and its rows are kept.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0006_order_updated_index"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="IdempotencyKey")],
            database_operations=[],
        ),
    ]
