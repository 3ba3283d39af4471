"""Accounts endpoints: input serializer -> service -> output serializer."""

from typing import Any, cast

from django.conf import settings
from django.contrib.auth import logout as session_logout
from django.contrib.auth import update_session_auth_hash
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from knox.models import AuthToken
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle
from rest_framework.views import APIView

from accounts import services
from accounts.api import serializers as s
from accounts.exceptions import LoginLocked
from accounts.login import user_login
from accounts.models import Address, User
from accounts.selectors import address_list, user_export
from core.openapi import ErrorSerializer

THROTTLES = cast(
    list[type[BaseThrottle]], [*api_settings.DEFAULT_THROTTLE_CLASSES, ScopedRateThrottle]
)


def _me(request: Request) -> User:
    """The authenticated caller (the permission class has already required one)."""
    assert isinstance(request.user, User)
    return request.user


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


INVALID = _error("Invalid input: `code` is `invalid`, `errors` names the fields.")
UNAUTHENTICATED = _error("No or bad token: `not_authenticated` or `authentication_failed`.")
THROTTLED = _error("Too many requests: `throttled`, with a `Retry-After` header (seconds).")
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before trying again.",
)


class AnonymousAPIView(APIView):
    """An `auth/` endpoint: open to anyone, and a stale token in the header is ignored."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = THROTTLES


@extend_schema(
    tags=["accounts"],
    request=s.RegisterSerializer,
    responses={201: s.MeSerializer, 400: INVALID, 429: THROTTLED},
    parameters=[RETRY_AFTER],
    summary="Create a customer account",
)
class RegisterView(AnonymousAPIView):
    throttle_scope = "register"

    def post(self, request: Request) -> Response:
        data = s.RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return Response(s.MeSerializer(user).data, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["accounts"],
    request=s.LoginSerializer,
    responses={
        200: s.LoginResponseSerializer,
        400: _error(
            "`invalid_credentials`: unknown email, wrong password or closed account; "
            "`invalid` (with `errors`) when `email` or `password` is missing or malformed."
        ),
        429: THROTTLED,
    },
    parameters=[RETRY_AFTER],
    summary="Log in: a new expiring token",
    description=f"After {settings.LOGIN_LOCKOUT_EMAIL_FAILURES} failures for one account (any "
    f"spelling of its email) within {settings.LOGIN_LOCKOUT_WINDOW.total_seconds() / 60:g} "
    f"minutes, or {settings.LOGIN_LOCKOUT_ADDRESS_FAILURES} from one client address (here or "
    "at the admin's login page), further attempts get 429 `throttled` until the cool-off ends "
    "(see Retry-After), even with the right password.",
)
class LoginView(AnonymousAPIView):
    throttle_scope = "login"

    def post(self, request: Request) -> Response:
        data = s.LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user, token, key = user_login(request=request, **data.validated_data)
        except LoginLocked as exc:
            raise Throttled(wait=exc.retry_after, detail=exc.detail) from exc
        body = {"token": key, "expiry": token.expiry, "user": user}
        return Response(s.LoginResponseSerializer(body).data)


def _logout_session(request: Request) -> None:
    if not isinstance(request.auth, AuthToken):
        session_logout(request._request)


@extend_schema(
    tags=["accounts"],
    request=None,
    responses={204: None, 401: UNAUTHENTICATED},
    summary="Log out: this token stops working",
)
class LogoutView(APIView):
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, AuthToken):
            services.token_revoke(token=request.auth)
        _logout_session(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["accounts"],
    request=None,
    responses={204: None, 401: UNAUTHENTICATED},
    summary="Log out everywhere: all of the user's tokens stop working",
)
class LogoutAllView(APIView):
    def post(self, request: Request) -> Response:
        services.tokens_revoke_all(user=_me(request))
        _logout_session(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["accounts"],
    request=s.PasswordResetSerializer,
    responses={202: s.DetailSerializer, 400: INVALID, 429: THROTTLED},
    parameters=[RETRY_AFTER],
    summary="Ask for a password reset email",
    description="Answers 202 whether or not an account has this email.",
)
class PasswordResetView(AnonymousAPIView):
    throttle_scope = "password_reset"

    def post(self, request: Request) -> Response:
        data = s.PasswordResetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_request(email=data.validated_data["email"])
        detail = "If an account exists for this email, a reset link is on its way."
        return Response({"detail": detail}, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    tags=["accounts"],
    request=s.PasswordResetConfirmSerializer,
    responses={
        204: None,
        400: _error("`invalid_token` for a bad, used or expired link; `invalid` for the password."),
    },
    summary="Set a new password from a reset link",
)
class PasswordResetConfirmView(AnonymousAPIView):
    def post(self, request: Request) -> Response:
        data = s.PasswordResetConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Built on the project's configured schema class, so its cross-cutting additions apply here too.
_ProjectSchema = cast(type[AutoSchema], api_settings.DEFAULT_SCHEMA_CLASS)


class DeleteWithBodySchema(_ProjectSchema):  # type: ignore[valid-type,misc]
    """`DELETE me/` takes a body (the password); spectacular omits DELETE bodies by default."""

    method: str

    def _get_request_body(self, direction: str = "request") -> Any:
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


@extend_schema_view(
    get=extend_schema(
        tags=["accounts"], responses={200: s.MeSerializer, 401: UNAUTHENTICATED}, summary="Me"
    ),
    patch=extend_schema(
        tags=["accounts"],
        request=s.MeUpdateSerializer,
        responses={200: s.MeSerializer, 400: INVALID, 401: UNAUTHENTICATED},
        summary="Change my names (other fields are ignored)",
    ),
    delete=extend_schema(
        tags=["accounts"],
        request=s.AccountDeleteSerializer,
        responses={204: None, 400: INVALID, 401: UNAUTHENTICATED},
        summary="Erase my account",
        description="Personal data is erased and log-in refused from then on; orders are "
        "kept. A wrong password answers 400 with `errors.password`.",
    ),
)
class MeView(APIView):
    schema = DeleteWithBodySchema()

    def get(self, request: Request) -> Response:
        return Response(s.MeSerializer(request.user).data)

    def patch(self, request: Request) -> Response:
        data = s.MeUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update(user=_me(request), **data.validated_data)
        return Response(s.MeSerializer(user).data)

    def delete(self, request: Request) -> Response:
        data = s.AccountDeleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_delete_self(user=_me(request), **data.validated_data)
        _logout_session(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["accounts"],
    request=s.PasswordChangeSerializer,
    responses={204: None, 400: INVALID, 401: UNAUTHENTICATED},
    summary="Change my password: my other tokens stop working",
)
class PasswordChangeView(APIView):
    def post(self, request: Request) -> Response:
        data = s.PasswordChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        keep = request.auth if isinstance(request.auth, AuthToken) else None
        services.user_password_change(user=_me(request), keep=keep, **data.validated_data)
        if keep is None:
            update_session_auth_hash(request._request, _me(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["accounts"],
    responses={200: s.ExportSerializer, 401: UNAUTHENTICATED},
    summary="Export everything stored about me",
)
class ExportView(APIView):
    def get(self, request: Request) -> Response:
        return Response(user_export(user=_me(request)))


@extend_schema_view(
    list=extend_schema(summary="My addresses"),
    create=extend_schema(
        summary="Save an address",
        responses={
            201: s.AddressSerializer,
            400: INVALID,
            409: _error("`address_limit_reached`: at most ADDRESSES_PER_USER_MAX per user."),
        },
    ),
    retrieve=extend_schema(summary="One of my addresses"),
    update=extend_schema(summary="Replace one of my addresses"),
    partial_update=extend_schema(summary="Change one of my addresses"),
    destroy=extend_schema(summary="Delete one of my addresses"),
)
@extend_schema(tags=["accounts"])
class AddressViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = s.AddressSerializer
    permission_classes = [IsAuthenticated]
    queryset = Address.objects.none()  # for the schema; requests use get_queryset()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return address_list(user=_me(self.request))

    def create(self, request: Request) -> Response:
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        address = services.address_create(user=_me(request), **data.validated_data)
        return Response(self.get_serializer(address).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str | None = None, partial: bool = False) -> Response:
        address = self.get_object()
        data = self.get_serializer(address, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        address = services.address_update(address=address, **data.validated_data)
        return Response(self.get_serializer(address).data)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self.update(request, pk=pk, partial=True)

    def perform_destroy(self, instance: Address) -> None:
        services.address_delete(address=instance)
