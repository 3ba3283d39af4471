"""Upsert products and variants from a CSV file, validating every row before writing any."""

import csv
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import slugify

from catalog import services
from catalog.exceptions import VariantOfAnotherProduct
from catalog.models import SKU_MAX_LENGTH, SKU_PATTERN, Category
from core.errors import FieldInvalid
from core.progress import Progress, Stream

REQUIRED = ("sku", "product_slug", "product_name", "category_slug", "price")
OPTIONAL = ("variant_name", "stock", "is_published", "description", "attributes")
TRUE, FALSE = {"true", "1", "yes", "y"}, {"false", "0", "no", "n"}


@dataclass
class Row:
    line: int
    sku: str
    product_slug: str
    product_name: str
    category_id: int
    price: Decimal
    variant_name: str | None
    stock: int | None
    is_published: bool | None
    description: str | None
    attributes: dict[str, Any] | None


@dataclass
class Plan:
    rows: list[Row] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _decimal_price(raw: str) -> Decimal:
    try:
        price = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"price {raw!r} is not a number") from None
    if not price.is_finite() or price <= 0:
        raise ValueError(f"price {raw!r} must be greater than 0")
    if price != price.quantize(Decimal("0.01")) or price >= Decimal("1e10"):
        raise ValueError(f"price {raw!r} must have at most 2 decimal places and 10 digits")
    return price.quantize(Decimal("0.01"))


def _row_parse(line: int, raw: dict[str, str], categories: dict[str, int]) -> Row:
    """One CSV record to a Row; ValueError naming every bad field."""
    value = {k: (raw.get(k) or "").strip() for k in (*REQUIRED, *OPTIONAL)}
    problems = [f"{name} is empty" for name in REQUIRED if not value[name]]
    parsed: dict[str, Any] = {}
    sku_ok = len(value["sku"]) <= SKU_MAX_LENGTH and re.fullmatch(SKU_PATTERN, value["sku"])
    if value["sku"] and not sku_ok:
        problems.append(f"sku {value['sku']!r} is not valid (letters, digits, ._-, up to 64)")
    if value["product_slug"] and slugify(value["product_slug"]) != value["product_slug"]:
        problems.append(f"product_slug {value['product_slug']!r} is not a slug")
    if len(value["product_name"]) > 255:
        problems.append("product_name is longer than 255 characters")
    if value["category_slug"] and value["category_slug"] not in categories:
        problems.append(f"category_slug {value['category_slug']!r} does not exist")
    if value["price"]:
        try:
            parsed["price"] = _decimal_price(value["price"])
        except ValueError as exc:
            problems.append(str(exc))
    parsed["stock"] = None
    if value["stock"]:
        try:
            parsed["stock"] = int(value["stock"])
        except ValueError:
            problems.append(f"stock {value['stock']!r} is not a whole number")
        else:
            if parsed["stock"] < 0:
                problems.append(f"stock {parsed['stock']} is negative")
    parsed["is_published"] = None
    if value["is_published"]:
        flag = value["is_published"].lower()
        if flag not in TRUE | FALSE:
            problems.append(f"is_published {value['is_published']!r} is not true or false")
        parsed["is_published"] = flag in TRUE
    parsed["attributes"] = None
    if value["attributes"]:
        try:
            parsed["attributes"] = json.loads(value["attributes"])
        except json.JSONDecodeError:
            problems.append("attributes is not valid JSON")
        else:
            if not isinstance(parsed["attributes"], dict):
                problems.append("attributes must be a JSON object")
    if problems:
        raise ValueError("; ".join(problems))
    return Row(
        line=line,
        sku=value["sku"],
        product_slug=value["product_slug"],
        product_name=value["product_name"],
        category_id=categories[value["category_slug"]],
        price=parsed["price"],
        variant_name=value["variant_name"] if "variant_name" in raw else None,
        stock=parsed["stock"],
        is_published=parsed["is_published"],
        description=value["description"] if "description" in raw else None,
        attributes=parsed["attributes"],
    )


def plan_build(path: Path) -> Plan:
    """Read and check the whole file; the plan lists every error (with its line)."""
    plan = Plan()
    categories = dict(Category.objects.values_list("slug", "pk"))
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in header]
        unknown = [c for c in header if c not in (*REQUIRED, *OPTIONAL)]
        if missing or unknown:
            parts = [f"missing column(s): {', '.join(missing)}"] if missing else []
            parts += [f"unknown column(s): {', '.join(unknown)}"] if unknown else []
            plan.errors.append(f"line 1: {'; '.join(parts)}")
            return plan
        seen: dict[str, int] = {}
        product_rows: dict[str, Row] = {}
        try:
            for raw in reader:
                line = reader.line_num
                if None in raw:
                    plan.errors.append(f"line {line}: more values than columns")
                    continue
                problems = []
                row: Row | None = None
                try:
                    row = _row_parse(line, raw, categories)
                except ValueError as exc:
                    problems.append(str(exc))
                sku = (raw.get("sku") or "").strip()
                if sku in seen:
                    problems.append(f"duplicate sku {sku!r} (first on line {seen[sku]})")
                elif sku:
                    seen[sku] = line
                if row is not None and not problems:
                    first = product_rows.setdefault(row.product_slug, row)
                    if first is not row and _product_values(first) != _product_values(row):
                        problems.append(
                            f"product {row.product_slug!r} differs from line {first.line} "
                            "(name, category, description and is_published must agree)"
                        )
                if problems or row is None:
                    plan.errors.append(f"line {line}: {'; '.join(problems)}")
                    continue
                plan.rows.append(row)
        except (csv.Error, UnicodeDecodeError) as exc:
            plan.errors.append(f"line {reader.line_num}: unreadable CSV ({exc})")
    if not plan.rows and not plan.errors:
        plan.errors.append("line 2: the file has no rows")
    return plan


def _product_values(row: Row) -> tuple[Any, ...]:
    return (row.product_name, row.category_id, row.description, row.is_published)


def plan_apply(
    plan: Plan, *, reason: str, progress: Progress, write: bool
) -> services.UpsertSummary:
    """Write the plan through `catalog_upsert`, all or nothing (nothing when `write` is false).

    VariantOfAnotherProduct when a SKU of the file belongs to another product.
    """
    products: dict[str, services.ProductUpsert] = {}
    for row in plan.rows:
        products.setdefault(
            row.product_slug,
            services.ProductUpsert(
                slug=row.product_slug,
                name=row.product_name,
                category_id=row.category_id,
                description=row.description,
                is_published=row.is_published,
            ),
        )
    variants = [
        services.VariantUpsert(
            sku=row.sku,
            product_slug=row.product_slug,
            price=row.price,
            name=row.variant_name,
            attributes=row.attributes,
            stock=row.stock,
        )
        for row in plan.rows
    ]
    summary = services.catalog_upsert(
        products=list(products.values()),
        variants=variants,
        reason=reason,
        dry_run=not write,
        progress=progress.advance,
    )
    progress.done()
    return summary


class Command(BaseCommand):
    help = (
        "Create or update products and variants (by SKU) from a CSV file. Every row is "
        "checked first: if any is bad, each problem is reported with its line and nothing "
        "is written. Stock changes go through the ledger (kind `import`). Columns: see README."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The CSV file (UTF-8, with a header row).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check the file and report; write nothing."
        )

    def handle(self, *args: Any, file: Path, dry_run: bool = False, **options: Any) -> None:
        plan = plan_build(file)
        if plan.errors:
            for error in plan.errors:
                self.stderr.write(error)
            raise CommandError(f"{len(plan.errors)} bad row(s) in {file}: nothing was imported.")
        # The raw stream: OutputWrapper would end every redraw of the bar with a newline.
        progress = Progress(
            total=len(plan.rows), label="import", stream=cast(Stream, self.stderr._out)
        )
        try:
            summary = plan_apply(
                plan, reason=f"import {file.name}", progress=progress, write=not dry_run
            )
        except VariantOfAnotherProduct as exc:
            lines = {row.sku: row.line for row in plan.rows}
            conflicts = sorted(exc.extra["conflicts"], key=lambda conflict: lines[conflict[0]])
            for sku, slug in conflicts:
                self.stderr.write(f"line {lines[sku]}: sku {sku!r} belongs to product {slug!r}")
            raise CommandError(
                f"{len(conflicts)} bad row(s) in {file}: nothing was imported."
            ) from None
        except FieldInvalid as exc:
            reasons = "; ".join(m for messages in exc.extra["errors"].values() for m in messages)
            raise CommandError(f"{reasons} Nothing was imported.") from None
        prefix = "Dry run, nothing written: would have " if dry_run else ""
        self.stdout.write(
            f"{prefix}{summary.created} created, {summary.updated} updated, "
            f"{summary.unchanged} unchanged variants "
            f"({summary.products_created} products created, "
            f"{summary.products_updated} updated)."
        )
