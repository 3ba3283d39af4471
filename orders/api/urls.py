from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from orders.api.fulfilment_views import (
    OrderNotesView,
    OrderRefundsView,
    OrderReturnsView,
    OrderShipmentsView,
    ReturnViewSet,
)
from orders.api.views import OrderViewSet, PaymentWebhookView

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="order")
router.register("returns", ReturnViewSet, basename="return")

NUMBER = r"^orders/(?P<number>[A-Za-z0-9-]+)"

urlpatterns = [
    path("payments/webhook/", PaymentWebhookView.as_view(), name="payments-webhook"),
    re_path(rf"{NUMBER}/shipments/$", OrderShipmentsView.as_view(), name="order-shipments"),
    re_path(rf"{NUMBER}/returns/$", OrderReturnsView.as_view(), name="order-returns"),
    re_path(rf"{NUMBER}/refunds/$", OrderRefundsView.as_view(), name="order-refunds"),
    re_path(rf"{NUMBER}/notes/$", OrderNotesView.as_view(), name="order-notes"),
    *router.urls,
]
