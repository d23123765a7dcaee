from django.urls import path

from . import views

urlpatterns = [
    path("", views.users, name="users"),
    path("licenses/", views.users_licenses, name="users_licenses"),
]
