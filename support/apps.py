from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupportConfig(AppConfig):
    """The provider's support console. It sits above the domain apps and may read and act on
    them (through their services); nothing but the root URLconf imports it."""

    name = "support"
    verbose_name = _("Support console")

    def ready(self):
        # The stored texts' message keys: any process may render a text written by another.
        from . import texts  # noqa: F401
