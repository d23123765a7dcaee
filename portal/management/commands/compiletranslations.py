from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Compile locale/*/LC_MESSAGES/django.po into .mo files in pure Python, so a fresh "
        "machine needs no GNU gettext. Only recompiles what changed."
    )

    def handle(self, *args, **options):
        compiled = 0
        for locale_dir in settings.LOCALE_PATHS:
            for po_path in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
                mo_path = po_path.with_suffix(".mo")
                if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                    continue
                with po_path.open("rb") as po_file:
                    catalog = read_po(po_file, locale=po_path.parent.parent.name)
                with mo_path.open("wb") as mo_file:
                    write_mo(mo_file, catalog)
                compiled += 1
        self.stdout.write(f"Compiled {compiled} translation catalog(s).")
