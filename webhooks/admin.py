from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin_paginator import EstimatedCountPaginator
from webhooks import admin_replay, services
from webhooks.api.serializers import EVENT_TYPE_RE
from webhooks.exceptions import EndpointInactive
from webhooks.models import Delivery, DeliveryAttempt, Endpoint, Event


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
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Only http and https URLs can receive webhooks.")
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
        if not data["new_secret"]:
            messages.warning(
                request,
                f"The endpoint's signing secret is {endpoint.secret} . Copy it now: "
                "it is not shown again.",
            )


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "status_code", "duration_ms", "error", "response_body", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
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
    search_fields = ["event__id", "event__type"]
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
    search_fields = ["id", "type"]
    readonly_fields = ["id", "type", "data", "created_at", "dispatched_at"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
