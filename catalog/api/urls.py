from rest_framework.routers import SimpleRouter

from catalog.api import views

router = SimpleRouter()
router.register("categories", views.CategoryViewSet, basename="category")
router.register("products", views.ProductViewSet, basename="product")
router.register("variants", views.VariantViewSet, basename="variant")

urlpatterns = router.urls
