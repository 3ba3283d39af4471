"""The event feed (`events/`), the event catalogue and replays to an endpoint."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import StaffOnlyModelPermissions
from core import serializers
from core.cursor import CURSOR_PARAMS, cursor_page, queryset_fetch, text_param
from webhooks import catalogue, feed
from webhooks.models import Endpoint, Event

UNAUTHENTICATED = OpenApiResponse(description="`not_authenticated` or `authentication_failed`.")
FORBIDDEN = OpenApiResponse(description="`permission_denied`.")


class FeedEventSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="Stable: the same as in webhook deliveries.")
    sequence = serializers.IntegerField(help_text="The event's place in the feed; only grows.")
    type = serializers.CharField()
    created_at = serializers.DateTimeField()
    data = serializers.DictField(  # type: ignore[assignment]
        help_text="See `webhooks/event-types/` for its schema."
    )


class EventPageSerializer(serializers.Serializer):
    next = serializers.URLField(help_text="Poll this link for the events after this page.")
    previous = serializers.URLField(
        allow_null=True,
        help_text="The events just before this page; null on a first page.",
    )
    results = FeedEventSerializer(many=True)


class EventFeedView(APIView):
    """GET events/: the outbox in `sequence` order, with a cursor."""

    permission_classes = [StaffOnlyModelPermissions]
    queryset = Event.objects.none()  # for the model permission (webhooks.view_event)
    query_drops_empty_values = True  # an empty parameter is no parameter (core.openapi)

    @extend_schema(
        operation_id="events_list",
        summary="The event feed (staff with the event view permission): cursor pages",
        description="Every event in `sequence` order. An event gets its `sequence` once its "
        "transaction has committed, always above every number already shown, so a reader "
        "that resumes from its last `next` never misses an event.",
        parameters=[
            *CURSOR_PARAMS,
            OpenApiParameter(
                "type",
                OpenApiTypes.STR,
                description="Event types, comma-separated.",
                allow_blank=True,
            ),
        ],
        responses={
            200: EventPageSerializer,
            400: OpenApiResponse(description="`invalid`: a bad cursor or page size."),
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
        },
    )
    def get(self, request: Request) -> Response:
        types = [t.strip() for t in (text_param(request, "type") or "").split(",") if t.strip()]
        feed.events_sequence_assign()
        body = cursor_page(
            request,
            kinds=(int,),
            fetch=queryset_fetch(feed.event_feed(after=None, types=types), fields=("sequence",)),
            key_of=lambda event: (event.sequence,),
            render=lambda events: [
                {
                    "id": e.pk,
                    "sequence": e.sequence,
                    "type": e.type,
                    "created_at": e.created_at,
                    "data": e.data,
                }
                for e in events
            ],
        )
        return Response(body)


class IsStaff(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class EventTypeSerializer(serializers.Serializer):
    type = serializers.CharField()
    description = serializers.CharField()
    data_schema = serializers.DictField(help_text="An OpenAPI 3.0 schema object of `data`.")


class EventTypesView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="webhooks_event_types_list",
        summary="Every event type with the schema of its `data` (staff)",
        responses={200: EventTypeSerializer(many=True), 401: UNAUTHENTICATED, 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        return Response(catalogue.event_types())


class ReplayInputSerializer(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Every kept event created at or after this.")


class ReplaySerializer(serializers.Serializer):
    events = serializers.IntegerField(help_text="How many events are queued for the endpoint.")


class ReplayPermission(StaffOnlyModelPermissions):
    perms_map = {
        **StaffOnlyModelPermissions.perms_map,
        "POST": ["%(app_label)s.change_%(model_name)s"],
    }


class EndpointReplayView(APIView):
    permission_classes = [ReplayPermission]
    queryset = Endpoint.objects.all()

    @extend_schema(
        operation_id="webhooks_replay_create",
        summary="Send an endpoint every event since a time again (staff)",
        request=ReplayInputSerializer,
        responses={
            202: ReplaySerializer,
            400: OpenApiResponse(description="`invalid`."),
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: OpenApiResponse(description="`not_found`."),
            409: OpenApiResponse(description="`endpoint_inactive`: enable the endpoint first."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        endpoint = get_object_or_404(Endpoint, pk=pk)
        data = ReplayInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        replay = feed.endpoint_replay(endpoint=endpoint, since=data.validated_data["since"])
        return Response({"events": replay.events}, status=status.HTTP_202_ACCEPTED)
