"""The status poll: the request an open status page sends every second while an upgrade runs.
It is the busiest request of the portal, so it is pinned to two queries (the user, and the run
read with the caller's access; the session comes from the Redis cache) whatever the tenant's
size and the run's state (docs/PERFORMANCE.md)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.models import Role
from tests.upgrades.conftest import make_e4_tenant, place
from upgrades import engine
from upgrades.models import RunState

pytestmark = pytest.mark.django_db

POLL = {"HX-Request": "true"}


def poll_queries(client, url) -> tuple[object, list[str]]:
    client.get(url, headers=POLL)  # the first request of a session fills the cache
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=POLL)
    assert response.status_code == 200
    return response, [q["sql"] for q in queries.captured_queries]


@pytest.mark.parametrize("users", [3, 400])
def test_the_status_poll_costs_two_queries_whatever_the_tenant_size(client, users):
    t = make_e4_tenant(users=users)
    run = place(t)
    client.force_login(t.admin)
    url = reverse("upgrade_status", args=[t.tenant.slug, run.pk])
    response, queries = poll_queries(client, url)
    assert len(queries) <= 2, queries
    assert b'hx-trigger="every 1s"' in response.content


def test_the_poll_stays_at_two_queries_in_every_step_and_when_finished(client, settings):
    settings.PORTAL_UPGRADE_BATCH_SIZE = 2
    t = make_e4_tenant(users=5)
    run = place(t)
    client.force_login(t.admin)
    url = reverse("upgrade_status", args=[t.tenant.slug, run.pk])
    seen = set()
    while True:
        run.refresh_from_db()
        response, queries = poll_queries(client, url)
        assert len(queries) <= 2, (run.state, queries)
        seen.add(run.state)
        if run.is_terminal:
            break
        engine.run_step(run_id=run.pk)
    assert {RunState.MOVING_LICENSES, RunState.COMPLETED} <= seen
    # The finished run's fragment loads its invoices with a request of its own.
    assert b"order-invoices-slot" in response.content
    invoices = client.get(reverse("upgrade_status_invoices", args=[t.tenant.slug, run.pk]))
    assert invoices.status_code == 200 and b'id="order-invoices"' in invoices.content
    # The whole page shows them at once.
    page = client.get(url)
    assert b'id="order-invoices"' in page.content and b"order-invoices-slot" not in page.content


def test_the_poll_keeps_the_tenant_scope_and_the_role_check(client, admin_for):
    t = make_e4_tenant(users=3)
    other = make_e4_tenant(users=3)
    run = place(t)
    other_run = place(other)
    client.force_login(t.admin)
    foreign = reverse("upgrade_status", args=[t.tenant.slug, other_run.pk])
    assert client.get(foreign, headers=POLL).status_code == 404
    wrong_tenant = reverse("upgrade_status", args=[other.tenant.slug, run.pk])
    assert client.get(wrong_tenant, headers=POLL).status_code == 404
    invoices = reverse("upgrade_status_invoices", args=[t.tenant.slug, other_run.pk])
    assert client.get(invoices).status_code == 404
    reader, _user = admin_for(t.tenant, role=Role.GLOBAL_READER)
    mine = reverse("upgrade_status", args=[t.tenant.slug, run.pk])
    assert reader.get(mine, headers=POLL).status_code == 200
    client.logout()
    signed_out = client.get(mine, headers=POLL)  # htmx is told to go to the sign-in page
    assert signed_out["HX-Redirect"].startswith(reverse("login"))
