"""The product list and a product's page, as answers (dicts), from catalog.listing.sql."""

from typing import Any

from catalog.listing import sql
from catalog.listing.declaration import (
    HISTOGRAM_FILTERS,
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


class ProductListing:
    """The products matching one request's filters: a page of rows, and their count.

    The category subtree is resolved once for both queries. `memo`: where to
    keep what answers of the same catalog generation share (the subtree, the
    count, which depends on the filters only: not the page, not the
    ordering); without one (staff, the cache down) everything is computed.
    """

    def __init__(self, *, filters: ProductFilters, staff: bool, memo: Memo | None = None) -> None:
        self.filters = filters
        self.staff = staff
        self.memo = memo
        self._categories: list[int] | None = None
        self._total: int | None = None

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

    def rows(self, limit: int, offset: int) -> list[dict[str, Any]]:
        """Rows for `product_item`: field name -> database value."""
        rows, self._total = sql.product_rows(
            filters=self.filters,
            staff=self.staff,
            categories=self._category_ids(),
            limit=limit,
            offset=offset,
        )
        return rows

    def items(self, limit: int, offset: int) -> list[dict[str, Any]]:
        """A page of answers (`product_item` of each row)."""
        return [product_item(row, staff=self.staff) for row in self.rows(limit, offset)]

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
        if self._total is not None:  # counted with the page (a search)
            return self._total
        if self.memo is None:
            return self._count()
        parts = sorted(
            (name, str(value))
            for name, value in self.filters.items()
            if name != "ordering" and value is not None and value != ""
        )
        return self.memo.get(scope="count", parts=repr((self.staff, parts)), compute=self._count)


def product_detail(*, slug: str, staff: bool) -> dict[str, Any] | None:
    """The product page as a dict, or None when missing (or unpublished for the public).

    One query: the product joined to its variants.
    """
    row = sql.product_detail_row(slug=slug, staff=staff)
    if row is None:
        return None
    row["variants"] = [variant_item(variant) for variant in row["variants"]]
    return product_item(row, staff=staff, detail=True)
