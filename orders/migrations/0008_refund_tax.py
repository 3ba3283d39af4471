"""Refunds report the tax inside them; refund lines what their units were paid.

Refunds recorded before this get their parts from the order as it was
priced: each refund line its units' share of the line's total and tax, each
refund the order's tax in proportion to its amount (rounded half up, as
PostgreSQL's ROUND does for positive amounts).
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0007_idempotencykey_to_core'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='refund',
            name='tax',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14),
        ),
        migrations.AddField(
            model_name='refundline',
            name='amount',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14),
        ),
        migrations.AddField(
            model_name='refundline',
            name='tax',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14),
        ),
        migrations.RunSQL(
            sql=[
                """
                UPDATE orders_refundline rl
                SET amount = ROUND(ol.line_total * rl.quantity / ol.quantity, 2),
                    tax = LEAST(
                        ROUND(ol.line_total * rl.quantity / ol.quantity, 2),
                        ROUND(ol.tax * rl.quantity / ol.quantity, 2)
                    )
                FROM orders_orderline ol
                WHERE ol.id = rl.order_line_id
                """,
                """
                UPDATE orders_refund r
                SET tax = LEAST(r.amount, ROUND(r.amount * o.tax_total / o.total, 2))
                FROM orders_order o
                WHERE o.id = r.order_id AND o.total > 0 AND o.tax_total > 0
                """,
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AddConstraint(
            model_name='refund',
            constraint=models.CheckConstraint(condition=models.Q(('tax__gte', 0), ('tax__lte', models.F('amount'))), name='refund_tax_within_amount'),
        ),
        migrations.AddConstraint(
            model_name='refundline',
            constraint=models.CheckConstraint(condition=models.Q(('tax__gte', 0), ('tax__lte', models.F('amount'))), name='refundline_tax_within_amount'),
        ),
    ]
