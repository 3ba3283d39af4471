from rest_framework import status

from core.errors import DomainError


class InsufficientStock(DomainError):
    """Raised with `shortages=[{"sku", "requested", "available"}]`; nothing was taken."""

    status_code = status.HTTP_409_CONFLICT
    code = "insufficient_stock"
    detail = "Not enough stock."


class VariantOfAnotherProduct(DomainError):
    """An upsert names an existing SKU under another product; nothing was written.

    `conflicts=[(sku, slug of the product it belongs to)]`, one per such SKU.
    """

    code = "variant_of_another_product"
    detail = "A SKU belongs to another product."
