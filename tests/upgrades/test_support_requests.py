"""Contact support from the admin center: a request tied to the subscription or run it is
about, sent by any admin role, also while an upgrade locks the tenant, within a limit of open
requests; the Upgrade tab and the status page carry the action."""

import pytest
from django.urls import reverse

from portal.errors import DomainError
from portal.models import AdminLock, AuditEvent, Role
from tests.factories import UserFactory
from upgrades import engine
from upgrades.help import MAX_OPEN_REQUESTS
from upgrades.models import RunState, SupportRequest

from .conftest import make_e4_tenant, place

pytestmark = pytest.mark.django_db


def help_url(t, **params):
    url = reverse("support_request_create", args=[t.tenant.slug])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def send(client, t, *, message="Users cannot sign in.", topic="upgrade_failed", **ids):
    return client.post(help_url(t), {"topic": topic, "message": message, **ids})


def test_an_admin_sends_a_request_about_a_run_and_sees_its_number(client):
    t = make_e4_tenant(users=3)
    run = place(t)
    client.force_login(t.admin)

    form = client.get(help_url(t, run=run.pk, subscription=t.e4.pk))
    response = send(client, t, run=run.pk, subscription=t.e4.pk)

    assert form.status_code == 200
    assert b'id="support-request-about"' in form.content and b"Office 365 E5" in form.content
    request = SupportRequest.objects.get(tenant=t.tenant)
    assert (request.run_id, request.subscription_id, request.topic) == (
        run.pk,
        t.e4.pk,
        "upgrade_failed",
    )
    assert request.state == "open" and request.created_by == t.admin
    assert response.status_code == 302 and response["Location"].endswith(f"?sent={request.pk}")
    confirmation = client.get(response["Location"]).content.decode()
    assert f"Request #{request.pk} was sent to support." in confirmation
    assert 'data-state="open"' in confirmation and "Users cannot sign in." in confirmation
    assert AuditEvent.objects.filter(
        tenant=t.tenant, action="support_request.create", target=f"support_request:{request.pk}"
    ).exists()


def test_the_run_alone_names_its_subscription_and_the_topic_follows_the_run(client):
    t = make_e4_tenant(users=3)
    run = place(t)
    client.force_login(t.admin)

    form = client.get(help_url(t, run=run.pk)).content.decode()
    send(client, t, run=run.pk, topic="upgrade")

    assert 'value="upgrade" selected' in form
    assert SupportRequest.objects.get().subscription_id == t.e4.pk


def test_a_locked_out_reader_can_still_ask_for_help(client, admin_for):
    t = make_e4_tenant(users=3)
    place(t)
    assert AdminLock.objects.filter(tenant=t.tenant).exists()
    reader, _user = admin_for(t.tenant, role=Role.GLOBAL_READER)
    # Elsewhere the admin center is locked.
    assert reader.get(reverse("products", args=[t.tenant.slug])).status_code == 423

    assert reader.get(help_url(t)).status_code == 200
    response = send(reader, t, topic="other")

    assert response.status_code == 302
    assert SupportRequest.objects.filter(tenant=t.tenant).count() == 1


def test_another_tenants_run_or_subscription_is_not_found(client):
    t = make_e4_tenant(users=3)
    other = make_e4_tenant(users=3)
    other_run = place(other)
    client.force_login(t.admin)

    assert client.get(help_url(t, run=other_run.pk)).status_code == 404
    assert client.get(help_url(t, subscription=other.e4.pk)).status_code == 404
    assert client.get(help_url(t, run="abc")).status_code == 404
    assert send(client, t, run=other_run.pk).status_code == 404
    assert send(client, t, subscription=other.e4.pk).status_code == 404
    assert not SupportRequest.objects.exists()
    # Nor can another tenant's request be shown as sent.
    client.force_login(other.admin)
    send(client, other)
    client.force_login(t.admin)
    sent = SupportRequest.objects.get()
    assert client.get(help_url(t, sent=sent.pk)).status_code == 404


def test_a_request_needs_a_message_and_a_known_topic(client):
    t = make_e4_tenant(users=3)
    client.force_login(t.admin)

    empty = send(client, t, message="   ")
    unknown = send(client, t, topic="refund-me-now")
    too_long = send(client, t, message="x" * 4001)

    assert empty.status_code == unknown.status_code == too_long.status_code == 400
    assert b"Write what support should know." in empty.content
    assert not SupportRequest.objects.exists()


def test_at_most_ten_requests_wait_for_an_answer(client):
    t = make_e4_tenant(users=3)
    client.force_login(t.admin)
    for n in range(MAX_OPEN_REQUESTS):
        assert send(client, t, message=f"Question {n}").status_code == 302

    refused = send(client, t, message="One more")

    assert refused.status_code == 400
    assert b"already has 10 requests waiting for an answer" in refused.content
    assert SupportRequest.objects.filter(tenant=t.tenant).count() == MAX_OPEN_REQUESTS
    # An answered request no longer counts.
    SupportRequest.objects.filter(pk=SupportRequest.objects.first().pk).update(state="answered")
    assert send(client, t, message="Now it fits").status_code == 302


def test_a_support_engineer_cannot_send_a_request_for_a_tenant(client):
    t = make_e4_tenant(users=3)
    client.force_login(UserFactory(is_staff=True))

    assert client.get(help_url(t)).status_code == 200
    response = send(client, t)

    assert response.status_code == 403
    assert not SupportRequest.objects.exists()


def test_the_upgrade_tab_and_the_status_page_offer_contact_support(client, monkeypatch):
    t = make_e4_tenant(users=3)
    run = place(t)
    client.force_login(t.admin)
    status = reverse("upgrade_status", args=[t.tenant.slug, run.pk])

    waiting = client.get(status).content.decode()

    # The run names its subscription (which may be long deleted when the report is read).
    link = f'{help_url(t)}?run={run.pk}"'
    assert link in waiting and 'class="alert error" id="status-help"' not in waiting

    def refuse(run):
        raise DomainError("The simulated service refused.", code="injected")

    monkeypatch.setitem(engine.STEP_HANDLERS, RunState.PROVISIONING, refuse)
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED

    failed = client.get(status).content.decode()
    tab = client.get(reverse("upgrade_tab", args=[t.tenant.slug, t.e4.pk])).content.decode()

    assert 'class="alert error" id="status-help"' in failed and link in failed
    assert f"{help_url(t)}?subscription={t.e4.pk}&amp;run={run.pk}" in tab
    assert reverse("upgrade_report", args=[t.tenant.slug, run.pk]) in tab
