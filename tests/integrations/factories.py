"""Integrations with API keys, made through the services as staff make them."""

import itertools
from collections.abc import Callable
from datetime import datetime

from rest_framework.test import APIClient

from accounts.roles import roles_setup
from integrations import services
from integrations.models import Integration

_names = itertools.count()

MakeIntegration = Callable[..., tuple[Integration, str]]


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def integration_maker() -> MakeIntegration:
    """Set up the roles; return make(role, expires_at=None) -> (integration, a fresh key)."""
    roles_setup(warn=lambda message: None)

    def make(role: str, *, expires_at: datetime | None = None) -> tuple[Integration, str]:
        integration = services.integration_create(name=f"ERP {next(_names)}", role=role)
        created = services.api_key_create(integration=integration, expires_at=expires_at)
        return integration, created.key

    return make
