from django.db.models import Prefetch, QuerySet

from webhooks.models import Delivery, DeliveryAttempt, Endpoint


def endpoint_list() -> QuerySet[Endpoint]:
    return Endpoint.objects.order_by("id")


def delivery_list(
    *, endpoint_id: int | None = None, status: str | None = None, event_type: str | None = None
) -> QuerySet[Delivery]:
    """Deliveries newest first, with their event and attempt log loaded (no N+1)."""
    deliveries = (
        Delivery.objects.select_related("event")
        .prefetch_related(Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("number")))
        .order_by("-created_at", "-id")
    )
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(event__type=event_type)
    return deliveries
