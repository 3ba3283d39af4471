"""The product list and a product's page, as answers (dicts), from catalog.listing.sql."""

from collections.abc import Callable
from typing import Any

from catalog.listing import sql
from catalog.listing.declaration import (
    HISTOGRAM_FILTERS,
    SEARCH_COUNT_MAX,
    ProductFilters,
    product_item,
    variant_item,
)
from catalog.listing.memo import Memo

# The price histogram costs a scan of the published catalog per generation and
# process. While writes bump the generation more often than price ranges are
# listed (a rush of orders takes stock all the time), counting each range
# directly is cheaper: the histogram is built only at the HISTOGRAM_AFTER-th
# price-range count of a generation.
HISTOGRAM_AFTER = 4
# A tier of a broad search holding at least this many of its sampled matches
# (sql.TIER_SAMPLE) is read in primary-key order (ProductListing._reads).
WALK_SAMPLE_MIN = 10


class ProductListing:
    """The products matching one request's filters: a page of rows, and their count.

    The category subtree is resolved once for both queries. `memo`: where to
    keep what answers of the same catalog generation share (the subtree, the
    count, which depends on the filters only: not the page, not the
    ordering); without one (staff, the cache down) everything is computed.

    A search is full text first: typo matching joins in only when full text
    finds fewer matches than `page_size`, the page the caller shows. Its
    count is bounded: up to SEARCH_COUNT_MAX matches exactly; past that
    `count()` is SEARCH_COUNT_MAX, `count_exact()` false, and no row past
    it is served.
    """

    def __init__(
        self, *, filters: ProductFilters, staff: bool, page_size: int, memo: Memo | None = None
    ) -> None:
        self.filters = filters
        self.staff = staff
        self.page_size = page_size
        self.memo = memo
        self.term = (filters.get("search") or "").strip()
        self._categories: list[int] | None = None
        self._sampled: tuple[int, tuple[int, ...]] | None = None

    def _memoized[T](self, scope: str, compute: Callable[[], T]) -> T:
        """`compute()`, kept per generation under `scope` and the filters (the page aside)."""
        if self.memo is None:
            return compute()
        parts = sorted(
            (name, str(value))
            for name, value in self.filters.items()
            if name != "ordering" and value is not None and value != ""
        )
        return self.memo.get(scope=scope, parts=repr((self.staff, parts)), compute=compute)

    def _category_ids(self) -> list[int] | None:
        slug = self.filters.get("category")
        if not slug:
            return None
        if self._categories is None:
            if self.memo is None:
                self._categories = sql.category_ids(slug)
            else:
                self._categories = self.memo.get(
                    scope="subtree", parts=slug, compute=lambda: sql.category_ids(slug)
                )
        return self._categories

    def _sample(self) -> tuple[int, tuple[int, ...]]:
        """The search's matches up to SEARCH_COUNT_MAX + 1; the tiers of the first sampled."""

        def compute() -> tuple[int, tuple[int, ...]]:
            return sql.search_sample(
                filters=self.filters,
                staff=self.staff,
                categories=self._category_ids(),
                page_size=self.page_size,
                limit=SEARCH_COUNT_MAX + 1,
            )

        if self._sampled is None:
            # Whether typos match depends on the page size: part of the key.
            self._sampled = self._memoized(f"search-sample:{self.page_size}", compute)
        return self._sampled

    def _reads(self) -> tuple[str, ...]:
        """How the page reads each tier (sql.product_rows), from the sample's tiers.

        A tier none of the sampled matches fall in is skipped when the sample
        saw every match (it is empty), or when the search matches more than it
        counts (it holds almost none of them). Then, a tier that holds many of
        the sampled matches is dense enough for its newest rows to fill the
        page soon: it is walked in primary-key order. Any other tier is read
        through the index: it has few matches, or the search has (at most
        SEARCH_COUNT_MAX). The exact SKU's tier is always read.
        """
        total, tiers = self._sample()
        broad = total > SEARCH_COUNT_MAX
        reads = [sql.INDEX]
        for seen in tiers[1:]:
            if seen == 0 and (broad or total <= sql.TIER_SAMPLE):
                reads.append(sql.SKIP)
            elif broad and seen >= WALK_SAMPLE_MIN:
                reads.append(sql.WALK)
            else:
                reads.append(sql.INDEX)
        return tuple(reads)

    def rows(self, limit: int, offset: int) -> list[dict[str, Any]]:
        """Rows for `product_item`: field name -> database value.

        A search is counted first (its bounded sample): past its matches there
        is no row to read, and how it reads its page depends on their number.
        """
        reads: tuple[str, ...] = ()
        few = False
        if self.term:
            # A search serves its first SEARCH_COUNT_MAX matches only.
            limit = min(limit, max(0, SEARCH_COUNT_MAX - offset))
            if offset >= self._search_total():
                limit = 0
            if limit == 0:
                return []
            reads = self._reads()
            few = self._search_total() <= SEARCH_COUNT_MAX
        return sql.product_rows(
            filters=self.filters,
            staff=self.staff,
            categories=self._category_ids(),
            limit=limit,
            offset=offset,
            page_size=self.page_size,
            reads=reads,
            few=few,
        )

    def items(self, limit: int, offset: int) -> list[dict[str, Any]]:
        """A page of answers (`product_item` of each row)."""
        return [product_item(row, staff=self.staff) for row in self.rows(limit, offset)]

    def _search_total(self) -> int:
        """The search's matches, up to SEARCH_COUNT_MAX + 1."""
        return self._sample()[0]

    def _count(self) -> int:
        memo = self.memo
        if (
            memo is not None
            and self._by_price_only()
            and memo.tick(scope="price-range") >= (HISTOGRAM_AFTER)
        ):
            # A price range (a slider: any bounds) counts up to the whole catalog;
            # the histogram of lowest prices, kept per generation, answers them all.
            histogram = memo.get(scope="prices", parts="", compute=sql.price_histogram)
            if histogram is not None:
                return sql.histogram_count(histogram, self.filters)
        return sql.product_count(
            filters=self.filters, staff=self.staff, categories=self._category_ids()
        )

    def _by_price_only(self) -> bool:
        """Public, filtered by price (and maybe stock) and nothing else."""
        used = {name for name, value in self.filters.items() if value not in (None, "")}
        return (
            not self.staff
            and bool(used & {"min_price", "max_price"})
            and used <= {*HISTOGRAM_FILTERS, "ordering"}
        )

    def count(self) -> int:
        """How many products match; a search's count stops at SEARCH_COUNT_MAX."""
        if self.term:
            return min(self._search_total(), SEARCH_COUNT_MAX)
        return self._memoized("count", self._count)

    def count_exact(self) -> bool:
        """False when a search matches more than SEARCH_COUNT_MAX products (`count` is capped)."""
        return not self.term or self._search_total() <= SEARCH_COUNT_MAX


def product_detail(*, slug: str, staff: bool) -> dict[str, Any] | None:
    """The product page as a dict, or None when missing (or unpublished for the public).

    One query: the product joined to its variants.
    """
    row = sql.product_detail_row(slug=slug, staff=staff)
    if row is None:
        return None
    row["variants"] = [variant_item(variant) for variant in row["variants"]]
    return product_item(row, staff=staff, detail=True)
