from rest_framework.routers import SimpleRouter

from pricing.api import views

router = SimpleRouter()
router.register("tax-classes", views.TaxClassViewSet, basename="tax-class")
router.register("tax-rates", views.TaxRateViewSet, basename="tax-rate")
router.register("shipping-methods", views.ShippingMethodViewSet, basename="shipping-method")
router.register("vouchers", views.VoucherViewSet, basename="voucher")
router.register("promotions", views.PromotionViewSet, basename="promotion")

urlpatterns = router.urls
