"""Export order lines (one row per line, with its order's fields) as CSV or JSON lines."""

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.csv_export import CsvWriter
from core.progress import Progress, Stream
from orders.models import OrderLine, OrderStatus

# Output column -> ORM path from OrderLine. Addresses are reduced to what
# accounting and shipping reports need; no names, street lines or phones. The
# amounts are as the order was priced: with prices_include_tax the tax is inside
# them, otherwise total and line_total add it.
COLUMNS: dict[str, str] = {
    "order_number": "order__number",
    "status": "order__status",
    "created_at": "order__created_at",
    "updated_at": "order__updated_at",
    "customer_email": "order__user__email",
    "currency": "order__currency",
    "subtotal": "order__subtotal",
    "discount_total": "order__discount_total",
    "voucher_code": "order__voucher_code",
    "shipping_method": "order__shipping_method_code",
    "shipping_total": "order__shipping_total",
    "tax_total": "order__tax_total",
    "total": "order__total",
    "prices_include_tax": "order__prices_include_tax",
    "refund_due": "order__refund_due",
    "tracking_number": "order__tracking_number",
    "shipping_city": "order__shipping_city",
    "shipping_postal_code": "order__shipping_postal_code",
    "shipping_country": "order__shipping_country",
    "sku": "sku",
    "product_name": "product_name",
    "variant_name": "variant_name",
    "unit_price": "unit_price",
    "quantity": "quantity",
    "promotion_discount": "promotion_discount",
    "voucher_discount": "voucher_discount",
    "tax_rate": "tax_rate",
    "tax": "tax",
    "line_total": "line_total",
}
CHUNK = 2000


def _moment(value: str, *, end_of_day: bool) -> datetime:
    """An ISO date (a whole day in UTC) or an ISO datetime (naive means UTC)."""
    error = CommandError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 datetime.")
    try:
        moment = parse_datetime(value) if "T" in value or " " in value else None
        if moment is None:
            day = parse_date(value) if "T" not in value else None
            if day is None:
                raise error
            moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time.min)
    except ValueError:  # well formed, impossible: 2026-02-30
        raise error from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


def _text(value: Any) -> Any:
    # Amounts stay Decimal: the CSV writer leaves numbers alone and neutralises only text.
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def _json_default(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def lines_select(
    *, since: datetime | None, until: datetime | None, statuses: list[str]
) -> QuerySet[OrderLine]:
    lines = OrderLine.objects.all()
    if since:
        lines = lines.filter(order__created_at__gte=since)
    if until:
        lines = lines.filter(order__created_at__lt=until)
    if statuses:
        lines = lines.filter(order__status__in=statuses)
    return lines.order_by("order__created_at", "order_id", "id")


def rows(lines: QuerySet[OrderLine]) -> Iterator[dict[str, Any]]:
    """Stream rows from a server-side cursor: memory stays flat however many lines."""
    names = list(COLUMNS)
    for values in lines.values_list(*COLUMNS.values()).iterator(chunk_size=CHUNK):
        yield {name: _text(value) for name, value in zip(names, values, strict=True)}


class Command(BaseCommand):
    help = (
        "Export order lines, one row per line with its order's fields, as CSV or JSON lines. "
        "Streams from the database, so memory use stays constant on millions of rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="Orders created at or after this date/datetime (UTC).")
        parser.add_argument(
            "--until",
            help="Orders created before this datetime, or up to the end of this date (UTC).",
        )
        parser.add_argument(
            "--status",
            action="append",
            default=[],
            metavar="STATUS",
            help=f"Only orders in this status (repeat, or comma-separate): "
            f"{', '.join(OrderStatus.values)}.",
        )
        parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
        parser.add_argument(
            "--output",
            type=Path,
            help="Write to this file (replaced only once the export is complete); "
            "default: standard output.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since = _moment(options["since"], end_of_day=False) if options["since"] else None
        until = _moment(options["until"], end_of_day=True) if options["until"] else None
        if since and until and since >= until:
            raise CommandError("--since must be before --until.")
        statuses = [s.strip() for raw in options["status"] for s in raw.split(",") if s.strip()]
        if unknown := sorted(set(statuses) - set(OrderStatus.values)):
            raise CommandError(
                f"Unknown status {', '.join(unknown)}; one of {', '.join(OrderStatus.values)}."
            )
        lines = lines_select(since=since, until=until, statuses=statuses)
        output: Path | None = options["output"]
        progress = Progress(
            total=lines.count(), label="export", stream=cast(Stream, self.stderr._out)
        )
        if output is None:
            written, orders = self._write(cast(IO[str], self.stdout._out), lines, options, progress)
        else:
            partial = output.with_name(f".{output.name}.partial")
            try:
                with partial.open("w", newline="", encoding="utf-8") as handle:
                    written, orders = self._write(handle, lines, options, progress)
                os.replace(partial, output)
            except OSError as exc:
                partial.unlink(missing_ok=True)
                raise CommandError(f"Cannot write {output}: {exc.strerror}.") from None
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        progress.done()
        where = output or "standard output"
        self.stderr.write(f"Exported {written} lines of {orders} orders to {where}.")

    def _write(
        self,
        handle: IO[str],
        lines: QuerySet[OrderLine],
        options: dict[str, Any],
        progress: Progress,
    ) -> tuple[int, int]:
        written = orders = 0
        last_order = None
        writer = None
        if options["format"] == "csv":
            writer = CsvWriter(handle, lineterminator="\n")
            writer.writerow(COLUMNS)
        for row in rows(lines):
            if writer is not None:
                writer.writerow(row.values())
            else:
                handle.write(json.dumps(row, ensure_ascii=False, default=_json_default) + "\n")
            written += 1
            if row["order_number"] != last_order:
                orders, last_order = orders + 1, row["order_number"]
            progress.advance()
        handle.flush()
        return written, orders
