"""The back office's replay: every event since a time sent again to one endpoint."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from webhooks.exceptions import EndpointInactive
from webhooks.feed import endpoint_replay
from webhooks.models import Endpoint


class ReplayForm(forms.Form):
    since = forms.DateTimeField(help_text="UTC (YYYY-MM-DD HH:MM): every kept event since then.")


def replay_link(self: Any, obj: Endpoint) -> str:
    if obj.pk is None:
        return ""
    url = reverse("admin:webhooks_endpoint_replay", args=[obj.pk])
    return format_html('<a class="button" href="{}">Replay events since…</a>', url)


replay_link.short_description = "Replay"  # type: ignore[attr-defined]


def with_replay_url(
    get_urls: Callable[[Any], list[URLPattern]],
) -> Callable[[Any], list[URLPattern]]:
    def urls(self: Any) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/replay/",
                self.admin_site.admin_view(self.replay_view),
                name="webhooks_endpoint_replay",
            ),
            *get_urls(self),
        ]

    return urls


def replay_view(self: Any, request: HttpRequest, pk: int) -> HttpResponse:
    """A form that calls endpoint_replay, as POST webhooks/{id}/replay/ does."""
    if not request.user.has_perm("webhooks.change_endpoint"):
        raise PermissionDenied
    endpoint = get_object_or_404(Endpoint, pk=pk)
    form = ReplayForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            replay = endpoint_replay(endpoint=endpoint, since=form.cleaned_data["since"])
        except EndpointInactive:
            form.add_error(None, "The endpoint is disabled: enable it first.")
        else:
            self.log_change(request, endpoint, f"Replayed {replay.events} events")
            self.message_user(request, f"{replay.events} events queued again.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:webhooks_endpoint_change", args=[pk]))
    context = {
        **self.admin_site.each_context(request),
        "opts": Endpoint._meta,
        "title": f"Replay events to {endpoint.url}",
        "endpoint": endpoint,
        "form": form,
    }
    return TemplateResponse(request, "admin/webhooks/endpoint/replay.html", context)
