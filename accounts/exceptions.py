"""Domain errors of accounts; core.errors maps them to `{code, detail, ...}`."""

from rest_framework import status

from core.errors import DomainError, FieldInvalid


class InvalidCredentials(DomainError):
    """The same answer for an unknown email, a wrong password and an erased account."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid_credentials"
    detail = "Unable to log in with the provided credentials."


class LoginLocked(DomainError):
    """Too many failed log-ins for this email or client address.

    `retry_after` (seconds) tells when the cool-off ends; the view turns it into
    DRF's Throttled so the response carries `Retry-After`.
    """

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "throttled"
    detail = "Too many failed log-in attempts. Try again later."

    def __init__(self, *, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


class WrongPassword(FieldInvalid):
    """The password given to confirm a sensitive action is wrong."""

    def __init__(self, *, field: str) -> None:
        super().__init__(field=field, message="The password is not correct.")


class EmailTaken(FieldInvalid):
    def __init__(self) -> None:
        super().__init__(field="email", message="A user with this email already exists.")


class InvalidResetToken(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid_token"
    detail = "The password reset link is invalid, used or expired."


class AddressLimitReached(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "address_limit_reached"
    detail = "You have reached the maximum number of saved addresses."

    def __init__(self, *, limit: int) -> None:
        super().__init__(f"You can keep at most {limit} addresses; delete one first.", limit=limit)
