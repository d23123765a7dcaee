from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self):
        # The stored texts' message keys: any process may render a text written by another.
        from . import texts  # noqa: F401
