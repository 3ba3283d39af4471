from django.urls import path
from rest_framework.routers import SimpleRouter

from orders.api.views import OrderViewSet, PaymentWebhookView

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [
    path("payments/webhook/", PaymentWebhookView.as_view(), name="payments-webhook"),
    *router.urls,
]
