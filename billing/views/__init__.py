"""Billing pages, by area: Your products and a subscription's own pages (subscriptions), the
buy flow (purchase), and billing: credit balance, invoices and Pay now (invoices).
billing/urls.py names them through this package."""

from .invoices import billing_overview, invoice_detail, invoice_pay, invoice_print
from .purchase import (
    billed_to_edit,
    order_detail,
    purchase_cart,
    purchase_checkout,
    purchase_place,
    purchase_start,
    sold_to_edit,
)
from .subscriptions import (
    licenses_add,
    licenses_remove,
    products,
    subscription_cancel,
    subscription_detail,
    subscription_reactivate,
)

__all__ = [
    "billed_to_edit",
    "billing_overview",
    "invoice_detail",
    "invoice_print",
    "invoice_pay",
    "licenses_add",
    "licenses_remove",
    "order_detail",
    "products",
    "purchase_cart",
    "purchase_checkout",
    "purchase_place",
    "purchase_start",
    "sold_to_edit",
    "subscription_cancel",
    "subscription_detail",
    "subscription_reactivate",
]
