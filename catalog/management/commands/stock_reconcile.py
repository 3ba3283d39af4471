"""Compare every variant's stock with the sum of its ledger; exit 1 if any differ."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import F, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from catalog.models import StockMovement, Variant


class Command(BaseCommand):
    help = "Check that each variant's stock equals the sum of its stock movements."

    def handle(self, *args: Any, **options: Any) -> None:
        ledger = (
            StockMovement.objects.filter(variant=OuterRef("pk"))
            .order_by()
            .values("variant")
            .annotate(total=Sum("delta"))
            .values("total")
        )
        differing = (
            Variant.objects.annotate(
                ledger=Coalesce(Subquery(ledger), Value(0), output_field=IntegerField())
            )
            .exclude(stock=F("ledger"))
            .order_by("sku")
            .values_list("sku", "stock", "ledger")
        )
        count = 0
        for sku, stock, total in differing.iterator(chunk_size=2000):
            count += 1
            self.stdout.write(
                f"{sku}: stock {stock}, ledger {total} (difference {stock - total:+d})"
            )
        if count:
            self.stderr.write(self.style.ERROR(f"{count} variant(s) differ from their ledger."))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS("Every variant's stock matches its ledger."))
