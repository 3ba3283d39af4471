"""The public product listing: the list, its count and a product's page.

Declared once (catalog.listing.declaration): the keys of the answer and the
SQL of each, the orderings, the filters and the search. catalog.listing.sql
builds the statements from it; `ProductListing` and `product_detail` answer
with it. tests/catalog/reference.py holds the same listing as querysets, the
oracle it is checked against.
"""

from catalog.listing.declaration import (
    DEFAULT_ORDERING,
    ORDERINGS,
    PRODUCT_FIELDS,
    SEARCH_CONFIG,
    SEARCH_COUNT_MAX,
    VARIANT_FIELDS,
    Field,
    ProductFilters,
    money,
    product_fields,
    product_item,
    search_terms,
    variant_item,
)
from catalog.listing.memo import GenerationMemo, Memo
from catalog.listing.reads import HISTOGRAM_AFTER, ProductListing, product_detail

__all__ = [
    "DEFAULT_ORDERING",
    "HISTOGRAM_AFTER",
    "ORDERINGS",
    "PRODUCT_FIELDS",
    "SEARCH_CONFIG",
    "SEARCH_COUNT_MAX",
    "VARIANT_FIELDS",
    "Field",
    "GenerationMemo",
    "Memo",
    "ProductFilters",
    "ProductListing",
    "money",
    "product_detail",
    "product_fields",
    "product_item",
    "search_terms",
    "variant_item",
]
