"""The back office for people: users, their addresses and tokens, failed log-ins.

Actions call the same services as the API.
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from knox.models import AuthToken

from accounts import services
from accounts.forms import UserChangeForm, UserCreationForm
from accounts.models import Address, ApiToken, LoginFailure, User
from core.admin_paginator import EstimatedCountPaginator


class AddressInline(admin.StackedInline):
    model = Address
    extra = 0
    fields = [("full_name", "phone"), "line1", "line2", ("postal_code", "city", "country")]


class AuthTokenInline(admin.TabularInline):
    """The user's tokens: when made and until when valid; deleting one revokes it."""

    model = ApiToken
    extra = 0
    fields = ["created", "expiry"]
    readonly_fields = ["created", "expiry"]
    can_delete = True
    verbose_name = "API token"
    verbose_name_plural = "API tokens (tick Delete to revoke)"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # tokens come from log-in, where the raw key is shown once

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    paginator = EstimatedCountPaginator
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ["-date_joined"]
    list_display = [
        "email",
        "first_name",
        "last_name",
        "is_staff",
        "is_active",
        "date_joined",
        "last_login",
    ]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups", "date_joined"]
    # Django's search (`icontains`, words ANDed), served by user_search_trgm_idx.
    search_fields = ["email", "first_name", "last_name"]
    search_help_text = (
        "Finds people by a part of their email or of their first or last name, in any case. "
        "Several words: people matching all of them."
    )
    show_full_result_count = False
    # Only columns an index sorts (tests/admin/test_indexes.py).
    sortable_by = ["email", "date_joined"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "phone")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    readonly_fields = ["last_login", "date_joined"]
    inlines = [AddressInline, AuthTokenInline]
    actions = ["revoke_tokens", "erase_personal_data"]

    # Whoever may change these may make anyone, themselves included, all-powerful.
    superuser_only_fields = ("is_superuser", "groups", "user_permissions")

    def get_inlines(self, request: HttpRequest, obj: User | None) -> Any:
        return [] if obj is None else super().get_inlines(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """Rights are granted by superusers only: for other staff the fields are shown, and
        left out of the form, so a posted value is ignored."""
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += self.superuser_only_fields
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """A superuser's account (email, password, status) is changed by superusers only:
        whoever takes it over has every right."""
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description="Revoke all API tokens of the selected users", permissions=["change"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        count = 0
        for user in queryset.order_by("pk"):
            revoked = services.tokens_revoke_all(user=user)
            self.log_change(request, user, f"Revoked {revoked} API token(s)")
            count += revoked
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)

    @admin.action(
        description="Erase personal data of the selected users (cannot be undone)",
        permissions=["change"],
    )
    def erase_personal_data(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        erased = 0
        for user in queryset.order_by("pk"):
            if user.is_superuser or user.pk == request.user.pk:
                self.message_user(
                    request, f"{user} skipped: erase staff by hand.", messages.WARNING
                )
                continue
            services.user_erase(user=user)
            user.refresh_from_db(fields=["email"])  # the log keeps the placeholder only
            self.log_change(request, user, "Personal data erased")
            erased += 1
        self.message_user(request, f"{erased} user(s) erased.", messages.SUCCESS)


# knox's own admin lists token digests; this one (on a proxy) never shows them.
if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "created", "expiry"]
    list_display_links = None  # a token's page would carry its digest in the URL
    list_select_related = ["user"]
    search_fields = ["user__email"]
    search_help_text = "Finds tokens by a part of their owner's email."
    list_filter = ["created", "expiry"]
    ordering = ["-created"]
    fields = ["user", "created", "expiry"]
    readonly_fields = ["user", "created", "expiry"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens", permissions=["delete"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = 0
        for token in queryset:
            services.token_revoke(token=token)
            count += 1
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    """Read-only view of recent failed log-ins (the lockout counters)."""

    list_display = ["email", "lockout_key", "ip_address", "created_at"]
    search_fields = ["email", "lockout_key", "ip_address"]
    search_help_text = (
        "Finds failed log-ins by a part of the email, the lockout key or the IP address."
    )
    list_filter = ["created_at"]
    ordering = ["-created_at"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
