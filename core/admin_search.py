"""Change-list search that staff can predict and indexes can serve.

Django's default search ORs `icontains` over every search field: a
`LIKE '%…%'` per field, and through a relation a join plus `SELECT DISTINCT`.
An admin that calls `search_by_words` says instead what one word matches,
as conditions on the list's own table that an index serves (a trigram index
for fragments of emails, names and reasons; a `text_pattern_ops` btree for
the start of a SKU or an order number). A match in another table comes in as
`column = ANY(ARRAY(SELECT …))`: the subquery runs once, and the array is an
index condition, so PostgreSQL can OR all of a word's conditions in one
bitmap scan, or walk the list's ordering index when matches are common.
There is no join, so no DISTINCT. The words of a search are ANDed.
"""

from collections.abc import Callable
from typing import Any

from django.db.models import BooleanField, F, Func, Q, QuerySet, Subquery
from django.utils.text import smart_split, unescape_string_literal

# More words only narrow the list further; each one adds conditions.
MAX_WORDS = 6
# No email (254 characters), name, SKU or order number is longer.
MAX_WORD_LENGTH = 254


def search_words(term: str) -> list[str]:
    """The words of a search as Django's admin splits them: a quoted phrase is one word.

    At most MAX_WORDS words of at most MAX_WORD_LENGTH characters are kept.
    """
    words = []
    for bit in smart_split(term):
        if len(bit) > 1 and bit[0] in "\"'" and bit[-1] == bit[0]:
            bit = unescape_string_literal(bit)
        if bit.strip():
            words.append(bit.strip()[:MAX_WORD_LENGTH])
    return words[:MAX_WORDS]


class _InArray(Func):
    """`column = ANY(ARRAY(subquery))`: an index condition on `column`, where
    `column IN (subquery)` under an OR could only filter row by row."""

    arg_joiner = " = ANY(ARRAY"
    template = "%(expressions)s)"
    output_field = BooleanField()
    conditional = True


def in_array(column: str, subquery: QuerySet[Any, Any]) -> Q:
    """A condition: `column` is one of the values of `subquery` (a one-column `values()`)."""
    return Q(_InArray(F(column), Subquery(subquery.order_by())))


def search_by_words(
    queryset: QuerySet[Any], search_term: str, word_filter: Callable[[str], Q]
) -> tuple[QuerySet[Any], bool]:
    """What `ModelAdmin.get_search_results` returns: the rows every word matches.

    `word_filter(word)` gives the condition, on the list's own table, that
    one word matches; nothing is joined, so no DISTINCT is needed (the
    returned flag is False).
    """
    for word in search_words(search_term):
        queryset = queryset.filter(word_filter(word))
    return queryset, False


class WordSearch:
    """A ModelAdmin mixin: the change list's search is `search_by_words` with the
    admin's own `search_word(word) -> Q` (each word's condition, index-backed)."""

    def search_word(self, word: str) -> Q:
        raise NotImplementedError

    def get_search_results(
        self, request: Any, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        return search_by_words(queryset, search_term, self.search_word)
