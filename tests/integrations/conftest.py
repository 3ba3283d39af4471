import pytest
from django.contrib.auth.models import Group

from tests.integrations.factories import MakeIntegration, integration_maker, key_client

__all__ = ["key_client"]


@pytest.fixture
def make_integration(db) -> MakeIntegration:
    """make_integration("Catalog manager") -> (integration, a fresh API key of it)."""
    return integration_maker()


@pytest.fixture
def roles(make_integration) -> dict[str, Group]:
    return {group.name: group for group in Group.objects.all()}


@pytest.fixture(autouse=True)
def _no_settle_margin(settings):
    """Cursor pages here need no margin for clocks: one clock, changes in hand."""
    settings.CURSOR_SETTLE_SECONDS = 0
