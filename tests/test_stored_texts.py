"""Stored texts are message keys with parameters, written in the reader's language when they
are shown (DESIGN 2, languages): a notification written by a worker in English reads in Swedish
on a Swedish page, and words an admin typed are shown as typed."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import translation

from portal.models import AdminLock, Notification
from portal.services import notification_create
from portal.texts import (
    StoredText,
    literal,
    message_keys,
    money_param,
    text,
)
from tests.factories import TenantFactory


def _only_placeholders(msgid: str) -> bool:
    """Nothing to translate ("%(count)s %(unit)s"): a catalog may leave it as it is."""
    return not re.sub(r"%\(\w+\)s", "", msgid).strip(" ,.:")


def _catalog_has(language: str, msgid: str) -> bool:
    if _only_placeholders(msgid):
        return True
    with translation.override(language):
        return translation.gettext(msgid) != msgid


def _catalog_has_plural(language: str, message) -> bool:
    if _only_placeholders(message.plural):
        return True
    with translation.override(language):
        return translation.ngettext(message.singular, message.plural, 2) != message.plural


def test_a_text_written_in_english_reads_in_the_readers_language(db):
    tenant = TenantFactory()
    with translation.override("en"):
        notification_create(
            tenant=tenant,
            message=text("upgrades.notify.completed", target="Office 365 E5", count=300),
        )
    stored = Notification.objects.get(tenant=tenant).message
    with translation.override("en"):
        assert str(stored) == "Your upgrade to Office 365 E5 is complete: 300 users moved."
    with translation.override("sv"):
        swedish = str(stored)
    assert "Office 365 E5" in swedish
    assert "Your upgrade" not in swedish


def test_the_count_chooses_the_plural_and_is_grouped_for_the_reader():
    one = text("upgrades.notify.completed", target="E5", count=1)
    many = text("upgrades.notify.completed", target="E5", count=20000)
    with translation.override("en"):
        assert str(one).endswith("1 user moved.")
        assert str(many).endswith("20,000 users moved.")
    with translation.override("sv"):
        assert "20\xa0000" in str(many) or "20 000" in str(many)


def test_money_and_dates_are_formatted_when_shown():
    stored = text(
        "billing.notify.renewal_reminder",
        number="INV-1",
        amount=money_param(Decimal("12160"), "USD"),
        deadline=dt.date(2026, 12, 4),
    )
    loaded = StoredText.load(stored.dump())
    with translation.override("en"):
        assert "12,160.00\xa0USD" in str(loaded)
        assert "Dec 4, 2026" in str(loaded)
    with translation.override("it"):
        assert "12.160,00\xa0USD" in str(loaded)


def test_a_text_inside_a_text_is_translated_too():
    outer = text(
        "upgrades.notify.failed",
        target="E5",
        reason=text("upgrades.failure.credit_declined"),
        money=text("upgrades.money.nothing_charged"),
        source="E4",
    )
    loaded = StoredText.load(outer.dump())
    with translation.override("nl"):
        rendered = str(loaded)
    assert "credit check was declined" not in rendered
    assert "Nothing was charged" not in rendered


def test_words_an_admin_typed_are_shown_as_typed_even_when_they_look_like_a_key(db):
    tenant = TenantFactory()
    typed = '{"key": "upgrades.notify.completed", "params": {}}'
    notification_create(tenant=tenant, message=typed)
    assert str(Notification.objects.get(tenant=tenant).message) == typed
    assert str(literal("Bytt till E5 före jul")) == "Bytt till E5 före jul"


def test_rows_written_before_keys_existed_still_read():
    assert str(StoredText.load("upgrade in progress")) == "upgrade in progress"


def test_an_unknown_key_fails_where_it_is_written_and_never_on_a_page():
    with pytest.raises(KeyError):
        text("no.such.key")
    assert str(StoredText.load('{"key": "gone.key", "params": {}}')) == "gone.key"


def test_an_id_is_refused_as_a_count_where_it_is_written():
    # An int is a count, shown with thousands separators ("upgrade 1,234"): ids go as str.
    with pytest.raises(TypeError, match="is an id"):
        text("upgrades.reason.upgraded", target="Office 365 E5", run=1234)
    with translation.override("en"):
        assert str(text("upgrades.reason.upgraded", target="Office 365 E5", run="1234")) == (
            "Upgraded to Office 365 E5 (upgrade 1234)"
        )


def test_a_label_parameter_is_translated_when_shown_not_when_written():
    from billing.models import Status

    with translation.override("en"):  # the worker writes in English
        stored = StoredText.load(
            text("upgrades.failure.new_inactive", status=Status.DISABLED.label).dump()
        )
    with translation.override("sv"):
        shown = str(stored)
    assert "Inaktiverad" in shown and "Disabled" not in shown


def test_a_parameter_that_cannot_be_read_does_not_break_the_page():
    broken = StoredText.load(
        '{"key": "upgrades.reason.upgraded", "params": {"target": {"$when": "not a date"},'
        ' "run": {"$money": ["x", "USD"]}}}'
    )
    assert str(broken) == "Upgraded to  (upgrade )"


def test_a_text_equal_to_a_str_hashes_as_that_str():
    with translation.override("en"):
        stored = literal("as typed")
        assert stored == "as typed" and hash(stored) == hash("as typed")
        assert "as typed" in {stored}


def test_a_lock_reason_reads_in_the_readers_language(db):
    tenant = TenantFactory()
    lock = AdminLock(tenant=tenant, reason=text("upgrades.reason.in_progress"))
    assert lock.reason == "Upgrade in progress"


@pytest.mark.parametrize("language", ["zh-hans", "sv", "it", "nl"])
def test_every_registered_message_is_translated(language):
    missing = [
        key
        for key, message in message_keys().items()
        if not _catalog_has(language, message.singular)
        or (message.plural is not None and not _catalog_has_plural(language, message))
    ]
    assert missing == []
