"""The console's live pages: the run page, the run search, the console's home and a tenant's
page poll with htmx while a run on them is active and stop once it ended, in a fixed number of
queries, behind the same support check as the pages. And what they show: states, actions and
targets in words, progress with an accessible name, no "0 of 0" before moving starts."""

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from billing.models import BillingProfile
from portal import clock
from portal.models import AuditEvent, Role, ServiceIncident
from support import services as support_services
from support import urls as support_urls
from support.labels import ACTION_LABELS, action_label, run_state_label, target_label
from tests.factories import MembershipFactory, UserFactory
from tests.upgrades.conftest import checkout, make_e4_tenant, place
from upgrades import engine, services
from upgrades.models import RunState

pytestmark = pytest.mark.django_db

POLL = {"HX-Request": "true"}
# The run page's poll: the user, the run (with its tenant's lock), its credit check, its state
# changes and its audit events; the session comes from the cache.
RUN_POLL_QUERIES = 5


def _run_url(run) -> str:
    return reverse("support_run", args=[run.pk])


def _poll(client, url, **params):
    response = client.get(url, params, headers=POLL)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _trigger(html: str) -> str | None:
    found = re.search(r'hx-trigger="([^"]*)"', html)
    return found.group(1) if found else None


def _scheduled(t):
    cart = checkout(t)
    cart.scheduled_for = clock.now() + dt.timedelta(days=2)
    cart.save(update_fields=["scheduled_for"])
    return services.upgrade_place(
        tenant=t.tenant, actor=t.admin, cart=cart, idempotency_key=cart.checkout_token
    )


def _awaiting(t):
    with override_settings(PORTAL_CREDIT_CHECK_THRESHOLD="0.00"):
        run = place(t)
        engine.run_advance(run_id=run.pk)
    run.refresh_from_db()
    assert run.state == RunState.AWAITING_CREDIT_CHECK
    return run


def _ended(kind: str):
    """A run that ended in each of the four final states."""
    if kind == "completed":
        t = make_e4_tenant(users=3)
        run = place(t)
        engine.run_advance(run_id=run.pk)
    elif kind == "failed":
        t = make_e4_tenant(users=3, card_token="tok_decline")
        run = place(t)
        engine.run_advance(run_id=run.pk)
    elif kind == "declined":
        t = make_e4_tenant(users=3)
        run = _awaiting(t)
        support_services.support_credit_check_decide(
            run=run, approve=False, actor=UserFactory(is_staff=True), reason="no"
        )
    else:
        t = make_e4_tenant(users=3)
        run = _scheduled(t)
        services.upgrade_run_cancel(tenant=t.tenant, actor=t.admin, run_id=run.pk)
    run.refresh_from_db()
    assert run.state == kind
    return run


# --- The run page's poll -------------------------------------------------------------------


def test_the_run_page_polls_every_second_while_the_run_works(support_client):
    run = place(make_e4_tenant(users=3))

    page = support_client.get(_run_url(run)).content.decode()
    fragment = _poll(support_client, _run_url(run), shown=run.state)

    assert _trigger(page) == "every 1s"
    assert f'hx-get="{_run_url(run)}?shown=placed"' in page
    assert _trigger(fragment) == "every 1s"
    assert "<html" not in fragment and 'id="run-summary"' in fragment
    # The timeline and the audit events come along, swapped out of band.
    assert 'id="run-history" hx-swap-oob="true"' in fragment
    assert 'id="run-history" hx-swap-oob' not in page


def test_a_scheduled_run_is_polled_every_30_seconds(support_client):
    run = _scheduled(make_e4_tenant(users=3))
    assert _trigger(_poll(support_client, _run_url(run), shown=run.state)) == "every 30s"


@pytest.mark.parametrize("kind", ["completed", "failed", "declined", "cancelled"])
def test_a_finished_run_is_shown_without_a_trigger_so_the_polling_stops(support_client, kind):
    run = _ended(kind)

    page = support_client.get(_run_url(run)).content.decode()
    fragment = _poll(support_client, _run_url(run), shown=run.state)

    assert "hx-trigger" not in page and "hx-trigger" not in fragment
    assert f'data-state="{kind}"' in fragment


def test_the_last_poll_of_a_run_shows_its_final_state_and_stops(support_client, settings):
    settings.PORTAL_UPGRADE_BATCH_SIZE = 2
    run = place(make_e4_tenant(users=5))
    seen = []
    while True:
        run.refresh_from_db()
        fragment = _poll(support_client, _run_url(run), shown=RunState.PLACED)
        seen.append((run.state, _trigger(fragment)))
        if run.is_terminal:
            break
        engine.run_step(run_id=run.pk)

    assert {state for state, _ in seen} >= {RunState.MOVING_LICENSES, RunState.COMPLETED}
    assert all(trigger == "every 1s" for state, trigger in seen if state != "completed")
    assert seen[-1] == (RunState.COMPLETED, None)
    assert 'id="run-progress">5 of 5 users moved' in fragment
    assert 'id="run-report"' in fragment  # the report's link appears without a reload


@pytest.mark.parametrize("users", [3, 300])
def test_the_run_poll_costs_a_fixed_number_of_queries_in_every_step(
    support_client, settings, django_assert_max_num_queries, users
):
    settings.PORTAL_UPGRADE_BATCH_SIZE = max(users // 3, 1)
    run = place(make_e4_tenant(users=users))
    _poll(support_client, _run_url(run))  # the session's first request fills the cache
    steps = 0
    while True:
        run.refresh_from_db()
        with django_assert_max_num_queries(RUN_POLL_QUERIES):
            _poll(support_client, _run_url(run), shown=run.state)
        if run.is_terminal:
            break
        engine.run_step(run_id=run.pk)
        steps += 1
    assert steps >= 4


def test_the_poll_reloads_the_page_when_the_run_now_needs_an_action(support_client):
    run = _awaiting(make_e4_tenant(users=3))

    # The page was shown while the run was being placed: it has no decision form yet.
    changed = support_client.get(_run_url(run), {"shown": "placed"}, headers=POLL)
    # The page shown already has the form: only the summary is swapped (a reason being typed
    # in the form is kept).
    same = support_client.get(_run_url(run), {"shown": run.state}, headers=POLL)

    assert changed.status_code == 200 and changed["HX-Refresh"] == "true"
    assert "HX-Refresh" not in same and 'id="credit-check-action"' not in same.content.decode()
    assert "HX-Request" in changed["Vary"] and "HX-Request" in same["Vary"]


def test_the_polls_keep_the_support_check(client):
    t = make_e4_tenant(users=3)
    run = place(t)
    polled = [
        _run_url(run),
        reverse("support_runs"),
        reverse("support_console"),
        reverse("support_tenant", args=[t.tenant.slug]),
    ]
    admin = Client()
    admin.force_login(t.admin)
    reader = Client()
    reader.force_login(MembershipFactory(tenant=t.tenant, role=Role.GLOBAL_READER).user)

    for url in polled:
        assert admin.get(url, headers=POLL).status_code == 404, url
        assert reader.get(url, headers=POLL).status_code == 404, url
        signed_out = client.get(url, headers=POLL)  # htmx is told to go to the sign-in page
        assert signed_out["HX-Redirect"].startswith(reverse("login")), url


def test_a_history_restore_gets_the_whole_page(support_client):
    run = place(make_e4_tenant(users=3))
    restored = support_client.get(
        _run_url(run), headers={**POLL, "HX-History-Restore-Request": "true"}
    )
    assert b"<html" in restored.content and b'id="credit-check-action"' not in restored.content


# --- The run lists -------------------------------------------------------------------------


def test_the_run_search_polls_while_a_listed_run_is_active_and_keeps_its_filters(support_client):
    t = make_e4_tenant(users=3)
    run = place(t)
    url = reverse("support_runs")

    page = support_client.get(url, {"tenant": t.tenant.slug}).content.decode()
    fragment = _poll(support_client, url, tenant=t.tenant.slug)

    assert _trigger(page) == _trigger(fragment) == "every 2s"
    assert f'hx-get="{url}?tenant={t.tenant.slug}"' in fragment
    assert "<html" not in fragment and f'data-run="{run.pk}"' in fragment
    assert 'role="search"' not in fragment  # the search form is not swapped under the cursor


def test_the_run_search_stops_polling_when_every_listed_run_ended(
    support_client, django_assert_max_num_queries
):
    run = _ended("completed")
    url = reverse("support_runs")
    _poll(support_client, url)

    with django_assert_max_num_queries(2):  # the user and the runs
        fragment = _poll(support_client, url, state="completed")

    assert f'data-run="{run.pk}"' in fragment and _trigger(fragment) is None
    assert _trigger(support_client.get(url, {"state": "completed"}).content.decode()) is None


def test_a_list_of_runs_that_only_wait_for_their_window_polls_slowly(support_client):
    _scheduled(make_e4_tenant(users=3))
    fragment = _poll(support_client, reverse("support_runs"), state="scheduled")
    assert _trigger(fragment) == "every 30s"


def test_the_console_home_lists_the_runs_in_progress_and_polls_them(
    support_client, django_assert_max_num_queries
):
    running = place(make_e4_tenant(users=3))
    failed = _ended("failed")
    url = reverse("support_console")
    _poll(support_client, url)

    with django_assert_max_num_queries(4):  # the user and the three lists
        fragment = _poll(support_client, url)

    section = fragment[fragment.index('id="running-runs"') : fragment.index('id="waiting-runs"')]
    assert f'data-run="{running.pk}"' in section and f'data-run="{failed.pk}"' not in section
    assert f'data-run="{failed.pk}"' in fragment[fragment.index('id="failed-runs"') :]
    assert _trigger(fragment) == "every 2s" and "<html" not in fragment

    engine.run_advance(run_id=running.pk)
    assert _trigger(_poll(support_client, url)) is None


def test_the_tenant_page_polls_its_runs_while_one_is_active(support_client):
    t = make_e4_tenant(users=3)
    run = place(t)
    url = reverse("support_tenant", args=[t.tenant.slug])

    assert _trigger(_poll(support_client, url)) == "every 2s"
    engine.run_advance(run_id=run.pk)
    fragment = _poll(support_client, url)

    assert _trigger(fragment) is None and 'data-state="completed"' in fragment
    assert 'id="billing"' not in fragment


# --- Words, not codes ----------------------------------------------------------------------


class _Text(HTMLParser):
    """The text a reader sees (no attributes, no markup)."""

    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def _text_nodes(html: str) -> set[str]:
    parser = _Text()
    parser.feed(html)
    return {part.strip() for part in parser.parts if part.strip()}


def _visible_text(html: str) -> str:
    return " ".join(sorted(_text_nodes(html)))


def _section(html: str, marker: str) -> str:
    """The table whose opening tag holds `marker`, from its "<"."""
    start = html.rindex("<", 0, html.index(marker))
    return html[start : html.index("</table>", start)]


def test_the_timeline_and_the_audit_events_read_in_words(support_client):
    t = make_e4_tenant(users=3, card_token="tok_decline")
    run = place(t)
    engine.run_advance(run_id=run.pk)
    BillingProfile.objects.filter(tenant=t.tenant).update(card_token="tok_visa")
    support_services.support_run_retry(
        run=run, actor=UserFactory(is_staff=True), reason="Card replaced"
    )
    engine.run_advance(run_id=run.pk)

    page = support_client.get(_run_url(run)).content.decode()
    timeline_nodes = _text_nodes(_section(page, 'id="timeline"'))
    audit_html = _section(page, 'id="run-audit"')
    audit = _visible_text(audit_html)

    for state in ("placed", "provisioning", "failed", "moving_licenses", "completed"):
        assert str(RunState(state).label) in timeline_nodes
        assert state not in timeline_nodes
    actions = set(AuditEvent.objects.filter(tenant=t.tenant).values_list("action", flat=True))
    assert {"upgrade.place", "upgrade.fail", "upgrade.retry", "upgrade.complete"} <= actions
    for action in ("upgrade.place", "upgrade.fail", "upgrade.retry", "upgrade.complete"):
        assert action_label(action) in audit and action not in audit
    assert "upgrade_run" not in audit and f"Upgrade {run.pk}" in audit
    assert f'<a href="{_run_url(run)}">Upgrade {run.pk}</a>' in audit_html


def test_the_tenant_page_names_actions_and_links_targets(support_client):
    t = make_e4_tenant(users=3)
    run = place(t)
    engine.run_advance(run_id=run.pk)
    run.refresh_from_db()

    page = support_client.get(reverse("support_tenant", args=[t.tenant.slug])).content.decode()
    audit_html = _section(page, 'id="tenant-audit"')
    audit = _visible_text(audit_html)

    for action in ("upgrade.place", "subscription.create", "upgrade.complete"):
        assert action_label(action) in audit and action not in audit
    assert re.search(r"\b(order|upgrade_run|subscription):\d", audit) is None
    new = run.new_subscription_id
    subscription_url = reverse("subscription_detail", args=[t.tenant.slug, new])
    assert f'<a href="{subscription_url}">Subscription {new}</a>' in audit_html
    assert f'<a href="{_run_url(run)}">Upgrade {run.pk}</a>' in audit_html


def test_an_unknown_code_is_shown_as_it_is():
    assert action_label("something.new") == "something.new"
    assert run_state_label("not_a_state") == "not_a_state"
    assert target_label("robot:7").text == "robot:7" and target_label("robot:7").url == ""
    assert target_label("").text == ""


def test_targets_read_as_words_with_a_link_where_there_is_a_page():
    assert target_label("upgrade_run:2").text == "Upgrade 2"
    assert target_label("upgrade_run:2").url == reverse("support_run", args=[2])
    assert target_label("subscription:5", tenant_slug="acme").text == "Subscription 5"
    assert target_label("subscription:5", tenant_slug="acme").url == reverse(
        "subscription_detail", args=["acme", 5]
    )
    assert target_label("subscription:5").url == ""  # no tenant known: no link
    assert target_label("account:ann@example.test").text == "Account ann@example.test"
    assert target_label("upgrade_run:x").url == ""  # not an id: words, no link


def test_every_audited_action_of_the_code_has_words():
    """Every action code the apps record (found in their sources) is in the label table."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found = set()
    for app in ("portal", "billing", "licensing", "upgrades", "support"):
        for source in (root / app).rglob("*.py"):
            for line in source.read_text(encoding="utf-8").splitlines():
                if "action=" in line:
                    found |= set(re.findall(r'"([a-z_]+\.[a-z_]+)"', line))
    assert len(found) >= 30, found
    assert found - set(ACTION_LABELS) == set()


# --- Progress and tables -------------------------------------------------------------------


def test_before_moving_starts_the_run_page_says_so_instead_of_0_of_0(support_client):
    run = place(make_e4_tenant(users=3))

    page = support_client.get(_run_url(run)).content.decode()
    listed = support_client.get(reverse("support_runs")).content.decode()

    assert "0 of 0" not in page and "<progress" not in page
    assert "Moving has not started: the users are counted when it starts." in page
    row = listed[listed.index(f'data-run="{run.pk}"') :]
    assert "0 of 0" not in row[: row.index("</tr>")] and "Not started" in row[: row.index("</tr>")]


def test_the_progress_bar_has_a_name_and_its_numbers_in_text(support_client, settings):
    settings.PORTAL_UPGRADE_BATCH_SIZE = 2
    run = place(make_e4_tenant(users=5))
    while run.moved == 0 or run.state != RunState.MOVING_LICENSES:
        engine.run_step(run_id=run.pk)
        run.refresh_from_db()

    page = support_client.get(_run_url(run)).content.decode()

    bar = re.search(r"<progress[^>]*>", page).group(0)
    assert 'aria-labelledby="run-progress-label"' in bar and 'id="run-progress-label"' in page
    assert f'max="{run.total}"' in bar and f'value="{run.moved}"' in bar
    assert f'id="run-progress">{run.moved} of 5 users moved' in page


def test_no_support_page_has_an_empty_table_header_or_a_nameless_progress_bar(support_client):
    t = make_e4_tenant(users=3)
    run = place(t)
    incident = ServiceIncident.objects.create(tenant=t.tenant, title="Mail", opened_at=clock.now())
    ids = {
        "run_id": run.pk,
        "tenant_slug": t.tenant.slug,
        "incident_id": incident.pk,
        "support_request_id": 1,
    }
    pages = 0
    for pattern in support_urls.urlpatterns:
        kwargs = {name: ids[name] for name in pattern.pattern.converters}
        response = support_client.get(reverse(pattern.name, kwargs=kwargs))
        if response.status_code != 200:
            continue
        pages += 1
        html = response.content.decode()
        assert re.search(r"<th[^>]*>\s*</th>", html) is None, pattern.name
        for bar in re.findall(r"<progress[^>]*>", html):
            assert "aria-label" in bar, (pattern.name, bar)
    assert pages >= 6


def test_the_support_tabs_mark_the_current_one(support_client):
    page = support_client.get(reverse("support_runs")).content.decode()
    assert f'href="{reverse("support_runs")}" aria-current="page"' in page
    assert 'class="current"' not in page
