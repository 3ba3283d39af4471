from rest_framework import status

from core.errors import DomainError


class InsufficientStock(DomainError):
    """Raised with `shortages=[{"sku", "requested", "available"}]`; nothing was taken."""

    status_code = status.HTTP_409_CONFLICT
    code = "insufficient_stock"
    detail = "Not enough stock."


class CatalogInvalid(DomainError):
    """Input that only the database can judge (a taken slug or SKU, a cycle in the tree).

    Rendered like a validation error: 400 `invalid` with `errors={field: [...]}`.
    """

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    detail = "Invalid input."

    def __init__(self, *, field: str, message: str) -> None:
        super().__init__(errors={field: [message]})


class VariantOfAnotherProduct(DomainError):
    """An upsert names an existing SKU under another product; nothing was written.

    `conflicts=[(sku, slug of the product it belongs to)]`, one per such SKU.
    """

    code = "variant_of_another_product"
    detail = "A SKU belongs to another product."
