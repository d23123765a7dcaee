from django.urls import path

from . import support_views

urlpatterns = [
    path("", support_views.console, name="support_console"),
    path("runs/", support_views.run_search, name="support_runs"),
    path("runs/<int:run_id>/", support_views.run_detail, name="support_run"),
    path(
        "runs/<int:run_id>/credit-check/",
        support_views.run_credit_check,
        name="support_run_credit_check",
    ),
    path("runs/<int:run_id>/retry/", support_views.run_retry, name="support_run_retry"),
    path("tenants/<slug:tenant_slug>/", support_views.tenant_detail, name="support_tenant"),
    path(
        "tenants/<slug:tenant_slug>/lock/release/",
        support_views.lock_release,
        name="support_lock_release",
    ),
    path("incidents/", support_views.incidents, name="support_incidents"),
    path(
        "incidents/<int:incident_id>/resolve/",
        support_views.incident_resolve,
        name="support_incident_resolve",
    ),
]
