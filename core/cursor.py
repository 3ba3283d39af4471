"""Cursor pages for readers that copy a list incrementally: `{next, previous, results}`.

Rows are ordered by a unique key (`(updated_at, id)`, or an event's
`sequence`); a cursor holds the key of the last row a page returned, and the
next page starts strictly after it. So a row that changes between two pages
is never skipped: its key grows, and it is found again at its new place.
`next` is present on every page (an empty page too) so a reader can poll the
same link later. `previous` goes back: the rows just before the page's first
one (as Shopify's and Stripe's cursors go both ways); it is null on a first
page (no `cursor` given), and on a page reached backwards that starts at the
first row. Pages reached backwards end where the page they came from began.
"""

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param

from core import serializers

CURSOR_PAGE_SIZE = 100
CURSOR_PAGE_SIZE_MAX = 500
CURSOR = "cursor"


# A cursor's direction: after its key (`next`), before it or up to it (`previous`).
AFTER, BEFORE, UP_TO = ">", "<", "<="


@dataclass(frozen=True)
class Position:
    """Where a cursor points: rows after `key`, before it, or up to it (itself included)."""

    direction: str
    key: tuple[Any, ...]


def cursor_encode(key: Sequence[Any], *, direction: str = AFTER) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    raw = json.dumps(values if direction == AFTER else [direction, *values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(raw: str, *, kinds: Sequence[type]) -> Position:
    """Where a cursor points, its key typed as `kinds` (datetime, int); 400 `invalid` if foreign."""
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(values, list):
            raise ValueError
        direction = AFTER
        if len(values) == len(kinds) + 1 and values[0] in (BEFORE, UP_TO):
            direction, values = values[0], values[1:]
        if len(values) != len(kinds):
            raise ValueError
        typed: list[Any] = []
        for kind, value in zip(kinds, values, strict=True):
            if kind is datetime:
                parsed = parse_datetime(value) if isinstance(value, str) else None
                if parsed is None or parsed.tzinfo is None:
                    raise ValueError
                typed.append(parsed.astimezone(UTC))
            elif kind is int and isinstance(value, int) and not isinstance(value, bool):
                # Beyond bigint PostgreSQL refuses the comparison.
                if not -(2**63) <= value < 2**63:
                    raise ValueError
                typed.append(value)
            else:
                raise ValueError
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({CURSOR: ["Not a cursor from this API."]}) from None
    return Position(direction=direction, key=tuple(typed))


def page_size(request: Request) -> int:
    raw = request.query_params.get("page_size")
    if raw is None or not raw.strip():
        return CURSOR_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise ValidationError({"page_size": ["A positive integer is required."]})
    return min(size, CURSOR_PAGE_SIZE_MAX)


def updated_after(request: Request) -> datetime | None:
    raw = request.query_params.get("updated_after")
    if raw is None or not raw.strip():
        return None
    message = {"updated_after": ["An ISO 8601 time with a time zone is required."]}
    try:
        parsed = parse_datetime(raw.strip())
        if parsed is None or parsed.tzinfo is None:
            raise ValidationError(message)
        # In UTC: PostgreSQL refuses offsets beyond 15:59 that ISO 8601 allows.
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationError(message) from None


def text_param(request: Request, name: str) -> str | None:
    """A text filter (None when absent or empty); 400 if it holds a NUL (PostgreSQL refuses it)."""
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        return None
    if "\x00" in raw:
        raise ValidationError({name: ["Null characters are not allowed."]})
    return raw


def cursor_requested(params: Mapping[str, Any]) -> bool:
    """Whether a query string asks a list that also has numbered pages for a cursor page."""
    return bool(
        params.get(CURSOR) or params.get("ordering") == "updated_at" or params.get("updated_after")
    )


def wants_cursor_page(request: Request) -> bool:
    """Whether a list that also has numbered pages should answer a cursor page."""
    return cursor_requested(request.query_params)


# fetch(position, limit) -> rows: after the position (or from the start when
# None) in ascending key order; before or up to it in descending order.
Fetch = Callable[[Position | None, int], list[Any]]


def cursor_page(
    request: Request,
    *,
    kinds: Sequence[type],
    fetch: Fetch,
    key_of: Callable[[Any], tuple[Any, ...]],
    render: Callable[[list[Any]], list[Any]],
) -> dict[str, Any]:
    """A cursor page `{next, previous, results}` of the rows `fetch` reads (see Fetch).

    `next` starts right after the page's last row (or where the page began
    when it is empty, so polling it finds later rows); `previous` ends right
    before its first row.
    """
    raw = request.query_params.get(CURSOR) or ""
    position = cursor_decode(raw, kinds=kinds) if raw.strip() else None
    size = page_size(request)
    following: Position | None
    preceding: Position | None
    if position is None or position.direction == AFTER:
        rows = fetch(position, size)
        if rows:
            following = Position(AFTER, key_of(rows[-1]))
            preceding = None if position is None else Position(BEFORE, key_of(rows[0]))
        else:
            following = position
            preceding = None if position is None else Position(UP_TO, position.key)
    else:
        rows = fetch(position, size + 1)
        more = len(rows) > size
        rows = rows[:size][::-1]
        # An empty page before a position: nothing is before it, `next` starts at the start.
        following = Position(AFTER, key_of(rows[-1])) if rows else None
        preceding = Position(BEFORE, key_of(rows[0])) if more else None
    return {
        "next": _link(request, following),
        "previous": None if preceding is None else _link(request, preceding),
        "results": render(rows),
    }


def _link(request: Request, position: Position | None) -> str:
    url = request.build_absolute_uri()
    if position is None:
        return remove_query_param(url, CURSOR)
    return replace_query_param(
        url, CURSOR, cursor_encode(position.key, direction=position.direction)
    )


def _beyond(fields: Sequence[str], key: Sequence[Any], *, direction: str) -> Q:
    """Rows whose `fields` tuple is after, before or up to `key`, compared as a tuple."""
    lookup = "gt" if direction == AFTER else "lt"
    clause = Q(**{f"{fields[-1]}__{lookup}": key[-1]})
    for field, value in zip(reversed(fields[:-1]), reversed(key[:-1]), strict=True):
        clause = Q(**{f"{field}__{lookup}": value}) | (Q(**{field: value}) & clause)
    if direction == UP_TO:
        clause |= Q(**dict(zip(fields, key, strict=True)))
    return clause


def queryset_fetch(queryset: QuerySet[Any], *, fields: Sequence[str]) -> Fetch:
    """A Fetch over `queryset` by the unique key `fields` (model attributes, `pk` allowed)."""

    def fetch(position: Position | None, limit: int) -> list[Any]:
        rows = queryset
        if position is not None:
            rows = rows.filter(_beyond(fields, position.key, direction=position.direction))
        if position is None or position.direction == AFTER:
            ordered = rows.order_by(*fields)
        else:
            ordered = rows.order_by(*(f"-{field}" for field in fields))
        return list(ordered[:limit])

    return fetch


def paginate_by_update(
    request: Request, queryset: QuerySet[Any], *, render: Callable[[list[Any]], list[Any]]
) -> dict[str, Any]:
    """A cursor page of `queryset` ordered by `(updated_at, id)`, after `updated_after` if given."""
    since = updated_after(request)
    if since is not None:
        queryset = queryset.filter(updated_at__gt=since)
    queryset = queryset.filter(updated_at__lt=settled_before())
    return cursor_page(
        request,
        kinds=(datetime, int),
        fetch=queryset_fetch(queryset, fields=("updated_at", "pk")),
        key_of=lambda row: (row.updated_at, row.pk),
        render=render,
    )


def settled_before() -> datetime:
    """A time before which no change can still appear: rows changed later wait for a later page.

    A row's `updated_at` is written inside its transaction, which may commit
    after another that wrote a later time: a reader already past that later
    time would never see the first change. So pages stop before the start of
    the oldest transaction still open on this database (minus
    CURSOR_SETTLE_SECONDS, for clocks and the instant between a time taken
    and its transaction's first statement): every change before that is
    committed or never will be. A long transaction holds readers back while
    it runs, never makes them skip.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT LEAST(statement_timestamp(), MIN(xact_start))"
            " - make_interval(secs => %s) FROM pg_stat_activity"
            " WHERE datname = current_database() AND backend_type = 'client backend'"
            " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL",
            [settings.CURSOR_SETTLE_SECONDS],
        )
        row = cursor.fetchone()
    assert row is not None
    settled: datetime = row[0]
    return settled


CURSOR_PARAMS = [
    OpenApiParameter(
        CURSOR,
        OpenApiTypes.STR,
        description="Opaque: the `cursor` of another page's `next` or `previous` link.",
        allow_blank=True,
    ),
    OpenApiParameter(
        "page_size",
        OpenApiTypes.INT,
        allow_blank=True,
        description=f"Results per page: default {CURSOR_PAGE_SIZE}, at most "
        f"{CURSOR_PAGE_SIZE_MAX} (a larger value is capped).",
    ),
]
UPDATED_AFTER = OpenApiParameter(
    "updated_after",
    # Blank is the same as absent (as every list filter): a date-time, or nothing.
    {"type": "string", "anyOf": [{"format": "date-time"}, {"maxLength": 0}]},
    description="Only rows changed after this time (ISO 8601); answers cursor pages.",
    allow_blank=True,
)


def cursor_page_serializer(name: str, item: type[serializers.Serializer]) -> Any:
    """The schema of a cursor page of `item`s (itself, never wrapped in a numbered page)."""
    from drf_spectacular.drainage import set_override
    from drf_spectacular.utils import inline_serializer

    page = inline_serializer(
        name=name,
        fields={
            "next": serializers.URLField(
                help_text="The next page; also the link to poll for newer rows."
            ),
            "previous": serializers.URLField(
                allow_null=True,
                help_text="The rows just before this page; null on a first page.",
            ),
            "results": item(many=True),
        },
    )
    set_override(page, "many", False)
    return page
