"""The one CSV writer for every CSV the project produces (admin exports, `export_orders`).

Spreadsheets run a cell that starts like a formula, so text that starts with one of
`FORMULA_PREFIXES` is written with a leading single quote, which spreadsheets show as text.
Only text is neutralised: numbers (int, Decimal, float) are ours, not the customer's, and are
written as they are, so a negative amount stays a number a spreadsheet can add up.
Callers must therefore hand numbers over as numbers, not as text they formatted themselves.
"""

import csv
from collections.abc import Iterable
from typing import IO, Any, Protocol

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, value: str, /) -> Any: ...


def csv_cell(value: Any) -> Any:
    """`value` as it is safe to write: text that a spreadsheet would run gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class CsvWriter:
    """`csv.writer` whose every row goes through `csv_cell`. `writerow` returns what the
    handle's `write` returned (the line itself with `csv_lines`)."""

    def __init__(self, handle: _Writable | IO[str], **options: Any) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([csv_cell(value) for value in row])


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterable[str]:
    """Each row as one CSV line (for a streamed response); nothing is buffered."""
    writer = CsvWriter(_Echo())
    for row in rows:
        yield writer.writerow(row)
