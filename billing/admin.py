from django.contrib import admin

from portal.admin import ReadOnlyAdmin

from .models import CreditCheck, Invoice, Order, Payment, Product, Subscription


@admin.register(Product)
class ProductAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "kind", "on_sale", "seat_cap"]
    list_filter = ["kind", "on_sale"]


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["pk", "tenant", "product", "status", "quantity", "channel", "paid_through"]
    list_filter = ["status", "channel", "is_trial", "is_prepaid"]
    list_select_related = ["tenant", "product"]
    search_fields = ["tenant__name", "tenant__slug"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["pk", "tenant", "kind", "state", "total", "currency", "placed_at"]
    list_filter = ["kind", "state"]
    list_select_related = ["tenant"]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "tenant", "state", "issued_at", "due_date"]
    list_filter = ["state"]
    list_select_related = ["tenant"]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["pk", "tenant", "amount", "currency", "method", "result", "at"]
    list_select_related = ["tenant"]


@admin.register(CreditCheck)
class CreditCheckAdmin(ReadOnlyAdmin):
    list_display = ["pk", "tenant", "order", "state", "deadline", "decided_by"]
    list_filter = ["state"]
    list_select_related = ["tenant", "order", "decided_by"]
