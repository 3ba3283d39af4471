from django.db import migrations

from pricing.seed import defaults_seed


def forwards(apps, schema_editor):
    defaults_seed(apps)


class Migration(migrations.Migration):
    """The tax classes and a default shipping method from the flat-rate settings."""

    dependencies = [
        ("pricing", "0001_pricing_rules"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
