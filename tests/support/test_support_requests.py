"""The support console's side of Contact support and of scheduled upgrades: the requests queue
(open first), answering one (audited, the tenant notified), a run's requests and report, the
scheduled runs on the console's home and in the run search."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from portal import clock
from portal.models import AuditEvent, Notification
from portal.selectors import TenantAccess
from tests.factories import UserFactory
from tests.upgrades.conftest import checkout, make_e4_tenant, place
from upgrades import engine, services
from upgrades.help import support_request_create
from upgrades.models import RunState, SupportRequest
from upgrades.services import window_words

pytestmark = pytest.mark.django_db


def ask(t, *, message="Help", run=None, topic="other"):
    membership = t.admin.memberships.get(tenant=t.tenant)
    access = TenantAccess(user=t.admin, tenant=t.tenant, role=membership.role)
    return support_request_create(
        access=access, topic=topic, message=message, run=run, subscription=t.e4
    )


def test_the_queue_lists_open_requests_first_with_their_tenant_and_subject(support_client):
    t = make_e4_tenant(users=3)
    run = place(t)
    answered = ask(t, message="Old question")
    SupportRequest.objects.filter(pk=answered.pk).update(
        state="answered", answer="Done", answered_at=clock.now()
    )
    waiting = ask(t, message="Why is it slow?", run=run, topic="upgrade")

    page = support_client.get(reverse("support_requests")).content.decode()

    assert page.index(f'data-request="{waiting.pk}"') < page.index(f'data-request="{answered.pk}"')
    assert t.tenant.name in page and "Why is it slow?" in page
    assert reverse("support_run", args=[run.pk]) in page
    assert reverse("subscription_detail", args=[t.tenant.slug, t.e4.pk]) in page
    assert "A question about an upgrade" in page


def test_the_console_is_support_only(client):
    t = make_e4_tenant(users=3)
    request = ask(t)
    client.force_login(t.admin)

    assert client.get(reverse("support_requests")).status_code == 404
    assert client.get(reverse("support_request", args=[request.pk])).status_code == 404
    answer = client.post(reverse("support_request_answer", args=[request.pk]), {"answer": "x"})
    assert answer.status_code == 404
    assert SupportRequest.objects.get().state == "open"


def test_answering_a_request_audits_it_and_notifies_the_tenant(support_client):
    t = make_e4_tenant(users=3)
    request = ask(t, message="Can we move the window?")
    url = reverse("support_request_answer", args=[request.pk])

    detail = support_client.get(reverse("support_request", args=[request.pk]))
    response = support_client.post(url, {"answer": "Yes: use Reschedule on the status page."})

    assert detail.status_code == 200 and b"Can we move the window?" in detail.content
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == "answered" and request.answer.startswith("Yes: use Reschedule")
    assert request.answered_by.is_staff and request.answered_at is not None
    event = AuditEvent.objects.get(action="support_request.answer")
    assert event.tenant == t.tenant and event.target == f"support_request:{request.pk}"
    note = Notification.objects.get(tenant=t.tenant, message__contains='"support.notify.answered"')
    assert f"#{request.pk}" in note.message and "Reschedule" in note.message
    assert note.link == reverse("support_request_create", args=[t.tenant.slug]) + (
        f"#request-{request.pk}"
    )
    # The admins read the answer on their requests page.
    admin = Client()
    admin.force_login(t.admin)
    assert b"use Reschedule on the status page" in admin.get(note.link.split("#")[0]).content


def test_an_answer_is_required_and_given_once(support_client):
    t = make_e4_tenant(users=3)
    request = ask(t)
    url = reverse("support_request_answer", args=[request.pk])

    empty = support_client.post(url, {"answer": "  "})
    assert empty.status_code == 400 and b"Write the answer the admins will read." in empty.content
    assert support_client.post(url, {"answer": "First"}).status_code == 302
    again = support_client.post(url, {"answer": "Second"})

    assert again.status_code == 400
    request.refresh_from_db()
    assert request.answer == "First"
    assert Notification.objects.filter(message__contains='"support.notify.answered"').count() == 1


def test_answering_needs_the_csrf_token():
    t = make_e4_tenant(users=3)
    request = ask(t)
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(is_staff=True))

    response = client.post(reverse("support_request_answer", args=[request.pk]), {"answer": "x"})

    assert response.status_code == 403
    assert SupportRequest.objects.get().state == "open"


def test_the_run_page_lists_its_requests_and_links_the_report(support_client):
    t = make_e4_tenant(users=3)
    run = place(t)
    request = ask(t, run=run, message="Stuck?")
    url = reverse("support_run", args=[run.pk])
    report = reverse("upgrade_report", args=[t.tenant.slug, run.pk])

    running = support_client.get(url).content.decode()
    engine.run_advance(run_id=run.pk)
    finished = support_client.get(url).content.decode()

    assert f'data-request="{request.pk}"' in running and report not in running
    assert report in finished
    assert support_client.get(report).status_code == 200


def _scheduled_run(t, *, start):
    cart = checkout(t)
    cart.scheduled_for = start
    cart.save(update_fields=["scheduled_for"])
    return services.upgrade_place(
        tenant=t.tenant, actor=t.admin, cart=cart, idempotency_key=cart.checkout_token
    )


def test_the_console_home_lists_scheduled_upgrades_in_utc_and_the_tenants_time(support_client):
    t = make_e4_tenant(users=3)
    t.tenant.time_zone = "Europe/Stockholm"
    t.tenant.save(update_fields=["time_zone"])
    start = (clock.now() + dt.timedelta(days=3)).replace(hour=22, minute=0, second=0, microsecond=0)
    run = _scheduled_run(t, start=start)
    assert run.state == RunState.SCHEDULED
    placed = place(make_e4_tenant(users=2))

    page = support_client.get(reverse("support_console")).content.decode()

    section = page[page.index('id="scheduled-runs"') :]
    section = section[: section.index("</section>")]
    assert f'data-run="{run.pk}"' in section and f'data-run="{placed.pk}"' not in section
    assert t.tenant.name in section and "Office 365 E5" in section
    assert start.strftime("%Y-%m-%d 22:00") in section
    local = start.astimezone(ZoneInfo("Europe/Stockholm"))
    assert local.hour in (23, 0)
    # As every page writes a window: the tenant's time with its zone's name.
    assert window_words(local, time_zone="Europe/Stockholm") in section
    assert "Europe/Stockholm" in section


def test_the_run_search_finds_scheduled_and_cancelled_runs(support_client):
    t = make_e4_tenant(users=3)
    run = _scheduled_run(t, start=clock.now() + dt.timedelta(days=2))

    scheduled = support_client.get(reverse("support_runs"), {"state": "scheduled"})
    cancelled = support_client.get(reverse("support_runs"), {"state": "cancelled"})

    assert scheduled.status_code == cancelled.status_code == 200
    assert f'data-run="{run.pk}"' in scheduled.content.decode()
    assert f'data-run="{run.pk}"' not in cancelled.content.decode()
    assert b'<option value="cancelled" selected>' in cancelled.content
