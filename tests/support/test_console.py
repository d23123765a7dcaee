"""The support console: who may see it, search, and the audited actions that need a reason."""

import datetime as dt

import pytest
from django.test import Client, override_settings
from django.urls import URLPattern, reverse

from portal import clock
from portal.models import AdminLock, AuditEvent, Role, ServiceIncident
from portal.selectors import TenantAccess
from portal.services import admin_lock_acquire
from support import urls as support_urls
from upgrades import engine
from upgrades.models import RunState, UpgradeRun
from upgrades.selectors import eligibility_for

from ..factories import MembershipFactory, UserFactory
from .conftest import place, upgrade_tenant

pytestmark = pytest.mark.django_db


def _support_urls(**args):
    """Every URL of the console (so that a new one is covered without editing this test)."""
    args = {
        "run_id": 1,
        "tenant_slug": "tenant-x",
        "incident_id": 1,
        "support_request_id": 1,
        **args,
    }
    for pattern in support_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {name: args[name] for name in pattern.pattern.converters}
        yield reverse(pattern.name, kwargs=kwargs)


@pytest.fixture
def locked_failed_run():
    """A failed run whose lock was left behind (what "stuck" means)."""
    t = upgrade_tenant(users=3, card_token="tok_decline")
    run = place(t)
    engine.run_advance(run_id=run.pk)
    admin_lock_acquire(tenant=t.tenant, holder=run, reason="upgrade")
    t.run = run
    return t


@pytest.mark.parametrize("role", list(Role))
def test_a_tenant_admin_gets_404_on_every_support_url(role):
    t = upgrade_tenant(users=1)
    run = place(t)
    user = UserFactory()
    MembershipFactory(user=user, tenant=t.tenant, role=role)
    client = Client()
    client.force_login(user)
    incident = ServiceIncident.objects.create(title="x", opened_at=clock.now())

    urls = list(_support_urls(run_id=run.pk, tenant_slug=t.tenant.slug, incident_id=incident.pk))
    assert len(urls) == len(support_urls.urlpatterns)
    for url in urls:
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"reason": "r", "decision": "approve"}).status_code == 404, url
    assert UpgradeRun.objects.get(pk=run.pk).state == RunState.PLACED
    assert AdminLock.objects.filter(tenant=t.tenant).exists()


def test_a_signed_out_visitor_is_sent_to_sign_in():
    for url in _support_urls():
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.fixture
def actions(locked_failed_run):
    """Every support action as (url, data without reason, how to tell nothing happened)."""
    with override_settings(PORTAL_CREDIT_CHECK_THRESHOLD="0.00"):
        waiting = upgrade_tenant(users=2)
        waiting_run = place(waiting)
        engine.run_advance(run_id=waiting_run.pk)
    incident = ServiceIncident.objects.create(title="Slow", opened_at=clock.now())
    failed = locked_failed_run
    return {
        "approve": (
            reverse("support_run_credit_check", args=[waiting_run.pk]),
            {"decision": "approve"},
            lambda: (
                UpgradeRun.objects.get(pk=waiting_run.pk).state == RunState.AWAITING_CREDIT_CHECK
            ),
        ),
        "decline": (
            reverse("support_run_credit_check", args=[waiting_run.pk]),
            {"decision": "decline"},
            lambda: (
                UpgradeRun.objects.get(pk=waiting_run.pk).state == RunState.AWAITING_CREDIT_CHECK
            ),
        ),
        "retry": (
            reverse("support_run_retry", args=[failed.run.pk]),
            {},
            lambda: UpgradeRun.objects.get(pk=failed.run.pk).state == RunState.FAILED,
        ),
        "release lock": (
            reverse("support_lock_release", args=[failed.tenant.slug]),
            {},
            lambda: AdminLock.objects.filter(tenant=failed.tenant).exists(),
        ),
        "open incident": (
            reverse("support_incidents"),
            {"title": "Outage"},
            lambda: not ServiceIncident.objects.filter(title="Outage").exists(),
        ),
        "resolve incident": (
            reverse("support_incident_resolve", args=[incident.pk]),
            {},
            lambda: ServiceIncident.objects.get(pk=incident.pk).resolved_at is None,
        ),
    }


@pytest.mark.parametrize(
    "action", ["approve", "decline", "retry", "release lock", "open incident", "resolve incident"]
)
@pytest.mark.parametrize("reason", [None, "", "   \n "])
def test_every_action_without_a_reason_is_refused(support, actions, action, reason):
    url, data, unchanged = actions[action]
    if reason is not None:
        data = {**data, "reason": reason}
    events = AuditEvent.objects.count()

    response = support.client.post(url, data)

    assert response.status_code == 400
    assert "Write a reason" in response.content.decode()
    assert unchanged()
    assert AuditEvent.objects.count() == events


def test_a_stuck_lock_is_released_with_an_audit_event(support, locked_failed_run):
    t = locked_failed_run

    response = support.client.post(
        reverse("support_lock_release", args=[t.tenant.slug]), {"reason": "Run failed, lock left"}
    )

    assert response.status_code == 302
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()
    event = AuditEvent.objects.get(action="admin_lock.release")
    assert (event.tenant, event.actor, event.reason) == (
        t.tenant,
        support.user,
        "Run failed, lock left",
    )
    assert event.data["holder"] == {"type": ["upgrades", "upgraderun"], "id": t.run.pk}


def test_the_lock_of_a_run_still_going_is_not_released(support):
    t = upgrade_tenant(users=2)
    place(t)

    response = support.client.post(
        reverse("support_lock_release", args=[t.tenant.slug]), {"reason": "Impatient"}
    )

    assert response.status_code == 400
    assert "still holds this lock" in response.content.decode()
    assert AdminLock.objects.filter(tenant=t.tenant).exists()


def test_an_incident_makes_the_upgrade_tab_give_the_temporary_reason_until_resolved(support):
    t = upgrade_tenant(users=2)
    access = TenantAccess(user=t.admin, tenant=t.tenant, role=Role.GLOBAL_ADMIN)
    assert eligibility_for(access=access, subscription=t.e4).eligible

    support.client.post(
        reverse("support_incidents"),
        {"title": "Provisioning delays", "tenant": t.tenant.slug, "reason": "Ticket 42"},
    )

    blocked = eligibility_for(access=access, subscription=t.e4)
    assert not blocked.eligible
    assert all(r.temporary for r in blocked.reasons)
    incident = ServiceIncident.objects.get(title="Provisioning delays")
    assert incident.tenant == t.tenant
    assert AuditEvent.objects.get(action="incident.open").reason == "Ticket 42"

    support.client.post(
        reverse("support_incident_resolve", args=[incident.pk]), {"reason": "Fixed upstream"}
    )

    assert eligibility_for(access=access, subscription=t.e4).eligible
    assert AuditEvent.objects.get(action="incident.resolve").reason == "Fixed upstream"


def test_an_incident_for_an_unknown_organisation_is_refused(support):
    response = support.client.post(
        reverse("support_incidents"), {"title": "x", "tenant": "nobody", "reason": "r"}
    )

    assert response.status_code == 400
    assert not ServiceIncident.objects.exists()


def test_runs_are_found_by_tenant_state_and_age(support, locked_failed_run):
    old = upgrade_tenant(users=1)
    old_run = place(old)
    UpgradeRun.objects.filter(pk=old_run.pk).update(placed_at=clock.now() - dt.timedelta(days=3))
    failed = locked_failed_run.run

    def found(**query):
        page = support.client.get(reverse("support_runs"), query).content.decode()
        return {pk for pk in (old_run.pk, failed.pk) if f'data-run="{pk}"' in page}

    assert found() == {old_run.pk, failed.pk}
    assert found(tenant=old.tenant.name) == {old_run.pk}
    assert found(tenant=locked_failed_run.tenant.slug) == {failed.pk}
    assert found(state="failed") == {failed.pk}
    assert found(state="placed") == {old_run.pk}
    assert found(age="gt1d") == {old_run.pk}
    assert found(age="lt1d") == {failed.pk}
    assert found(state="failed", age="gt1d") == set()


def test_the_console_lists_tenants_waiting_runs_failed_runs_and_locks(support, locked_failed_run):
    t = locked_failed_run

    page = support.client.get(reverse("support_console"), {"q": t.tenant.slug}).content.decode()

    assert t.tenant.name in page
    assert f'data-run="{t.run.pk}"' in page
    assert f'data-lock-holder="{t.run.pk}"' in page


def test_the_tenant_page_shows_its_lock_runs_and_audit(support, locked_failed_run):
    t = locked_failed_run

    page = support.client.get(reverse("support_tenant", args=[t.tenant.slug])).content.decode()

    assert f'data-lock-holder="{t.run.pk}"' in page
    assert f'data-run="{t.run.pk}"' in page
    assert "upgrade.place" in page


def test_support_engineers_change_nothing_through_tenant_pages_or_the_api(support):
    t = upgrade_tenant(users=2)

    response = support.client.post(
        reverse("users_licenses", args=[t.tenant.slug]),
        {"action": "unassign", "users": [t.users[0].pk], "unassign_from": t.e4.pk},
    )

    assert response.status_code == 403
    page = support.client.post(reverse("api_tokens", args=[t.tenant.slug]), {"name": "mine"})
    assert page.status_code == 403
    assert not t.tenant.memberships.filter(api_tokens__isnull=False).exists()


def test_support_pages_cost_a_bounded_number_of_queries(
    support, locked_failed_run, django_assert_max_num_queries
):
    for _ in range(3):
        place(upgrade_tenant(users=1))
    t = locked_failed_run

    with django_assert_max_num_queries(25):
        support.client.get(reverse("support_console"))
    with django_assert_max_num_queries(25):
        support.client.get(reverse("support_runs"))
    with django_assert_max_num_queries(25):
        support.client.get(reverse("support_run", args=[t.run.pk]))
    with django_assert_max_num_queries(25):
        support.client.get(reverse("support_tenant", args=[t.tenant.slug]))
