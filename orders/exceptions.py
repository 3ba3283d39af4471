"""Domain errors of orders; core.errors maps them to `{code, detail, ...}`."""

from rest_framework import status

from core.errors import DomainError


class InvalidTransition(DomainError):
    """The order's status does not allow this action now."""

    status_code = status.HTTP_409_CONFLICT
    code = "invalid_transition"
    detail = "This action is not allowed in the order's current status."


class TransitionForbidden(DomainError):
    """The caller may never take this action on this order (whatever its status)."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"
    detail = "You do not have permission to perform this action."


class InvalidSignature(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid_signature"
    detail = "The Payment-Signature header is missing, malformed, stale or wrong."


class OverFulfilment(DomainError):
    """More units to ship than remain; raised with `errors={"lines.N.quantity": [...]}`."""

    status_code = status.HTTP_409_CONFLICT
    code = "over_fulfilment"
    detail = "More than remains to be shipped."


class OverReturn(DomainError):
    """More units to return than shipped, counting returns still open."""

    status_code = status.HTTP_409_CONFLICT
    code = "over_return"
    detail = "More than was shipped and not already being returned."


class ReturnWindowClosed(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "return_window_closed"
    detail = "The return window for this order has closed."


class OverRefund(DomainError):
    """More than was paid minus pending and succeeded refunds (or a line's quantity)."""

    status_code = status.HTTP_409_CONFLICT
    code = "over_refund"
    detail = "More than remains to be refunded."
