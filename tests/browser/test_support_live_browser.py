"""A support engineer watches an upgrade on the console in a real Chromium while a real worker
process moves the licenses: the run page (and the run search beside it) follow the run without
a reload, from "not started" through the moving progress to Completed, and then stop polling.
axe-core checks the live page while it moves and once it ended."""

import re
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from billing.models import Subscription
from tests.browser.axe import AxeAudit
from tests.browser.conftest import demo_sign_in, own_connections_closed, section_reading
from tests.browser.test_upgrade_browser import CHROMIUM_ARGS
from tests.upgrades.conftest import celery_queue_purge, place
from tests.upgrades.workers import start_worker
from upgrades.demo import demo_seed
from upgrades.models import RunState, UpgradeRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# 300 users at 20 ms each: about six seconds of moving, in batches of 25 (half a second each),
# so a page polling every second sees several values on the way.
SECONDS_PER_USER = "0.02"


def _progress_readings(page, *, looks: int = 600) -> list[tuple[str, int | None]]:
    """(state, users moved per the progress bar, None while there is no bar) at every change,
    until the run completed or `looks` 100 ms apart ran out."""
    readings = []
    for _ in range(looks):
        state, value = section_reading(page, "#run-summary", "#run-progress-bar", "value")
        if not readings or readings[-1] != (state, value):
            readings.append((state, value))
        if state == RunState.COMPLETED:
            break
        page.wait_for_timeout(100)
    return readings


def test_the_support_run_page_follows_a_running_upgrade_without_a_reload(
    committed_catalog, live_server, tmp_path, monkeypatch
):
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    demo_seed(password="demo-password")
    celery_queue_purge()
    contoso = SimpleNamespace(
        tenant=Subscription.objects.get(tenant__slug="contoso", product__code="O365_E4").tenant,
        e4=Subscription.objects.get(tenant__slug="contoso", product__code="O365_E4"),
        admin=get_user_model().objects.get(username="admin@contoso.example"),
    )
    # Placed with no worker running: queued, so the page is open before anything moves.
    run = place(contoso)
    run_url = reverse("support_run", args=[run.pk])
    audit = AxeAudit()
    worker = None
    try:
        with sync_playwright() as p, own_connections_closed():
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = browser.new_context()  # one session for both tabs
            page = context.new_page()
            page.set_default_timeout(20_000)
            demo_sign_in(
                page,
                live_server,
                "support@provider.example",
                landing=rf"^{re.escape(live_server.url)}/$",
            )
            runs = context.new_page()
            runs.set_default_timeout(20_000)
            runs.goto(live_server.url + reverse("support_runs") + "?tenant=contoso")
            row = runs.locator(f'tr[data-run="{run.pk}"]')
            expect(row).to_have_attribute("data-state", RunState.PLACED)
            expect(row).to_contain_text("Not started")

            page.goto(live_server.url + run_url)
            expect(page.locator("#run-summary")).to_have_attribute("data-state", "placed")
            expect(page.locator("#run-state")).to_have_text("Order placed")
            expect(page.locator("#run-progress")).to_have_text(
                "Moving has not started: the users are counted when it starts."
            )
            expect(page.locator("#run-summary")).to_have_attribute("hx-trigger", "every 1s")
            # Anything a reload would lose: the page must still have it at the end.
            page.evaluate("window.notReloaded = true")

            worker = start_worker(
                tmp_path, "worker", PORTAL_SECONDS_PER_MOVED_USER=SECONDS_PER_USER
            )
            page.locator("#run-progress-bar").wait_for(timeout=60_000)
            audit.page_check(page, "Support console: run (moving)")
            readings = _progress_readings(page)

            moving = [v for s, v in readings if s == RunState.MOVING_LICENSES and v is not None]
            assert len(moving) >= 2, readings  # read at least twice while moving
            assert any(0 < v < 300 for v in moving), readings
            assert moving == sorted(moving) and moving[0] < moving[-1], readings
            summary = page.locator("#run-summary")
            expect(summary).to_have_attribute("data-state", "completed")
            expect(page.locator("#run-state")).to_have_text("Completed")
            expect(page.locator("#run-progress")).to_have_text("300 of 300 users moved")
            expect(page.locator("#run-progress-bar")).to_have_attribute("value", "300")
            # The timeline followed too, in words.
            expect(page.locator("#timeline")).to_contain_text("Moving licenses")
            expect(page.locator("#timeline")).to_contain_text("Completed")
            expect(page.locator("#run-report")).to_be_visible()
            assert page.evaluate("window.notReloaded") is True  # no reload: htmx swapped it
            page.wait_for_timeout(1500)
            assert page.locator("#run-summary[hx-trigger]").count() == 0  # polling stopped
            audit.page_check(page, "Support console: run (completed)")

            # The run search open beside it followed the run as well, and stopped.
            expect(row).to_have_attribute("data-state", "completed", timeout=10_000)
            expect(row).to_contain_text("300 of 300")
            assert runs.locator("#runs-live[hx-trigger]").count() == 0
            audit.page_check(runs, "Support console: runs")
            browser.close()
    finally:
        if worker is not None:
            worker.stop()

    assert UpgradeRun.objects.get(pk=run.pk).state == RunState.COMPLETED
    blocking = audit.blocking()
    assert blocking == [], blocking
