"""Forged posts and stored scripts. Every write of the tenant pages (found from the URLconf
and the pages' forms, as test_role_writes does) refuses a post without the CSRF token, and
every text a tenant or an admin can store is shown escaped on every page."""

import pytest
from django.test import Client

from billing.models import BillingProfile
from licensing.models import DirectoryUser
from portal.models import Role, ServiceIncident
from portal.services import notification_create
from tests.factories import MembershipFactory, UserFactory
from tests.security.test_role_writes import _write_urls
from tests.test_reads_write_nothing import _client, _database_snapshot, _urls

pytestmark = pytest.mark.django_db

PAYLOAD = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def test_every_write_refuses_a_post_without_the_csrf_token(world):
    admin = UserFactory()
    MembershipFactory(user=admin, tenant=world["t"].tenant, role=Role.GLOBAL_ADMIN)
    forger = Client(enforce_csrf_checks=True)
    forger.force_login(admin)
    writes = _write_urls(world)
    before = _database_snapshot()

    statuses = {url: forger.post(url).status_code for url in sorted(writes)}

    assert _database_snapshot() == before
    assert {url: s for url, s in statuses.items() if s != 403} == {}
    assert len(statuses) >= 10, statuses


def _store_the_payload_everywhere(world):
    t = world["t"]
    t.tenant.name = "Contoso " + PAYLOAD
    t.tenant.save(update_fields=["name"])
    BillingProfile.objects.filter(tenant=t.tenant).update(
        contact_name=PAYLOAD, address_line=PAYLOAD, city=PAYLOAD, po_number=PAYLOAD[:60]
    )
    DirectoryUser.objects.filter(tenant=t.tenant).update(display_name=PAYLOAD, department=PAYLOAD)
    notification_create(tenant=t.tenant, message=PAYLOAD, link=f"/t/{t.tenant.slug}/")
    ServiceIncident.objects.filter(tenant=t.tenant).update(title=PAYLOAD)
    admin = UserFactory(username="evil" + PAYLOAD[:40])
    MembershipFactory(user=admin, tenant=t.tenant, role=Role.GLOBAL_ADMIN)
    return admin


@pytest.mark.parametrize("who", ["global_admin", "support"])
def test_stored_text_is_escaped_on_every_page(world, who):
    admin = _store_the_payload_everywhere(world)
    client = _client(admin if who == "global_admin" else UserFactory(is_staff=True))
    shown = []

    for url in _urls(world["ids"]):
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            if not response["Content-Type"].startswith("text/html"):
                # A download (the report's CSV) is not a page: nothing renders its text as
                # HTML. It must still never be served as one.
                assert response.streaming or "html" not in response["Content-Type"], url
                continue
            body = response.content.decode()
            assert "<script>alert(1)" not in body, url
            assert "onerror=alert(2)" not in body.replace("onerror=alert(2)&gt;", ""), url
            if "&lt;script&gt;alert(1)" in body:
                shown.append(url)

    # The payload was on the pages, escaped: the test looked where it is shown.
    assert len(set(shown)) >= 5, shown


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "//evil.example/", "https://evil.example/"]
)
def test_a_notification_links_only_to_a_page_of_the_portal(tenant, link):
    with pytest.raises(ValueError):
        notification_create(tenant=tenant, message="Click", link=link)
