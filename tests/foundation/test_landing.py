"""The page a new user lands on: `/` (what `make run` prints, the admin's "View site")."""

import pytest
from django.test import Client


@pytest.mark.django_db
def test_root_serves_a_landing_page_with_links_to_admin_docs_and_schema(client: Client):
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    for href in ('href="/admin/"', 'href="/api/docs/"', 'href="/api/schema/"'):
        assert href in body
    assert "Stockroom" in body
    assert 'rel="icon"' in body


@pytest.mark.django_db
def test_landing_links_all_answer(client: Client, admin_client: Client):
    for url in ("/api/docs/", "/api/schema/", "/api/v1/products/"):
        assert client.get(url).status_code == 200, url
    assert admin_client.get("/admin/").status_code == 200


def test_landing_refuses_writes(client: Client):
    assert client.post("/").status_code == 405


@pytest.mark.django_db
def test_favicon_redirects_to_the_icon_and_the_admin_links_it(client: Client, admin_client: Client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("site/favicon.svg")
    assert "site/favicon.svg" in admin_client.get("/admin/").content.decode()
