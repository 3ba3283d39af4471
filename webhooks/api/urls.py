from django.urls import path
from rest_framework.routers import SimpleRouter

from webhooks.api.feed_views import EndpointReplayView, EventFeedView, EventTypesView
from webhooks.api.views import DeliveryViewSet, EndpointViewSet

router = SimpleRouter()
# Deliveries first: `webhooks/deliveries/` must not be read as an endpoint id.
router.register("webhooks/deliveries", DeliveryViewSet, basename="webhook-delivery")
router.register("webhooks", EndpointViewSet, basename="webhook-endpoint")

urlpatterns = [
    path("events/", EventFeedView.as_view(), name="event-feed"),
    path("webhooks/event-types/", EventTypesView.as_view(), name="webhook-event-types"),
    path("webhooks/<int:pk>/replay/", EndpointReplayView.as_view(), name="webhook-replay"),
    *router.urls,
]
