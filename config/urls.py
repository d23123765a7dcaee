from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal import views

tenant_patterns = [
    path("", views.tenant_home, name="tenant_home"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_mark_read, name="notifications_mark_read"),
    path(
        "notifications/<int:notification_id>/read/",
        views.notification_mark_read,
        name="notification_mark_read",
    ),
    path("billing/", include("billing.urls")),
    path("users/", include("licensing.urls")),
    path("upgrade/", include("upgrades.urls")),
    path("api-tokens/", include("portal.api.token_urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("t/<slug:tenant_slug>/", include(tenant_patterns)),
    path("support/", include("support.urls")),
    path("api/", include("config.api")),
    path("django-admin/", admin.site.urls),
]
