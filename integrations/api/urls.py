from rest_framework.routers import SimpleRouter

from integrations.api.views import ApiKeyViewSet, IntegrationViewSet

router = SimpleRouter()
router.register(
    r"integrations/(?P<integration_id>\d+)/keys", ApiKeyViewSet, basename="integration-key"
)
router.register("integrations", IntegrationViewSet, basename="integration")

urlpatterns = router.urls
