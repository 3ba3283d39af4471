"""The browsable API (served with DJANGO_DEBUG=true, as `make run` does) never answers 5xx.

A browser sends `Accept: text/html`; DRF's browsable renderer then builds forms from
each view's serializer. Every GET of the schema is called so, for every caller:
anonymous, a customer with a token, staff with a token, and staff with the admin
session (how a logged-in back-office user reaches it).
"""

from typing import Any

import pytest
from django.test import Client
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.views import APIView

from tests.security.conftest import World, operations, path_for


@pytest.fixture
def browsable(monkeypatch):
    """The renderers of a debug server: settings pick them once, when the views are imported."""
    monkeypatch.setattr(APIView, "renderer_classes", [JSONRenderer, BrowsableAPIRenderer])


def _gets(openapi: dict[str, Any]) -> list[str]:
    return [path for method, path in operations(openapi) if method == "GET"]


@pytest.mark.django_db
def test_every_get_renders_as_html_for_every_caller(browsable, world: World, openapi):
    session = Client()
    session.force_login(world.staff.user)
    callers = {
        "anonymous": (world.anonymous, world.alice),
        "customer": (world.alice.client, world.alice),
        "staff token": (world.staff.client, world.staff),
        "staff session": (session, world.staff),
    }
    seen = 0
    for name, (client, owner) in callers.items():
        for path in _gets(openapi):
            url = path_for(path, owner=owner, world=world)
            response = client.get(url, HTTP_ACCEPT="text/html")
            assert response.status_code < 500, (name, url, response.status_code)
            if response.status_code == 200:
                assert response["Content-Type"].startswith("text/html"), (name, url)
                seen += 1
    # Each caller reached at least its own pages as HTML (not only 401/403/404).
    assert seen >= len(_gets(openapi))
