from typing import Any

from django.core.validators import RegexValidator

from core import serializers
from webhooks.catalogue import EVENT_TYPE_RE
from webhooks.models import Delivery, DeliveryAttempt, Endpoint


class EventTypeField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=64, **kwargs)
        self.validators.append(
            RegexValidator(
                EVENT_TYPE_RE,
                "An event type like `order.paid` or `stock.changed`, or `*` for every event.",
            )
        )


class EndpointInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    event_types = serializers.ListField(child=EventTypeField(), min_length=1, max_length=50)
    secret = serializers.CharField(
        min_length=16,
        max_length=128,
        required=False,
        write_only=True,
        help_text="Generated when absent; returned only in the response that creates it.",
    )
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)

    def validate_url(self, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Only http and https URLs can receive webhooks.")
        return value


class EndpointSerializer(serializers.ModelSerializer):
    """An endpoint as staff see it: the secret is never shown again after creation."""

    # A JSONField: declared so the schema says "a list of strings", not "anything".
    event_types = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "event_types",
            "description",
            "is_active",
            "disabled_reason",
            "disabled_at",
            "consecutive_failures",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class EndpointCreatedSerializer(EndpointSerializer):
    """The response to a creation: the only time the secret is returned."""

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "status_code", "duration_ms", "error", "created_at"]
        read_only_fields = fields


class DeliveryEventSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="event_id")
    type = serializers.CharField(source="event.type")
    created_at = serializers.DateTimeField(source="event.created_at")


class DeliverySerializer(serializers.ModelSerializer):
    event = DeliveryEventSerializer(source="*")
    attempts = DeliveryAttemptSerializer(many=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "endpoint",
            "event",
            "status",
            "attempt_count",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "attempts",
        ]
        read_only_fields = fields
