from rest_framework import status

from core.errors import DomainError


class EndpointInactive(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "endpoint_inactive"
    detail = "The endpoint is disabled: enable it before redelivering."


class EndpointUrlRefused(DomainError):
    """A webhook URL that deliveries would refuse; `code` says why, `errors.url` how."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "url_invalid"
    detail = "This URL cannot receive webhooks."

    def __init__(self, *, code: str, message: str) -> None:
        self.code = code
        super().__init__(errors={"url": [message]})
