"""Cursor pages for readers that copy a list incrementally: `{next, previous, results}`.

Rows are ordered by a unique key (`(updated_at, id)`, or an event's
`sequence`); a cursor holds the key of the last row a page returned, and the
next page starts strictly after it. So a row that changes between two pages
is never skipped: its key grows, and it is found again at its new place.
`next` is present on every page (an empty page too) so a reader can poll the
same link later; `previous` is always null: these pages only go forward.
"""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
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
from rest_framework.utils.urls import replace_query_param

from core import serializers

CURSOR_PAGE_SIZE = 100
CURSOR_PAGE_SIZE_MAX = 500
CURSOR = "cursor"


def cursor_encode(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(raw: str, *, kinds: Sequence[type]) -> list[Any]:
    """The values of a cursor, typed as `kinds` (datetime, int); 400 `invalid` if it is not ours."""
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        typed: list[Any] = []
        for kind, value in zip(kinds, values, strict=True):
            if kind is datetime:
                parsed = parse_datetime(value) if isinstance(value, str) else None
                if parsed is None or parsed.tzinfo is None:
                    raise ValueError
                typed.append(parsed.astimezone(UTC))
            elif kind is int and isinstance(value, int) and not isinstance(value, bool):
                typed.append(value)
            else:
                raise ValueError
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({CURSOR: ["Not a cursor from this API."]}) from None
    return typed


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


def wants_cursor_page(request: Request) -> bool:
    """Whether a list that also has numbered pages should answer a cursor page."""
    params = request.query_params
    return bool(
        params.get(CURSOR) or params.get("ordering") == "updated_at" or params.get("updated_after")
    )


def paginate_by_update(
    request: Request, queryset: QuerySet[Any], *, render: Callable[[list[Any]], list[Any]]
) -> dict[str, Any]:
    """A cursor page of `queryset` ordered by `(updated_at, id)`, after `updated_after` if given."""
    since = updated_after(request)
    if since is not None:
        queryset = queryset.filter(updated_at__gt=since)
    queryset = queryset.filter(updated_at__lt=settled_before())
    raw = request.query_params.get(CURSOR)
    if raw:
        at, pk = cursor_decode(raw, kinds=(datetime, int))
        queryset = queryset.filter(Q(updated_at__gt=at) | Q(updated_at=at, pk__gt=pk))
    size = page_size(request)
    rows = list(queryset.order_by("updated_at", "pk")[:size])
    if rows:
        last = rows[-1]
        cursor = cursor_encode([last.updated_at, last.pk])
    else:
        cursor = raw or ""
    return page_body(request, cursor=cursor, results=render(rows))


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


def page_body(request: Request, *, cursor: str, results: list[Any]) -> dict[str, Any]:
    url = request.build_absolute_uri()
    next_url = replace_query_param(url, CURSOR, cursor) if cursor else url
    return {"next": next_url, "previous": None, "results": results}


CURSOR_PARAMS = [
    OpenApiParameter(
        CURSOR,
        OpenApiTypes.STR,
        description="Opaque: the `cursor` of a previous page's `next`.",
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
    OpenApiTypes.DATETIME,
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
            "previous": serializers.URLField(allow_null=True, help_text="Always null."),
            "results": item(many=True),
        },
    )
    set_override(page, "many", False)
    return page
