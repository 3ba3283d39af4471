from rest_framework.routers import SimpleRouter

from webhooks.api.views import DeliveryViewSet, EndpointViewSet

router = SimpleRouter()
# Deliveries first: `webhooks/deliveries/` must not be read as an endpoint id.
router.register("webhooks/deliveries", DeliveryViewSet, basename="webhook-delivery")
router.register("webhooks", EndpointViewSet, basename="webhook-endpoint")

urlpatterns = router.urls
