"""A test-only urlconf: tiny DRF views under /api/ that exercise the shared error format.

The project's own routes (and its error handlers) are kept, so the 404/500
handlers under test are the real ones.
"""

from typing import Any

from django.http import Http404
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as project_urlpatterns
from core import serializers
from core.errors import DomainError

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


class OutOfWidgets(DomainError):
    code = "out_of_widgets"
    detail = "No widgets left."


class LineSerializer(serializers.Serializer[Any]):
    sku = serializers.CharField(max_length=20)
    quantity = serializers.IntegerField(min_value=1)


class EchoSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=50)
    lines = LineSerializer(many=True, required=False)


class ProbeView(APIView):
    """Authenticated GET only: 401 without a token, 405 for other methods."""

    def get(self, request: Request) -> Response:
        return Response({"email": request.user.get_username()})


class EchoView(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class BoomView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError("an unexpected bug")


class ConflictView(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        raise OutOfWidgets(wanted=3)


class OncePerMinute(AnonRateThrottle):
    scope = "foundation-test"
    rate = "1/min"


class ThrottledView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [OncePerMinute]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class MissingView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise Http404("no such widget")


urlpatterns = [
    path("api/v1/_test/probe/", ProbeView.as_view()),
    path("api/v1/_test/echo/", EchoView.as_view()),
    path("api/v1/_test/boom/", BoomView.as_view()),
    path("api/v1/_test/conflict/", ConflictView.as_view()),
    path("api/v1/_test/missing/", MissingView.as_view()),
    path("api/v1/_test/throttled/", ThrottledView.as_view()),
    *project_urlpatterns,
]
