from django.urls import path

from . import views

urlpatterns = [
    path("products/", views.products, name="products"),
    path(
        "subscriptions/<int:subscription_id>/",
        views.subscription_detail,
        name="subscription_detail",
    ),
    path(
        "subscriptions/<int:subscription_id>/licenses/add/",
        views.licenses_add,
        name="subscription_licenses_add",
    ),
    path(
        "subscriptions/<int:subscription_id>/licenses/remove/",
        views.licenses_remove,
        name="subscription_licenses_remove",
    ),
    path(
        "subscriptions/<int:subscription_id>/cancel/",
        views.subscription_cancel,
        name="subscription_cancel",
    ),
    path(
        "subscriptions/<int:subscription_id>/reactivate/",
        views.subscription_reactivate,
        name="subscription_reactivate",
    ),
    path("buy/", views.purchase_start, name="purchase_start"),
    path("cart/", views.purchase_cart, name="purchase_cart"),
    path("checkout/", views.purchase_checkout, name="purchase_checkout"),
    path("checkout/place/", views.purchase_place, name="purchase_place"),
    path("checkout/billed-to/", views.billed_to_edit, name="billed_to_edit"),
    path("checkout/sold-to/", views.sold_to_edit, name="sold_to_edit"),
    path("orders/<int:order_id>/", views.order_detail, name="order_detail"),
    path("billing/", views.billing_overview, name="billing"),
    path("invoices/<int:invoice_id>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:invoice_id>/print/", views.invoice_print, name="invoice_print"),
    path("invoices/<int:invoice_id>/pay/", views.invoice_pay, name="invoice_pay"),
]
