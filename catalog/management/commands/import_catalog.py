"""Upsert products and variants from a CSV file, validating every row before writing any."""

import csv
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from catalog import cache as catalog_cache
from catalog import services
from catalog.models import Category, Product, Variant
from config.progress import Progress, Stream

REQUIRED = ("sku", "product_slug", "product_name", "category_slug", "price")
OPTIONAL = ("variant_name", "stock", "is_published", "description", "attributes")
SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
TRUE, FALSE = {"true", "1", "yes", "y"}, {"false", "0", "no", "n"}
PRODUCT_FIELDS = ("name", "category_id", "description", "is_published")
CHUNK = 1000


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
    products: dict[str, Product] = field(default_factory=dict)
    variants: dict[str, Variant] = field(default_factory=dict)


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
    if value["sku"] and not SKU_RE.match(value["sku"]):
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
    _plan_load_existing(plan)
    return plan


def _product_values(row: Row) -> tuple[Any, ...]:
    return (row.product_name, row.category_id, row.description, row.is_published)


def _plan_load_existing(plan: Plan) -> None:
    skus = [r.sku for r in plan.rows]
    slugs = list({r.product_slug for r in plan.rows})
    for start in range(0, len(slugs), CHUNK):
        for product in Product.objects.filter(slug__in=slugs[start : start + CHUNK]):
            plan.products[product.slug] = product
    for start in range(0, len(skus), CHUNK):
        chunk = Variant.objects.filter(sku__in=skus[start : start + CHUNK]).select_related(
            "product"
        )
        for variant in chunk:
            plan.variants[variant.sku] = variant
    for row in plan.rows:
        existing = plan.variants.get(row.sku)
        if existing is not None and existing.product.slug != row.product_slug:
            plan.errors.append(
                f"line {row.line}: sku {row.sku!r} belongs to product {existing.product.slug!r}"
            )
    plan.errors.sort(key=lambda e: int(e.split(":", 1)[0].removeprefix("line ")))


@dataclass
class Summary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    products_created: int = 0
    products_updated: int = 0


def plan_apply(plan: Plan, *, reason: str, progress: Progress, write: bool) -> Summary:
    """Write the plan in one transaction (nothing when `write` is false): counts per variant."""
    summary = Summary()
    now = timezone.now()
    new_products: dict[str, Product] = {}
    changed_products: dict[str, Product] = {}
    for row in plan.rows:
        product = plan.products.get(row.product_slug) or new_products.get(row.product_slug)
        values = {
            "name": row.product_name,
            "category_id": row.category_id,
            "description": row.description,
            "is_published": row.is_published,
        }
        values = {k: v for k, v in values.items() if v is not None}
        if product is None:
            new_products[row.product_slug] = Product(slug=row.product_slug, **values)
        elif product.pk and any(getattr(product, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(product, key, value)
            product.updated_at = now
            changed_products[row.product_slug] = product
    summary.products_created, summary.products_updated = len(new_products), len(changed_products)

    new_variants: list[tuple[Row, Variant]] = []
    changed_variants: list[Variant] = []
    deltas: dict[str, int] = {}
    for row in plan.rows:
        variant = plan.variants.get(row.sku)
        values = {"price": row.price, "name": row.variant_name, "attributes": row.attributes}
        values = {k: v for k, v in values.items() if v is not None}
        if variant is None:
            summary.created += 1
            new_variants.append((row, Variant(sku=row.sku, **values)))
            if row.stock:
                deltas[row.sku] = row.stock
            continue
        stock_delta = 0 if row.stock is None else row.stock - variant.stock
        fields_changed = any(getattr(variant, k) != v for k, v in values.items())
        if fields_changed:
            for key, value in values.items():
                setattr(variant, key, value)
            variant.updated_at = now
            changed_variants.append(variant)
        if stock_delta:
            deltas[row.sku] = stock_delta
        product_changed = row.product_slug in changed_products
        if fields_changed or stock_delta or product_changed:
            summary.updated += 1
        else:
            summary.unchanged += 1
    if not write:
        progress.done()
        return summary

    with transaction.atomic():
        Product.objects.bulk_create(new_products.values(), batch_size=CHUNK)
        Product.objects.bulk_update(
            changed_products.values(), [*PRODUCT_FIELDS, "updated_at"], batch_size=CHUNK
        )
        for row, variant in new_variants:
            variant.product = plan.products.get(row.product_slug) or new_products[row.product_slug]
        for start in range(0, len(new_variants), CHUNK):
            Variant.objects.bulk_create([v for _, v in new_variants[start : start + CHUNK]])
            progress.advance(len(new_variants[start : start + CHUNK]))
        for start in range(0, len(changed_variants), CHUNK):
            chunk = changed_variants[start : start + CHUNK]
            Variant.objects.bulk_update(chunk, ["price", "name", "attributes", "updated_at"])
            progress.advance(len(chunk))
        ids = {v.sku: v.pk for _, v in new_variants} | {s: v.pk for s, v in plan.variants.items()}
        items = sorted(deltas.items())
        for start in range(0, len(items), CHUNK):
            batch = items[start : start + CHUNK]
            services.stock_import(deltas={ids[sku]: d for sku, d in batch}, reason=reason)
        catalog_cache.invalidate_on_commit()
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
        summary = plan_apply(
            plan, reason=f"import {file.name}", progress=progress, write=not dry_run
        )
        prefix = "Dry run, nothing written: would have " if dry_run else ""
        self.stdout.write(
            f"{prefix}{summary.created} created, {summary.updated} updated, "
            f"{summary.unchanged} unchanged variants "
            f"({summary.products_created} products created, "
            f"{summary.products_updated} updated)."
        )
