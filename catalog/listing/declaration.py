"""What the product list and page show, how they filter, order and search: declared once.

catalog.listing.sql builds every statement from these declarations,
`product_item` maps a row of them to the answer (list and page alike),
catalog.api.serializers describes them in the OpenAPI schema, and the
response cache's format follows them. Adding a key to the answer is one
`Field` below (a product column, or a Python value).
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal, TypedDict

from django.conf import settings


def money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


def _same(value: Any) -> Any:
    return value


def _currency(_: Any) -> str:
    return str(settings.STORE_CURRENCY)


def _jsonb(value: Any) -> Any:
    # Django leaves jsonb undecoded in raw rows (JSONField decodes it with json.loads).
    return json.loads(value) if isinstance(value, str) else value


Kind = Literal["integer", "slug", "string", "money", "boolean", "datetime", "object", "variants"]


@dataclass(frozen=True)
class Field:
    """One key of a product (or variant) in the answer.

    `sql`: its expression over `p` (catalog_product), `c` (the product's
    catalog_category row: then `category=True`) or `v` (catalog_variant);
    None for a value made in Python. `show`: the database value (None for
    one made in Python) -> the JSON value. `kind`, `help`, `null`: its
    description in the OpenAPI schema. `staff`: only in answers to staff who
    see unpublished products; `detail`: only on the product's page.
    """

    name: str
    sql: str | None
    kind: Kind
    help: str = ""
    null: bool = False
    show: Callable[[Any], Any] = _same
    staff: bool = False
    detail: bool = False
    category: bool = False


# In the order of the answer's keys.
PRODUCT_FIELDS: tuple[Field, ...] = (
    Field("id", "p.id", "integer"),
    Field("slug", "p.slug", "slug"),
    Field("name", "p.name", "string"),
    Field("category", "c.slug", "slug", help="The category's slug.", category=True),
    Field(
        "price",
        "p.min_price",
        "money",
        help="The lowest variant price; null when the product has no variant.",
        null=True,
        show=money,
    ),
    Field("currency", None, "string", help="ISO 4217; one per store.", show=_currency),
    # `in_stock` is a column kept by triggers (migration 0007): any variant with stock.
    Field("in_stock", "p.in_stock", "boolean", help="Any variant has stock."),
    Field(
        "tax_class",
        "p.tax_class_id",
        "slug",
        help="The tax class's code (`standard`, `reduced`, `zero`, or one staff added): "
        "with the destination it gives the tax rate of the product's order lines.",
    ),
    Field(
        "is_published",
        "p.is_published",
        "boolean",
        help="Only for staff with the view permission.",
        staff=True,
    ),
    Field("description", "p.description", "string", detail=True),
    Field("variants", None, "variants", detail=True),
    Field("created_at", "p.created_at", "datetime", detail=True),
    Field("updated_at", "p.updated_at", "datetime", detail=True),
)

VARIANT_FIELDS: tuple[Field, ...] = (
    Field("sku", "v.sku", "string"),
    Field("name", "v.name", "string"),
    Field("attributes", "v.attributes", "object", show=_jsonb),
    Field("price", "v.price", "money", show=money),
    Field("stock", "v.stock", "integer"),
    Field("in_stock", "v.stock > 0", "boolean"),
)


def product_fields(*, staff: bool, detail: bool) -> tuple[Field, ...]:
    """The fields of a list item (`detail=False`) or of a product's page, for staff or not."""
    return tuple(f for f in PRODUCT_FIELDS if (staff or not f.staff) and (detail or not f.detail))


def selected(fields: Sequence[Field]) -> tuple[Field, ...]:
    """The fields read from the database (those with SQL), in order."""
    return tuple(f for f in fields if f.sql is not None)


def product_item(row: Mapping[str, Any], *, staff: bool, detail: bool = False) -> dict[str, Any]:
    """The answer for one product from its row (database values keyed by field name).

    A page's row also holds `variants`, already shown (`variant_item`).
    """
    return {f.name: f.show(row.get(f.name)) for f in product_fields(staff=staff, detail=detail)}


def variant_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """A variant on its product's page, from its row (database values keyed by field name)."""
    return {f.name: f.show(row.get(f.name)) for f in VARIANT_FIELDS}


# --- Orderings ---------------------------------------------------------------


@dataclass(frozen=True)
class Ordering:
    """`ordering=<name>` (ascending) and `ordering=-<name>` by a product column, then by id."""

    name: str
    column: str
    nulls_last: bool = False

    def sql(self, *, descending: bool) -> str:
        direction = "DESC" if descending else "ASC"
        nulls = " NULLS LAST" if self.nulls_last else ""
        return f"p.{self.column} {direction}{nulls}, p.id {direction}"


ORDERING_COLUMNS: tuple[Ordering, ...] = (
    Ordering("price", "min_price", nulls_last=True),
    Ordering("name", "name"),
    Ordering("created_at", "created_at"),
)
# The `ordering` values of the product list, and what each one sorts by.
ORDERINGS: Mapping[str, tuple[Ordering, bool]] = MappingProxyType(
    {f"{prefix}{o.name}": (o, prefix == "-") for o in ORDERING_COLUMNS for prefix in ("", "-")}
)
DEFAULT_ORDERING = "-created_at"


def order_sql(ordering: str | None) -> str:
    """The ORDER BY of an `ordering` value (the default one when None or empty)."""
    column, descending = ORDERINGS[ordering or DEFAULT_ORDERING]
    return column.sql(descending=descending)


# --- Filters and search ---------------------------------------------------------


class ProductFilters(TypedDict, total=False):
    search: str
    category: str
    min_price: Decimal
    max_price: Decimal
    in_stock: bool
    ordering: str


# The filters that are one clause over the product row: name -> clause of the value.
ROW_FILTERS: Mapping[str, Callable[[Any], tuple[str, list[Any]]]] = MappingProxyType(
    {
        "min_price": lambda low: ("p.min_price >= %s", [low]),
        "max_price": lambda high: ("p.min_price <= %s", [high]),
        "in_stock": lambda flag: ("p.in_stock" if flag else "NOT p.in_stock", []),
    }
)
# The filters a count of public products may answer from the price histogram.
HISTOGRAM_FILTERS = frozenset({"min_price", "max_price", "in_stock"})

SEARCH_CONFIG = "english"
# A search page counts its matches exactly up to this many; past it the page
# says `count_exact: false`, its `count` is this number and no page past it is
# served (counting, or ranking, every match of a broad search costs as much as
# the catalog is large).
SEARCH_COUNT_MAX = 1_000


@dataclass(frozen=True)
class SearchTerms:
    """The parts of a `?search=` term (web-search syntax).

    `wanted`: the words to find as typos or partial words of the name (not
    the excluded ones, nor `or`); `excluded`: the `-word`s, which a fuzzy
    match must not contain.
    """

    term: str
    wanted: str
    excluded: tuple[str, ...]


def search_terms(term: str) -> SearchTerms:
    words = term.replace('"', " ").split()
    return SearchTerms(
        term=term,
        wanted=" ".join(w for w in words if not w.startswith("-") and w.lower() != "or"),
        excluded=tuple(w[1:] for w in words if w.startswith("-") and len(w) > 1),
    )
