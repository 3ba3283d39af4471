import math
from typing import Any, NoReturn

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import BaseUserCreationForm
from django.contrib.auth.forms import UserChangeForm as BaseUserChangeForm
from django.core.exceptions import ValidationError
from rest_framework.throttling import ScopedRateThrottle

from accounts.exceptions import InvalidCredentials, LoginLocked
from accounts.login import credentials_check
from accounts.models import User


class UserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserChangeForm(BaseUserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class _LoginScope:
    """Stands for the API log-in view before ScopedRateThrottle: same scope, same counters."""

    throttle_scope = "login"


class AdminLoginForm(AdminAuthenticationForm):
    """The back office's login form, under the API log-in's rate limit and lockout.

    The credentials go through `accounts.login.credentials_check`, so a failure
    here counts against the same account and client address as one at
    `auth/login/`, and a locked account is refused whatever the password. When
    refused that way, `retry_after` holds the seconds to wait (the admin site
    answers 429 with `Retry-After`); otherwise it is None.
    """

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": LoginLocked.detail,
    }

    retry_after: int | None = None

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is None or not password:
            return self.cleaned_data
        assert self.request is not None, "LoginView passes the request"
        throttle = ScopedRateThrottle()
        if not throttle.allow_request(self.request, _LoginScope()):  # type: ignore[arg-type]
            self._refuse(throttle.wait())
        try:
            self.user_cache = credentials_check(
                request=self.request, email=email, password=password
            )
        except LoginLocked as exc:
            self._refuse(exc.retry_after)
        except InvalidCredentials:
            raise self.get_invalid_login_error() from None
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data

    def _refuse(self, wait: float | None) -> NoReturn:
        self.retry_after = max(1, math.ceil(wait or 1))
        raise ValidationError(self.error_messages["throttled"], code="throttled")
