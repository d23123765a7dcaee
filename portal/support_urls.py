from django.urls import path

from . import support_views

urlpatterns = [
    path("", support_views.console, name="support_console"),
]
