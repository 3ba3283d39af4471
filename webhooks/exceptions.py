from rest_framework import status

from config.errors import DomainError


class EndpointInactive(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "endpoint_inactive"
    detail = "The endpoint is disabled: enable it before redelivering."
