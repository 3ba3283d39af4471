from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api import customer_views, views

router = SimpleRouter()
router.register("me/addresses", views.AddressViewSet, basename="address")

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="auth-register"),
    path("auth/login/", views.LoginView.as_view(), name="auth-login"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/logout-all/", views.LogoutAllView.as_view(), name="auth-logout-all"),
    path("auth/password-reset/", views.PasswordResetView.as_view(), name="auth-password-reset"),
    path(
        "auth/password-reset/confirm/",
        views.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/password/", views.PasswordChangeView.as_view(), name="me-password"),
    path("me/export/", views.ExportView.as_view(), name="me-export"),
    path("customers/", customer_views.CustomerListView.as_view(), name="customer-list"),
    path(
        "customers/<int:pk>/", customer_views.CustomerDetailView.as_view(), name="customer-detail"
    ),
    *router.urls,
]
