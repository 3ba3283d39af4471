"""Integrations in the back office: create, change role, deactivate; keys created and revoked.

A new key is shown once, on the page that the creation's POST answers (never
in a message, which would travel in a cookie, and never logged); that page
is not cached.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from accounts.roles import ROLES
from core.errors import FieldInvalid
from integrations import services
from integrations.models import ApiKey, Integration

ROLE_CHOICES = [(role.name, role.name) for role in ROLES]


class IntegrationForm(forms.ModelForm):
    role_name = forms.ChoiceField(label="Role", choices=ROLE_CHOICES)

    class Meta:
        model = Integration
        fields = ["name", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["role_name"].initial = self.instance.role.name

    def clean_role_name(self) -> str:
        name: str = self.cleaned_data["role_name"]
        try:
            services.role_group(name=name)
        except FieldInvalid as exc:
            raise forms.ValidationError(exc.extra["errors"]["role"]) from None
        return name


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ("prefix", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NewKeyForm(forms.Form):
    expires_at = forms.DateTimeField(
        required=False, help_text="Optional, UTC (YYYY-MM-DD HH:MM). Empty: never expires."
    )


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationForm
    list_display = ["name", "role", "is_active", "created_at"]
    list_filter = ["is_active", "role"]
    list_select_related = ["role"]
    search_fields = ["name"]
    readonly_fields = ["account", "new_key", "created_at"]
    inlines = [ApiKeyInline]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "role_name"]
        return ["name", "role_name", "is_active", "account", "new_key", "created_at"]

    @admin.display(description="Service account")
    def account(self, obj: Integration) -> str:
        return obj.user.email

    @admin.display(description="API keys")
    def new_key(self, obj: Integration) -> str:
        url = reverse("admin:integrations_integration_new_key", args=[obj.pk])
        return format_html('<a class="button" href="{}">Create an API key</a>', url)

    def save_model(self, request: HttpRequest, obj: Integration, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            services.integration_update(
                integration=obj,
                name=data["name"],
                role=data["role_name"],
                is_active=data["is_active"],
            )
        else:
            created = services.integration_create(name=data["name"], role=data["role_name"])
            obj.pk = created.pk
            obj.user = created.user
            obj.role = created.role

    def delete_model(self, request: HttpRequest, obj: Integration) -> None:
        services.integration_delete(integration=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for integration in queryset.order_by("pk"):
            services.integration_delete(integration=integration)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/new-key/",
                self.admin_site.admin_view(self.new_key_view),
                name="integrations_integration_new_key",
            ),
            *super().get_urls(),
        ]

    def new_key_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Create a key; the answer to the POST is the only page that ever shows it."""
        if not request.user.has_perm("integrations.change_integration"):
            raise PermissionDenied
        integration = get_object_or_404(Integration, pk=pk)
        form = NewKeyForm(request.POST if request.method == "POST" else None)
        key = None
        if request.method == "POST" and form.is_valid():
            try:
                created = services.api_key_create(
                    integration=integration, expires_at=form.cleaned_data["expires_at"]
                )
            except FieldInvalid:
                form.add_error("expires_at", "Must be in the future.")
            else:
                key = created.key
                self.log_change(request, integration, f"API key {created.api_key} created")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"New API key for {integration.name}",
            "integration": integration,
            "form": form,
            "key": key,
        }
        response = TemplateResponse(request, "admin/integrations/integration/new_key.html", context)
        add_never_cache_headers(response)
        return response


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are read-only here but for revocation; they are created from their integration."""

    list_display = [
        "__str__",
        "integration",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["integration"]
    list_select_related = ["integration"]
    search_fields = ["prefix", "integration__name"]
    fields = ["integration", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = [
        "integration",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.change_integration")

    @admin.action(description="Revoke the selected keys now", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = 0
        for key in queryset.filter(revoked_at__isnull=True).order_by("pk"):
            services.api_key_revoke(key=key)
            self.log_change(request, key, f"Revoked at {timezone.now():%Y-%m-%d %H:%M} UTC")
            count += 1
        self.message_user(request, f"{count} keys revoked.", messages.SUCCESS)
