"""The support console's stored texts (portal.texts), registered by SupportConfig.ready."""

from django.utils.translation import gettext_noop

from portal.texts import messages_register

messages_register(
    {
        "support.notify.answered": gettext_noop(
            "Support answered your request #%(number)s: %(answer)s"
        ),
    }
)
