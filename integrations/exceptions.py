from rest_framework import status

from core.errors import DomainError


class IntegrationInvalid(DomainError):
    """Input only the service can judge (a taken name, an unknown role): 400 keyed by field."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    detail = "Invalid input."

    def __init__(self, *, field: str, message: str) -> None:
        super().__init__(errors={field: [message]})
