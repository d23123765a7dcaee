"""Support engineers unblock upgrades: credit-check decisions and retries, with reasons."""

import pytest
from django.test import override_settings
from django.urls import reverse

from billing.models import BillingProfile, CreditCheck
from licensing.models import LicenseAssignment
from portal.models import AdminLock, AuditEvent, Notification
from upgrades import engine
from upgrades.models import RunState, UpgradeRun

from .conftest import place, upgrade_tenant

pytestmark = pytest.mark.django_db


def _run(run) -> UpgradeRun:
    return UpgradeRun.objects.get(pk=run.pk)


def _holders(subscription_id) -> int:
    return LicenseAssignment.objects.filter(subscription_id=subscription_id).count()


@pytest.fixture
def awaiting():
    """A placed upgrade that stopped for a credit check (every order needs one here)."""
    with override_settings(PORTAL_CREDIT_CHECK_THRESHOLD="0.00"):
        t = upgrade_tenant(users=10)
        run = place(t)
        engine.run_advance(run_id=run.pk)
    assert _run(run).state == RunState.AWAITING_CREDIT_CHECK
    t.run = run
    return t


@pytest.fixture
def failed():
    """An upgrade whose card was declined while buying the new plan."""
    t = upgrade_tenant(users=10, card_token="tok_decline")
    run = place(t)
    engine.run_advance(run_id=run.pk)
    assert _run(run).state == RunState.FAILED
    t.run = run
    return t


def test_a_support_engineer_approves_a_pending_credit_check_and_the_run_proceeds(
    support, awaiting, worker
):
    with worker():
        response = support.client.post(
            reverse("support_run_credit_check", args=[awaiting.run.pk]),
            {"decision": "approve", "reason": "Customer in good standing"},
        )

    assert response.status_code == 302
    run = _run(awaiting.run)
    assert run.state == RunState.COMPLETED
    assert _holders(run.new_subscription_id) == 10
    assert _holders(awaiting.e4.pk) == 0
    assert CreditCheck.objects.get(order_id=run.order_id).state == CreditCheck.State.APPROVED
    event = AuditEvent.objects.get(action="credit_check.approve", tenant=awaiting.tenant)
    assert event.actor == support.user
    assert event.reason == "Customer in good standing"
    worker.delay.assert_called_once_with(run.pk)


def test_a_declined_credit_check_ends_the_run_and_releases_the_lock(support, awaiting, worker):
    with worker():
        support.client.post(
            reverse("support_run_credit_check", args=[awaiting.run.pk]),
            {"decision": "decline", "reason": "Overdue elsewhere"},
        )

    assert _run(awaiting.run).state == RunState.DECLINED
    assert not AdminLock.objects.filter(tenant=awaiting.tenant).exists()
    assert _holders(awaiting.e4.pk) == 10
    assert AuditEvent.objects.filter(action="credit_check.decline", reason="Overdue elsewhere")


def test_a_support_engineer_retries_a_failed_run_and_it_completes(support, failed, worker):
    assert _holders(failed.e4.pk) == 10
    BillingProfile.objects.filter(tenant=failed.tenant).update(card_token="tok_visa")

    with worker():
        response = support.client.post(
            reverse("support_run_retry", args=[failed.run.pk]),
            {"reason": "Customer replaced the card"},
        )

    assert response.status_code == 302
    run = _run(failed.run)
    assert run.state == RunState.COMPLETED
    assert _holders(run.new_subscription_id) == 10
    retry = AuditEvent.objects.get(action="upgrade.retry", tenant=failed.tenant)
    assert (retry.actor, retry.reason) == (support.user, "Customer replaced the card")
    assert retry.data["step"] == RunState.PROVISIONING


def test_the_timeline_shows_every_state_change_with_time_actor_and_reason(support, failed, worker):
    BillingProfile.objects.filter(tenant=failed.tenant).update(card_token="tok_visa")
    with worker():
        support.client.post(
            reverse("support_run_retry", args=[failed.run.pk]), {"reason": "Card ok"}
        )

    page = support.client.get(reverse("support_run", args=[failed.run.pk])).content.decode()

    timeline = page[page.index('id="timeline"') :]
    timeline = timeline[: timeline.index("</table>")]
    for state in ("placed", "provisioning", "failed", "moving_licenses", "completed"):
        # Each state in words, in its badge (the code rides along only as an attribute).
        assert f'data-state="{state}">{RunState(state).label}</span>' in timeline
        assert f">{state}<" not in timeline
    assert "support@test" in timeline and "Card ok" in timeline


def test_the_run_page_shows_the_failure_and_offers_a_retry(support, failed):
    page = support.client.get(reverse("support_run", args=[failed.run.pk])).content.decode()

    assert 'id="failure-reason"' in page
    assert 'id="retry-action"' in page
    assert 'id="credit-check-action"' not in page


def test_a_run_that_is_not_waiting_cannot_be_approved(support, failed):
    response = support.client.post(
        reverse("support_run_credit_check", args=[failed.run.pk]),
        {"decision": "approve", "reason": "oops"},
    )

    assert response.status_code == 400
    assert "not waiting for a credit check" in response.content.decode()
    assert _run(failed.run).state == RunState.FAILED


def test_the_admin_is_notified_of_a_pending_credit_check_with_a_link_to_the_status_page(
    awaiting, client
):
    client.force_login(awaiting.admin)
    status_url = reverse("upgrade_status", args=[awaiting.tenant.slug, awaiting.run.pk])

    page = client.get(reverse("notifications", args=[awaiting.tenant.slug]))

    assert page.status_code == 200  # reachable while the admin center is locked
    note = Notification.objects.get(tenant=awaiting.tenant)
    assert note.link == status_url
    assert "credit check" in note.message
    assert f'href="{status_url}"' in page.content.decode()


def test_the_admin_is_notified_when_the_upgrade_finished_or_failed(
    support, awaiting, failed, worker, client
):
    with worker():
        support.client.post(
            reverse("support_run_credit_check", args=[awaiting.run.pk]),
            {"decision": "approve", "reason": "ok"},
        )

    for t, level in ((awaiting, Notification.Level.SUCCESS), (failed, Notification.Level.ERROR)):
        note = Notification.objects.filter(tenant=t.tenant).first()
        assert note.level == level
        assert note.link == reverse("upgrade_status", args=[t.tenant.slug, t.run.pk])
        client.force_login(t.admin)
        assert (
            note.link in client.get(reverse("tenant_home", args=[t.tenant.slug])).content.decode()
        )
