from django.urls import path

from . import views

urlpatterns = [
    path("subscriptions/<int:subscription_id>/", views.upgrade_tab, name="upgrade_tab"),
]
