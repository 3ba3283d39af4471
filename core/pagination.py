from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.paginator import InvalidPage, Page
from django.core.paginator import Paginator as DjangoPaginator
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination as BasePageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


def _positive_int(request: Request, name: str) -> int | None:
    return _positive_int_value(name, request.query_params.get(name))


LAST_PAGE = "last"


@dataclass(frozen=True)
class PageRequest:
    """`?page=` and `?page_size=` parsed once (`page_request`), for a view that needs them early.

    `number`: a page number, LAST_PAGE, or None (the first page); `size`: the
    page size as given (before the cap), or None (the default).
    """

    number: int | str | None
    size: int | None


def _positive_int_value(name: str, raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None  # `?page=` means no page, as an empty filter means no filter
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValidationError({name: ["A positive integer is required."]})
    return value


def page_request(page: str | None, page_size: str | None) -> PageRequest:
    """The page a list request asks for, read as PageNumberPagination reads it (400 if invalid)."""
    number: int | str | None = LAST_PAGE if page == LAST_PAGE else _positive_int_value("page", page)
    return PageRequest(number=number, size=_positive_int_value("page_size", page_size))


class PageNumberPagination(BasePageNumberPagination):
    """`?page=N&page_size=N`: default 20, at most 100 (a larger size is capped).

    A `page` or `page_size` that is not a positive integer is a 400 `invalid`
    (DRF would silently use the default size, or answer 404), an empty one
    means the default (as the catalog's response cache reads it too); a page
    past the last one is a 404 `not_found`.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    last_page_strings = (LAST_PAGE,)
    # The query string of the page links (without `page`), when the view gives one
    # (paginate_rows); else the request's own query string.
    link_query: str | None = None

    def _link_base(self) -> str:
        assert self.request is not None
        if self.link_query is None:
            return self.request.build_absolute_uri()
        path = self.request.build_absolute_uri(self.request.path)
        return f"{path}?{self.link_query}" if self.link_query else path

    def get_next_link(self) -> str | None:
        assert self.page is not None
        if not self.page.has_next():
            return None
        return replace_query_param(
            self._link_base(), self.page_query_param, self.page.next_page_number()
        )

    def get_previous_link(self) -> str | None:
        assert self.page is not None
        if not self.page.has_previous():
            return None
        number = self.page.previous_page_number()
        if number == 1:
            return remove_query_param(self._link_base(), self.page_query_param)
        return replace_query_param(self._link_base(), self.page_query_param, number)

    def get_page_size(self, request: Request) -> int:
        size = _positive_int(request, self.page_size_query_param)
        return self.page_size if size is None else min(size, self.max_page_size)

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        if request.query_params.get(self.page_query_param) in self.last_page_strings:
            return super().get_page_number(request, paginator)
        return _positive_int(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            parameter["allowEmptyValue"] = True
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page: default {self.page_size}, "
                    f"at most {self.max_page_size} (a larger value is capped)."
                )
        return parameters

    def page_size_for(self, page: PageRequest) -> int:
        """The rows a page of `page` holds (the default, or the size asked for, capped)."""
        return self.page_size if page.size is None else min(page.size, self.max_page_size)

    def paginate_rows(
        self,
        request: Request,
        *,
        fetch: Callable[[int, int], list[Any]],
        count: Callable[[], int],
        page: PageRequest | None = None,
        link_query: str | None = None,
    ) -> list[Any]:
        """`paginate_queryset` for rows the caller fetches: `fetch(limit, offset)`, `count()`.

        `page`: the page asked for, parsed already (`page_request`), else read
        from the request. `link_query`: the query string the `next` and
        `previous` links carry (but `page`), else the request's own.

        The same pages, links and errors, but the page is read first and the
        count only when the page is full (or for `?page=last`): a short page
        gives the count itself, an empty page past the first is past the end.
        Most filtered lists fit one page, and the count is the costly query.
        """
        self.request = request
        self.link_query = link_query
        if page is None:
            raw = request.query_params.get(self.page_query_param)
            page = page_request(raw, request.query_params.get(self.page_size_query_param))
        size = self.page_size_for(page)
        number = None if page.number == LAST_PAGE else int(page.number or 1)
        total: int | None = None
        rows: list[Any] | None = None
        if number is not None and number <= _FETCH_FIRST_PAGES:
            rows = fetch(size, (number - 1) * size)
            if len(rows) < size and (rows or number == 1):
                total = (number - 1) * size + len(rows)
        if total is None:
            total = count()
        paginator = _CountedPaginator(total, size)
        if number is None:
            number = paginator.num_pages
        try:
            paginator.validate_number(number)
        except InvalidPage as exc:
            msg = self.invalid_page_message.format(page_number=number, message=str(exc))
            raise NotFound(msg) from exc
        if rows is None:
            rows = fetch(size, (number - 1) * size)
        self.page = Page(rows, number, paginator)
        if paginator.num_pages > 1 and self.template is not None:
            self.display_page_controls = True
        return rows


# Past this page the count is read first, as Django's paginator does (so an
# absurd page number is a 404, never an OFFSET beyond PostgreSQL's bigint).
_FETCH_FIRST_PAGES = 1_000_000


class _CountedPaginator(DjangoPaginator):
    """Django's paginator over a count known in advance (its pages are built by the caller)."""

    def __init__(self, count: int, per_page: int) -> None:
        super().__init__((), per_page)
        self.count = count  # a cached_property on Django's paginator, set in advance


class BoundedCountPagination(PageNumberPagination):
    """PageNumberPagination for lists whose count may stop at a bound (a search's matches).

    `paginate_rows(count_exact=...)`: when it answers False, the count is the
    bound, not every match, and the page says so with `"count_exact": false`
    after `count`; the key is absent otherwise.
    """

    # The bound, as the schema describes it (set by a subclass).
    count_bound = 1_000
    count_exact: Callable[[], bool] | None = None

    def paginate_rows(
        self,
        request: Request,
        *,
        fetch: Callable[[int, int], list[Any]],
        count: Callable[[], int],
        page: PageRequest | None = None,
        link_query: str | None = None,
        count_exact: Callable[[], bool] | None = None,
    ) -> list[Any]:
        self.count_exact = count_exact
        return super().paginate_rows(
            request, fetch=fetch, count=count, page=page, link_query=link_query
        )

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        if self.count_exact is not None and not self.count_exact():
            body = response.data
            response.data = {"count": body["count"], "count_exact": False, **body}
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        properties = paginated["properties"]
        paginated["properties"] = {
            "count": {
                **properties["count"],
                "description": (
                    f"How many results match; a search counts up to {self.count_bound:,} "
                    "matches (then `count_exact` is false and no page past them is served)."
                ),
            },
            "count_exact": {
                "type": "boolean",
                "description": (
                    "Present, and false, only when a search matched more than `count` "
                    "results: `count` is then the bound, not every match."
                ),
            },
            **{name: value for name, value in properties.items() if name != "count"},
        }
        return paginated
