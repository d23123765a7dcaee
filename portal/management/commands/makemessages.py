"""Django's makemessages, also finding the plural message keys marked with
portal.texts.ngettext_noop (stored texts are translated when shown, so they are marked, not
translated, where they are written)."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=ngettext_noop:1,2"]
