"""Change-list search that staff can predict and indexes can serve.

Django's default search ORs `icontains` over every search field: a
`LIKE '%…%'` per field, and through a relation a join plus `SELECT DISTINCT`.
An admin that calls `search_by_words` says instead what one word matches,
as a query of primary keys that an index serves (a trigram index for fragments of
emails, names and reasons; a `text_pattern_ops` btree for the start of a SKU
or an order number). The words of a search are ANDed, each one a
`pk IN (…)` filter on the list's own table: no join, so no DISTINCT.
"""

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.utils.text import smart_split, unescape_string_literal

# More words only narrow the list further; each one costs a subquery.
MAX_WORDS = 6


def search_words(term: str) -> list[str]:
    """The words of a search as Django's admin splits them: a quoted phrase is one word."""
    words = []
    for bit in smart_split(term):
        if len(bit) > 1 and bit[0] in "\"'" and bit[-1] == bit[0]:
            bit = unescape_string_literal(bit)
        if bit.strip():
            words.append(bit.strip())
    return words[:MAX_WORDS]


def pks_union(first: QuerySet[Any, Any], *rest: QuerySet[Any, Any]) -> QuerySet[Any, Any]:
    """One query of the keys any of `first`, `*rest` selects (each a one-column `values()`).

    A UNION rather than an OR of `IN (subquery)` conditions: PostgreSQL can
    serve each branch from its own index, where an OR of subqueries makes it
    test every row of the table.
    """
    return first.order_by().union(*(queryset.order_by() for queryset in rest))


def search_by_words(
    queryset: QuerySet[Any], search_term: str, word_pks: Callable[[str], QuerySet[Any, Any]]
) -> tuple[QuerySet[Any], bool]:
    """What `ModelAdmin.get_search_results` returns: the rows every word matches.

    `word_pks(word)` is a one-column query of the primary keys of the rows
    that one word matches; it becomes a `pk IN (…)` filter on the list's own
    table, so no DISTINCT is needed (the returned flag is False).
    """
    for word in search_words(search_term):
        queryset = queryset.filter(pk__in=word_pks(word))
    return queryset, False
