from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Admin center")

    def ready(self):
        # Imported here, not at the top: the module reads axes' models, loaded only by now.
        from . import signin

        signin.receivers_connect()
