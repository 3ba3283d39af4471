# The idempotency key moved from the orders app to core: state only, the table
# (orders_idempotencykey) and its rows stay where they are.
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("orders", "0006_order_updated_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="IdempotencyKey",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("caller", models.CharField(max_length=100)),
                        ("method", models.CharField(max_length=10)),
                        ("path", models.CharField(max_length=1024)),
                        ("key", models.CharField(max_length=255)),
                        ("fingerprint", models.CharField(max_length=64)),
                        ("status_code", models.PositiveSmallIntegerField(blank=True, null=True)),
                        ("response_body", models.BinaryField(default=b"")),
                        ("content_type", models.CharField(blank=True, max_length=100)),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                    ],
                    options={"db_table": "orders_idempotencykey"},
                ),
                migrations.AddConstraint(
                    model_name="idempotencykey",
                    constraint=models.UniqueConstraint(
                        fields=("caller", "method", "path", "key"), name="idempotency_key_unique"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
