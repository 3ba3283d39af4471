"""The page at `/`: what Stockroom is, and where staff and developers go from here."""

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_safe


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "site/landing.html",
        {
            "admin_url": reverse("admin:index"),
            "docs_url": reverse("docs"),
            "schema_url": reverse("schema"),
            "api_url": "/api/v1/",
        },
    )


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says: send them to the icon."""
    return HttpResponsePermanentRedirect(static("site/favicon.svg"))
