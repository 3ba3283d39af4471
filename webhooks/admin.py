import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from core.admin_paginator import EstimatedCountPaginator
from core.admin_search import WordSearch, in_array, search_by_words
from webhooks import admin_replay, services
from webhooks.catalogue import EVENT_TYPE_RE
from webhooks.destinations import url_check
from webhooks.exceptions import EndpointInactive, EndpointUrlRefused
from webhooks.models import Delivery, DeliveryAttempt, Endpoint, Event


def _event_word(word: str, *, column: str = "pk") -> Q:
    """Events (through `column`, their id) whose id is `word` or whose type
    starts with it (the type's `varchar_pattern_ops` index serves the prefix)."""
    try:
        event_id = uuid.UUID(word)
    except ValueError:
        return in_array(column, Event.objects.filter(type__startswith=word.lower()).values("pk"))
    return Q(**{column: event_id})


class EndpointForm(forms.ModelForm):
    event_types_text = forms.CharField(
        label="Event types",
        help_text="Comma-separated, e.g. `order.paid, stock.changed`; `*` for every event.",
    )
    new_secret = forms.CharField(
        required=False,
        min_length=16,
        max_length=128,
        label="Secret",
        help_text="Leave empty to keep the current one (or, for a new endpoint, to generate one).",
        widget=forms.PasswordInput(render_value=False),
    )

    class Meta:
        model = Endpoint
        fields = ["url", "description", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["event_types_text"].initial = ", ".join(self.instance.event_types)

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            url_check(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES)
        except EndpointUrlRefused as exc:
            raise forms.ValidationError(exc.extra["errors"]["url"], code=exc.code) from None
        return url

    def clean_event_types_text(self) -> list[str]:
        types = [t.strip() for t in self.cleaned_data["event_types_text"].split(",") if t.strip()]
        bad = [t for t in types if t != "*" and not EVENT_TYPE_RE.match(t)]
        if bad or not types:
            raise forms.ValidationError(f"Not an event type: {', '.join(bad) or '(none)'}.")
        return types


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["url", "is_active", "event_types", "consecutive_failures", "disabled_reason"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    search_help_text = "Finds endpoints by a part of their URL or description."
    readonly_fields = [
        "disabled_reason",
        "disabled_at",
        "consecutive_failures",
        "created_at",
        "replay",
    ]
    fields = [
        "url",
        "event_types_text",
        "new_secret",
        "description",
        "is_active",
        "disabled_reason",
        "disabled_at",
        "consecutive_failures",
        "created_at",
        "replay",
    ]

    replay = admin_replay.replay_link
    get_urls = admin_replay.with_replay_url(admin.ModelAdmin.get_urls)
    replay_view = admin_replay.replay_view

    def save_model(self, request: HttpRequest, obj: Endpoint, form: Any, change: bool) -> None:
        data = form.cleaned_data
        fields = {
            "url": data["url"],
            "event_types": data["event_types_text"],
            "description": data["description"],
            "is_active": data["is_active"],
        }
        if change:
            if data["new_secret"]:
                fields["secret"] = data["new_secret"]
            services.endpoint_update(endpoint=obj, **fields)
            return
        endpoint = services.endpoint_create(secret=data["new_secret"], **fields)
        obj.pk = endpoint.pk
        obj.secret = endpoint.secret

    def response_add(
        self, request: HttpRequest, obj: Endpoint, post_url_continue: str | None = None
    ) -> HttpResponse:
        """A generated secret is shown once, in this response's page, never stored elsewhere.

        Not in a flash message: Django keeps those in the signed (not encrypted)
        `messages` cookie, readable by whoever sees the cookie.
        """
        if request.POST.get("new_secret"):
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Copy the signing secret",
            "endpoint": obj,
            "secret": obj.secret,
        }
        response = TemplateResponse(request, "admin/webhooks/endpoint/secret_created.html", context)
        add_never_cache_headers(response)
        return response


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "status_code", "duration_ms", "error", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(WordSearch, admin.ModelAdmin):
    """Read-only log of deliveries; the only write is the "redeliver" action."""

    paginator = EstimatedCountPaginator
    list_display = [
        "id",
        "event",
        "endpoint",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "endpoint"]
    list_select_related = ["event", "endpoint"]
    # Only columns an index sorts (tests/admin/test_indexes.py).
    sortable_by = ["id", "status", "created_at"]
    search_fields = ["event__id", "event__type"]  # see get_search_results
    search_help_text = (
        "Finds deliveries by their number, by their event's id (whole) or by the "
        "start of their event's type (order.paid)."
    )
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def search_word(self, word: str) -> Q:
        """The delivery numbered `word`, or the deliveries of the events it finds."""
        by_event = _event_word(word, column="event_id")
        if word.isascii() and word.isdigit() and len(word) < 19:
            return by_event | Q(pk=int(word))
        return by_event

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.change_delivery")

    @admin.action(description="Redeliver the selected deliveries", permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        queued = skipped = 0
        for delivery in queryset.order_by("pk"):
            try:
                services.delivery_redeliver(delivery=delivery)
                queued += 1
                self.log_change(request, delivery, "Redelivered")
            except EndpointInactive:
                skipped += 1
        if queued:
            self.message_user(request, f"{queued} deliveries queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} skipped: their endpoint is disabled (enable it first).",
                messages.WARNING,
            )


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    list_display = ["id", "type", "created_at", "dispatched_at"]
    list_filter = ["type"]
    sortable_by = ["id", "type", "created_at"]
    search_fields = ["id", "type"]  # see get_search_results
    search_help_text = (
        "Finds events by their id (whole) or by the start of their type (order.paid)."
    )
    readonly_fields = ["id", "type", "data", "created_at", "dispatched_at"]
    show_full_result_count = False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Event], search_term: str
    ) -> tuple[QuerySet[Event], bool]:
        return search_by_words(queryset, search_term, _event_word)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
