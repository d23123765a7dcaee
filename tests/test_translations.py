"""Every language the portal offers is complete and is what the pages actually show."""

from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.urls import reverse

LOCALE = Path(settings.BASE_DIR) / "locale"
# Django language code -> gettext catalog folder.
CATALOGS = {"sv": "sv", "it": "it", "nl": "nl", "zh-hans": "zh_Hans"}


def test_every_offered_language_but_english_has_a_catalog():
    offered = {code for code, _ in settings.LANGUAGES} - {"en"}
    assert offered == set(CATALOGS)


@pytest.mark.parametrize("folder", sorted(CATALOGS.values()))
def test_catalog_is_complete_and_not_fuzzy(folder):
    with (LOCALE / folder / "LC_MESSAGES" / "django.po").open("rb") as po:
        catalog = read_po(po)
    untranslated = [
        m.id
        for m in catalog
        if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)
    ]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("sv", "Dina produkter"),
        ("it", "I tuoi prodotti"),
        ("nl", "Uw producten"),
        ("zh-hans", "你的产品"),
    ],
)
def test_pages_render_in_the_chosen_language(tenant, admin_for, language, expected):
    from django.utils import translation

    client, _ = admin_for(tenant)
    client.post(reverse("set_language"), {"language": language, "next": "/"})
    page = client.get(reverse("products", args=[tenant.slug])).content.decode()
    with translation.override(language):
        translated = translation.gettext("Your products")
    assert translated != "Your products"
    assert translated == expected
    assert f"<h1>{translated}</h1>" in page
