"""A page view never writes: every GET of every page, by a reader, an admin and a support
engineer, leaves every row of every table as it was (sessions aside: signing in is a write of
its own). The URLs come from the URLconf, so a new page is covered without editing this test."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from billing.models import Invoice, Status
from portal.models import ApiToken, Role, ServiceIncident
from portal.services import notification_create
from tests.factories import MembershipFactory, SubscriptionFactory, UserFactory, product
from tests.upgrades.conftest import checkout, make_e4_tenant, place
from upgrades import engine
from upgrades.models import SupportRequest

pytestmark = pytest.mark.django_db

# Not pages of the product: Django's admin, sign-out and the language switch (which are
# writes by design), and the JSON API (its own tests; a token's last use is recorded).
SKIPPED_PREFIXES = ("django-admin/", "accounts/logout/", "i18n/", "api/")


def _patterns(resolver=None, prefix=""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.name:
            path = prefix + str(pattern.pattern)
            if not path.startswith(SKIPPED_PREFIXES):
                yield path, pattern


def _urls(ids: dict) -> list[str]:
    urls = []
    for path, pattern in _patterns():
        kwargs = {name: ids[name] for name in re.findall(r"<(?:\w+:)?(\w+)>", path)}
        urls.append(reverse(pattern.name, kwargs=kwargs))
    return urls


def _database_snapshot() -> dict[str, str]:
    """A digest of every row of every table (PostgreSQL)."""
    digests = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table == "django_session":
                continue
            cursor.execute(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "  # noqa: S608
                f'FROM "{table}" t'
            )
            digests[table] = cursor.fetchone()[0]
    return digests


@pytest.fixture
def world(settings):
    # A fast clock: reading it must not anchor it.
    settings.PORTAL_CLOCK_SPEED = 60.0
    t = make_e4_tenant(users=6, quantity=8, addons=[("PHONE_SYSTEM", 4, 3)])
    finished = place(t)
    engine.run_advance(run_id=finished.pk)
    # A subscription whose set-up time has passed: only the periodic task may activate it.
    SubscriptionFactory(
        tenant=t.tenant,
        product=product("M365_E5"),
        status=Status.PROVISIONING,
        ready_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    )
    # A cart whose frozen prices went stale: only continuing from the cart may freeze new ones.
    second = make_e4_tenant(users=2)
    cart = checkout(second)
    cart.snapshot_at = cart.snapshot_at - dt.timedelta(days=2)
    cart.save(update_fields=["snapshot_at"])
    notification = notification_create(tenant=t.tenant, message="Unread")
    support_request = SupportRequest.objects.create(
        tenant=t.tenant,
        run=finished,
        subscription=t.e4,
        topic="upgrade",
        message="A question",
        created_by=t.admin,
        created_at=dt.datetime.now(dt.UTC),
    )
    incident = ServiceIncident.objects.create(
        tenant=t.tenant, title="Mail delays", opened_at=dt.datetime.now(dt.UTC)
    )
    token_owner = MembershipFactory(tenant=t.tenant, role=Role.GLOBAL_ADMIN)
    token = ApiToken.objects.create(
        membership=token_owner,
        name="ci",
        prefix="pt_x",
        key_hash="0" * 64,
        created_at=dt.datetime.now(dt.UTC),
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
    )
    return {
        "t": t,
        "second": second,
        "ids": {
            "tenant_slug": t.tenant.slug,
            "subscription_id": t.e4.pk,
            "order_id": finished.order_id,
            "notification_id": notification.pk,
            "invoice_id": Invoice.objects.filter(tenant=t.tenant).values_list("pk", flat=True)[0],
            "cart_id": cart.pk,
            "run_id": finished.pk,
            "token_id": token.pk,
            "incident_id": incident.pk,
            "support_request_id": support_request.pk,
        },
    }


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _get_every_page(client, urls):
    statuses = {}
    for url in urls:
        statuses[url] = client.get(url).status_code
        statuses[url + "?htmx"] = client.get(url, headers={"HX-Request": "true"}).status_code
    return statuses


@pytest.mark.parametrize("who", ["reader", "global_admin", "support"])
def test_no_get_of_any_page_changes_a_row(world, who):
    t, second = world["t"], world["second"]
    if who == "support":
        user = UserFactory(is_staff=True)
    elif who == "reader":
        user = UserFactory()
        MembershipFactory(user=user, tenant=t.tenant, role=Role.GLOBAL_READER)
    else:
        user = UserFactory()
        MembershipFactory(user=user, tenant=t.tenant, role=Role.GLOBAL_ADMIN)
    client = _client(user)
    urls = _urls(world["ids"])
    # The stale cart belongs to the second tenant: its admin opens its checkout.
    cart_urls = [u for u in urls if "/carts/" in u]
    second_client = _client(second.admin)
    before = _database_snapshot()

    statuses = _get_every_page(client, urls)
    statuses |= _get_every_page(
        second_client, [u.replace(t.tenant.slug, second.tenant.slug) for u in cart_urls]
    )

    assert _database_snapshot() == before
    assert 500 not in statuses.values(), statuses
    # The crawl reached real pages, not only refusals.
    assert sum(status == 200 for status in statuses.values()) >= 10, statuses


def test_every_partial_answer_varies_on_hx_request_and_history_restore_gets_the_page(world):
    """Any page that answers htmx with a fragment goes through portal.htmx.page_or_partial."""
    t = world["t"]
    user = UserFactory()
    MembershipFactory(user=user, tenant=t.tenant, role=Role.GLOBAL_ADMIN)
    client = _client(user)
    fragments = []
    for url in _urls(world["ids"]):
        response = client.get(url, headers={"HX-Request": "true"})
        # A streamed download (the report's CSV) is no fragment.
        if response.status_code != 200 or response.streaming or b"<html" in response.content:
            continue
        fragments.append(url)
        assert "HX-Request" in response.get("Vary", ""), url
        restored = client.get(
            url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
        )
        assert b"<html" in restored.content, url

    # The crawl met the partial pages (Your products, subscription, notifications, status).
    assert len(fragments) >= 4, fragments
