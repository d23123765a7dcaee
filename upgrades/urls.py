from django.urls import path

from .views import chain, help, rehearsal, report, schedule

urlpatterns = [
    path("subscriptions/<int:subscription_id>/", chain.upgrade_tab, name="upgrade_tab"),
    path(
        "subscriptions/<int:subscription_id>/cart/",
        chain.upgrade_cart_create,
        name="upgrade_cart_create",
    ),
    path("carts/<int:cart_id>/", chain.upgrade_cart, name="upgrade_cart"),
    path("carts/<int:cart_id>/checkout/", chain.upgrade_checkout, name="upgrade_checkout"),
    path("carts/<int:cart_id>/rehearsal/", rehearsal.upgrade_rehearsal, name="upgrade_rehearsal"),
    path("carts/<int:cart_id>/place/", chain.upgrade_place, name="upgrade_place"),
    path("runs/<int:run_id>/", chain.upgrade_status, name="upgrade_status"),
    path(
        "runs/<int:run_id>/invoices/",
        chain.upgrade_status_invoices,
        name="upgrade_status_invoices",
    ),
    path("runs/<int:run_id>/cancel/", schedule.upgrade_run_cancel, name="upgrade_run_cancel"),
    path(
        "runs/<int:run_id>/reschedule/",
        schedule.upgrade_run_reschedule,
        name="upgrade_run_reschedule",
    ),
    path("runs/<int:run_id>/report/", report.upgrade_report, name="upgrade_report"),
    path("runs/<int:run_id>/report.csv", report.upgrade_report_csv, name="upgrade_report_csv"),
    path("help/", help.support_request_create, name="support_request_create"),
]
