"""The product list's query string, parsed once into the values the view uses.

The list view builds its answer from a ProductListQuery, and the response
cache stores that answer under `canonical`, a string made from the same
parsed values (never from the raw query string). So two requests share a
cached answer only when the view would compute the same answer for both:
spellings that parse to one value (`in_stock=True` and `in_stock=1`,
`page=02` and `page=2`, parameters in another order, unknown parameters)
share it; anything the view reads differently does not. A parameter given
twice is refused (400 `invalid`, naming it), as the value the view would use
is then a guess (a proxy may read the first, Django the last).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.http import QueryDict
from rest_framework.exceptions import ValidationError

from catalog.api.serializers import ProductListParamsSerializer, product_list_params
from catalog.listing import ProductFilters
from core.pagination import LAST_PAGE, PageRequest, page_request

FILTERS = tuple(ProductListParamsSerializer().fields)
PARAMS = (*FILTERS, "page", "page_size")
REPEATED = "Give this parameter at most once."


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


@dataclass(frozen=True)
class ProductListQuery:
    """What one product list request asks for: the filters and the page.

    `links`: the query string of the page links (every filter the view
    uses, and `page_size` as given), `canonical`: that plus the page, which
    is all of the request's query string that the answer depends on.
    """

    filters: ProductFilters
    page: PageRequest
    links: str
    canonical: str


def product_list_query(query: QueryDict) -> ProductListQuery:
    """Parse the list's query string; ValidationError (400 `invalid`) when it is not valid.

    Unknown parameters are ignored; a known one given twice is refused.
    """
    repeated = {name: [REPEATED] for name in PARAMS if len(query.getlist(name)) > 1}
    if repeated:
        raise ValidationError(repeated)
    filters = product_list_params({name: str(query[name]) for name in FILTERS if name in query})
    page = page_request(query.get("page"), query.get("page_size"))
    pairs = sorted(
        (name, _text(value)) for name, value in filters.items() if value is not None and value != ""
    )
    if page.size is not None:
        pairs.append(("page_size", str(page.size)))
    links = urlencode(sorted(pairs))
    if page.number is not None:
        pairs.append(("page", LAST_PAGE if page.number == LAST_PAGE else str(page.number)))
    return ProductListQuery(
        filters=filters, page=page, links=links, canonical=urlencode(sorted(pairs))
    )
