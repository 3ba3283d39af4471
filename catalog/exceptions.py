from rest_framework import status

from config.errors import DomainError


class InsufficientStock(DomainError):
    """Raised with `shortages=[{"sku", "requested", "available"}]`; nothing was taken."""

    status_code = status.HTTP_409_CONFLICT
    code = "insufficient_stock"
    detail = "Not enough stock."
