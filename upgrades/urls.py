from django.urls import path

from . import views

urlpatterns = [
    path("subscriptions/<int:subscription_id>/", views.upgrade_tab, name="upgrade_tab"),
    path(
        "subscriptions/<int:subscription_id>/cart/",
        views.upgrade_cart_create,
        name="upgrade_cart_create",
    ),
    path("carts/<int:cart_id>/", views.upgrade_cart, name="upgrade_cart"),
    path("carts/<int:cart_id>/checkout/", views.upgrade_checkout, name="upgrade_checkout"),
    path("carts/<int:cart_id>/place/", views.upgrade_place, name="upgrade_place"),
    path("runs/<int:run_id>/", views.upgrade_status, name="upgrade_status"),
    path(
        "runs/<int:run_id>/invoices/",
        views.upgrade_status_invoices,
        name="upgrade_status_invoices",
    ),
]
