"""Integrations with API keys, as staff create them (the services), and clients using them."""

from collections.abc import Callable
from datetime import datetime

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.roles import roles_setup
from integrations import services
from integrations.models import Integration


@pytest.fixture
def roles(db) -> dict[str, Group]:
    roles_setup(warn=lambda message: None)
    return {group.name: group for group in Group.objects.all()}


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def make_integration(roles) -> Callable[..., tuple[Integration, str]]:
    """make_integration("Catalog manager") -> (integration, a fresh API key of it)."""
    counter = iter(range(1_000_000))

    def make(role: str, *, expires_at: datetime | None = None) -> tuple[Integration, str]:
        integration = services.integration_create(name=f"ERP {next(counter)}", role=role)
        created = services.api_key_create(integration=integration, expires_at=expires_at)
        return integration, created.key

    return make
