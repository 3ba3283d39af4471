"""Security headers with production settings (a live gunicorn), CSP that the pages obey, CORS.

- HSTS (over https, as the proxy in front says with X-Forwarded-Proto),
  X-Content-Type-Options, Referrer-Policy on every response;
- the admin cannot be framed (X-Frame-Options DENY and frame-ancestors 'none');
- HTML pages carry a content security policy without 'unsafe-inline' scripts,
  and the admin and /api/docs/ have no inline script for it to block (and the
  docs render in a real browser under it, where Chromium is installed);
- CORS is closed unless CORS_ALLOWED_ORIGINS opens it, and then only for the API.
"""

import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.test import Client, override_settings
from django.urls import reverse

from tests.fuzz.live import LiveServer, call
from tests.orders.factories import order_place

HTTPS = {"X-Forwarded-Proto": "https", "Host": "127.0.0.1"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def _csp(headers: dict[str, str]) -> dict[str, list[str]]:
    policy = headers["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/api/v1/products/", "/admin/login/", "/api/docs/"])
def test_every_response_is_hardened_over_https(server: LiveServer, path):
    reply = call(server, path, headers=HTTPS)
    assert reply.status == 200, reply.body[:300]
    assert reply.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.slow
def test_the_admin_cannot_be_framed_and_runs_no_inline_script(server: LiveServer):
    reply = call(server, "/admin/login/", headers=HTTPS)
    assert reply.headers["X-Frame-Options"] == "DENY"
    csp = _csp(reply.headers)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert not INLINE_SCRIPT.search(reply.body.decode())


@pytest.mark.slow
def test_the_api_docs_load_their_script_from_a_url_under_the_policy(server: LiveServer):
    page = call(server, "/api/docs/", headers=HTTPS)
    assert page.status == 200
    assert "'unsafe-inline'" not in _csp(page.headers)["script-src"]
    html = page.body.decode()
    assert not INLINE_SCRIPT.search(html)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert len(scripts) == 3
    for src in scripts:
        reply = call(server, src.replace("&amp;", "&"), headers=HTTPS)
        assert reply.status == 200, src
        assert "javascript" in reply.headers["Content-Type"], src


@pytest.mark.slow
def test_the_api_docs_render_in_chromium_without_policy_violations(server: LiveServer):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
        )
        try:
            page = browser.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.goto(server.url("/api/docs/"))
            page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
            assert page.locator(".opblock").count() >= 40
        finally:
            browser.close()
    assert [m for m in console if "Content Security Policy" in m] == []


@pytest.mark.django_db
def test_no_admin_page_has_an_inline_script_or_handler(superuser):
    """Every changelist and add form, and an order's change page (the custom one)."""
    client = Client()
    client.force_login(superuser)
    order = order_place()
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        meta = model._meta
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    urls.append(reverse("admin:orders_order_change", args=[order.pk]))
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), url
        assert not INLINE_HANDLER.search(html), url
        assert "script-src 'self';" in response["Content-Security-Policy"], url


# --- CORS ---------------------------------------------------------------------

PREFLIGHT = {
    "HTTP_ORIGIN": "https://shop.example.com",
    "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization, content-type, idempotency-key",
}


@pytest.mark.django_db
def test_cors_is_closed_by_default(client):
    preflight = client.options("/api/v1/orders/", **PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers
    read = client.get("/api/v1/products/", HTTP_ORIGIN="https://shop.example.com")
    assert read.status_code == 200
    assert "access-control-allow-origin" not in read.headers


@pytest.mark.slow
def test_cors_is_closed_on_the_production_server(server: LiveServer):
    reply = call(
        server,
        "/api/v1/products/",
        method="OPTIONS",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in reply.headers


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=["https://shop.example.com"])
def test_cors_allow_list_opens_the_api_to_listed_origins_only(client):
    preflight = client.options("/api/v1/orders/", **PREFLIGHT)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example.com"
    allowed = preflight.headers["access-control-allow-headers"]
    assert "idempotency-key" in allowed
    assert "access-control-allow-credentials" not in preflight.headers

    read = client.get("/api/v1/products/", HTTP_ORIGIN="https://shop.example.com")
    assert read.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert "Retry-After" in read.headers["access-control-expose-headers"]

    other = client.get("/api/v1/products/", HTTP_ORIGIN="https://evil.example.com")
    assert "access-control-allow-origin" not in other.headers
    admin_page = client.get("/admin/login/", HTTP_ORIGIN="https://shop.example.com")
    assert "access-control-allow-origin" not in admin_page.headers
