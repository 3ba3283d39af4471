"""Domain errors of pricing; core.errors maps them to `{code, detail, ...}`."""

from rest_framework import status

from core.errors import DomainError

VOUCHER_REASONS = (
    "unknown",
    "expired",
    "not_started",
    "exhausted",
    "minimum_not_met",
    "not_applicable",
    "customer_limit",
)


class VoucherInvalid(DomainError):
    """The voucher code does not apply to this order; `reason` says why (VOUCHER_REASONS)."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "voucher_invalid"
    detail = "The voucher does not apply to this order."

    def __init__(self, reason: str) -> None:
        super().__init__(
            reason=reason, errors={"voucher_code": [f"The voucher does not apply ({reason})."]}
        )


class PriceChanged(DomainError):
    """The order's total is not the `expected_total` the client showed; `quote` is the new one."""

    status_code = status.HTTP_409_CONFLICT
    code = "price_changed"
    detail = "The order's total has changed since the quote; nothing was taken."
