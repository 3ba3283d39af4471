"""A change-list date hierarchy that never reads a whole big table.

Django's `date_hierarchy` lists the years (then months, then days) that hold
rows with `SELECT DISTINCT date_trunc(...)` over every matching row: on the
orders list that is the whole table on each unfiltered page view. This one
renders the same links from a bounded read: the first and last date (two
index endpoints), then one probe per candidate period, each stopping at its
first row, in a single UNION ALL. At most a few dozen periods are probed (the
years of the data, 12 months, up to 31 days), whatever the row count.

Use it on a ModelAdmin with `date_hierarchy` on a DateTimeField (USE_TZ) and a
change_list.html that calls `{% bounded_date_hierarchy cl %}` (core/templatetags).
"""

from datetime import datetime, timedelta
from typing import Any, cast

from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.contrib.admin.views.main import ChangeList
from django.db.models import Max, Min, QuerySet, Value
from django.utils import timezone


def _period_start(moment: datetime, kind: str) -> datetime:
    if kind == "year":
        return datetime(moment.year, 1, 1)
    if kind == "month":
        return datetime(moment.year, moment.month, 1)
    return datetime(moment.year, moment.month, moment.day)


def _next_period(start: datetime, kind: str) -> datetime:
    if kind == "year":
        return start.replace(year=start.year + 1)
    if kind == "month":
        return (start + timedelta(days=32)).replace(day=1)
    return start + timedelta(days=1)


def periods_with_rows(queryset: QuerySet[Any], field_name: str, kind: str) -> list[datetime]:
    """Starts (aware, current time zone) of the `kind` periods in which `queryset` has a
    row: what `queryset.datetimes(field_name, kind)` returns, in at most two queries."""
    bounds = queryset.aggregate(first=Min(field_name), last=Max(field_name))
    if bounds["first"] is None:
        return []
    first, last = (timezone.localtime(bounds[end]) for end in ("first", "last"))
    starts = [_period_start(first, kind)]
    while (following := _next_period(starts[-1], kind)) <= last.replace(tzinfo=None):
        starts.append(following)
    probes = [
        queryset.order_by()
        .filter(
            **{
                f"{field_name}__gte": timezone.make_aware(start),
                f"{field_name}__lt": timezone.make_aware(_next_period(start, kind)),
            }
        )
        .annotate(period=Value(index))
        .values_list("period", flat=True)[:1]
        for index, start in enumerate(starts)
    ]
    if len(probes) > 1:  # the union takes the model's ordering back: clear it again
        found = set(probes[0].union(*probes[1:], all=True).order_by())
    else:
        found = set(probes[0])
    return [timezone.make_aware(start) for index, start in enumerate(starts) if index in found]


class _BoundedQuerySet:
    """The change list's queryset, but `datetimes` bounded (the only call that scans)."""

    def __init__(self, queryset: QuerySet[Any]) -> None:
        self._queryset = queryset

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._queryset.aggregate(*args, **kwargs)

    def datetimes(self, field_name: str, kind: str) -> list[datetime]:
        return periods_with_rows(self._queryset, field_name, kind)


class _BoundedChangeList:
    def __init__(self, cl: ChangeList) -> None:
        self._cl = cl
        self.queryset = _BoundedQuerySet(cl.queryset)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cl, name)


def bounded_date_hierarchy(cl: ChangeList) -> dict[str, Any]:
    """The context of Django's `admin/date_hierarchy.html`, from bounded queries.

    None while searching: the matches of a search are few and anywhere in
    time, so the first and last date (and each period's probe) would walk the
    date index past every row that does not match, the whole table for a rare
    match. The search keeps a period already chosen (its filter stays in the URL).
    """
    if cl.query:
        return {}
    return date_hierarchy(cast(ChangeList, _BoundedChangeList(cl))) or {}
