from django.urls import path

from . import views

urlpatterns = [
    path("", views.console, name="support_console"),
    path("runs/", views.run_search, name="support_runs"),
    path("runs/<int:run_id>/", views.run_detail, name="support_run"),
    path(
        "runs/<int:run_id>/credit-check/",
        views.run_credit_check,
        name="support_run_credit_check",
    ),
    path("runs/<int:run_id>/retry/", views.run_retry, name="support_run_retry"),
    path("tenants/<slug:tenant_slug>/", views.tenant_detail, name="support_tenant"),
    path(
        "tenants/<slug:tenant_slug>/lock/release/",
        views.lock_release,
        name="support_lock_release",
    ),
    path("sign-in-lockouts/", views.signin_lockouts, name="support_signin_lockouts"),
    path(
        "sign-in-lockouts/unlock/",
        views.signin_unlock,
        name="support_signin_unlock",
    ),
    path("incidents/", views.incidents, name="support_incidents"),
    path(
        "incidents/<int:incident_id>/resolve/",
        views.incident_resolve,
        name="support_incident_resolve",
    ),
    path("requests/", views.support_requests, name="support_requests"),
    path(
        "requests/<int:support_request_id>/",
        views.support_request_detail,
        name="support_request",
    ),
    path(
        "requests/<int:support_request_id>/answer/",
        views.support_request_answer,
        name="support_request_answer",
    ),
]
