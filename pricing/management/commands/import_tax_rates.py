"""Load tax rates from a CSV (`country,tax_class,rate`), checking every row before writing."""

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.countries import COUNTRY_NAMES
from pricing.models import TaxClass
from pricing.services import tax_rates_import

COLUMNS = ("country", "tax_class", "rate")


def _row_parse(raw: dict[str, str], classes: set[str]) -> tuple[str, str, Decimal]:
    """One record to (country, class code, rate); ValueError naming every bad field."""
    value = {k: (raw.get(k) or "").strip() for k in COLUMNS}
    problems = [f"{name} is empty" for name in COLUMNS if not value[name]]
    country = value["country"].upper()
    if country and country not in COUNTRY_NAMES:
        problems.append(f"country {value['country']!r} is not an ISO 3166-1 alpha-2 code")
    if value["tax_class"] and value["tax_class"] not in classes:
        problems.append(f"tax_class {value['tax_class']!r} does not exist")
    rate = Decimal(0)
    if value["rate"]:
        try:
            rate = Decimal(value["rate"])
        except InvalidOperation:
            problems.append(f"rate {value['rate']!r} is not a number")
        else:
            if (
                not rate.is_finite()
                or not 0 <= rate <= 100
                or rate != rate.quantize(Decimal("0.01"))
            ):
                problems.append(f"rate {value['rate']!r} must be 0 to 100 with 2 decimals at most")
    if problems:
        raise ValueError("; ".join(problems))
    return country, value["tax_class"], rate.quantize(Decimal("0.01"))


class Command(BaseCommand):
    help = (
        "Create or update tax rates from a CSV with columns country,tax_class,rate. "
        "All or nothing: any bad line (reported with its number) writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)

    def handle(self, *args: object, **options: object) -> None:
        path = options["path"]
        assert isinstance(path, Path)
        classes = set(TaxClass.objects.values_list("code", flat=True))
        rates: dict[tuple[str, str], Decimal] = {}
        first_line: dict[tuple[str, str], int] = {}
        errors: list[str] = []
        try:
            handle = path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        with handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [c for c in COLUMNS if c not in header]
            unknown = [c for c in header if c not in COLUMNS]
            if missing or unknown:
                parts = [f"missing column(s): {', '.join(missing)}"] if missing else []
                parts += [f"unknown column(s): {', '.join(unknown)}"] if unknown else []
                raise CommandError(f"line 1: {'; '.join(parts)}")
            try:
                for raw in reader:
                    line = reader.line_num
                    if None in raw:
                        errors.append(f"line {line}: more values than columns")
                        continue
                    try:
                        country, code, rate = _row_parse(raw, classes)
                    except ValueError as exc:
                        errors.append(f"line {line}: {exc}")
                        continue
                    if (country, code) in first_line:
                        errors.append(
                            f"line {line}: {country} {code} again (first on line "
                            f"{first_line[(country, code)]})"
                        )
                        continue
                    first_line[(country, code)] = line
                    rates[(country, code)] = rate
            except (csv.Error, UnicodeDecodeError) as exc:
                errors.append(f"line {reader.line_num}: unreadable CSV ({exc})")
        if not rates and not errors:
            errors.append("line 2: the file has no rows")
        if errors:
            raise CommandError("Nothing imported:\n" + "\n".join(errors))
        created, updated, unchanged = tax_rates_import(rates=rates)
        self.stdout.write(f"{created} created, {updated} updated, {unchanged} unchanged tax rates.")
