from django.urls import path
from rest_framework.routers import SimpleRouter

from catalog.api import integration_views, views

router = SimpleRouter()
router.register("categories", views.CategoryViewSet, basename="category")
router.register("products", views.ProductViewSet, basename="product")
router.register("variants", views.VariantViewSet, basename="variant")

urlpatterns = [
    path(
        "stock/bulk-adjustments/",
        integration_views.StockBulkView.as_view(),
        name="stock-bulk-adjustments",
    ),
    *router.urls,
]
