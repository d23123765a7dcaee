"""Every write checks the role. The writes are found, not listed: every URL that takes only
POST, and every POST form on every page a Global admin sees (the pages come from the URLconf,
so a new form is covered without editing this test). A Global reader and a support engineer
post to each and are refused, with every row of every table as it was. The only writes a
reader may make are to their own state: their notifications' read marks, and API tokens of
their own (read-only ones)."""

from html.parser import HTMLParser

import pytest

from portal.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.test_reads_write_nothing import _client, _database_snapshot, _urls

pytestmark = pytest.mark.django_db

# A reader may mark notifications read, manage their own API tokens and ask support for help.
OWN_STATE_PATHS = ("/notifications/", "/api-tokens/", "/upgrade/help/")


class _PostForms(HTMLParser):
    def __init__(self, page_url):
        super().__init__()
        self.page_url = page_url
        self.actions = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self.actions.add(attrs.get("action") or self.page_url)


def _write_urls(world) -> set[str]:
    """Every POST-only URL of the tenant, and the action of every POST form on its pages as its
    Global admin sees them."""
    admin = UserFactory()
    MembershipFactory(user=admin, tenant=world["t"].tenant, role=Role.GLOBAL_ADMIN)
    client = _client(admin)
    actions = set()
    for url in _urls(world["ids"]):
        if not url.startswith("/t/"):
            continue
        response = client.get(url)
        if response.status_code == 405:
            actions.add(url)
        if response.status_code == 200 and "html" in response["Content-Type"]:
            parser = _PostForms(url)
            parser.feed(response.content.decode())
            actions |= parser.actions
    return {a for a in actions if a.startswith("/t/")}


@pytest.mark.parametrize("who", ["reader", "support"])
def test_every_write_form_refuses_a_reader_and_a_support_engineer(world, who):
    writes = _write_urls(world)
    if who == "reader":
        user = UserFactory()
        MembershipFactory(user=user, tenant=world["t"].tenant, role=Role.GLOBAL_READER)
        writes = {url for url in writes if not any(p in url for p in OWN_STATE_PATHS)}
    else:
        user = UserFactory(is_staff=True)
    client = _client(user)
    before = _database_snapshot()

    statuses = {url: client.post(url).status_code for url in sorted(writes)}

    assert _database_snapshot() == before
    assert {url: s for url, s in statuses.items() if s != 403} == {}
    # The crawl found the product's forms: buying, license counts, cancelling, upgrading,
    # assigning, paying, tokens.
    assert len(statuses) >= 10, statuses
