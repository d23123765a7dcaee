"""The demo admin rehearses Contoso's upgrade, schedules it in a maintenance window, sees the
banner, and the run starts when the window opens on the simulated clock: a real worker runs
the reconciler as Celery beat would send it, moves the users while the status page polls, and
the admin downloads the report's CSV."""

import datetime as dt
import re
import threading
import time
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from billing.models import Invoice, Subscription
from portal import clock
from portal.models import AdminLock, Tenant
from tests.browser.conftest import demo_sign_in, own_connections_closed, progress_until_completed
from tests.browser.test_upgrade_browser import CHROMIUM_ARGS
from tests.upgrades.conftest import celery_queue_purge
from tests.upgrades.workers import start_worker
from upgrades.demo import demo_seed
from upgrades.models import RunState, UpgradeRun
from upgrades.services import window_words

# Real seconds between two reconciler passes (beat's interval in this test).
INTERVAL = 1.0
RECONCILE_TASK = "upgrades.tasks.upgrade_runs_reconcile"


class Beat:
    """Sends the reconciler task every INTERVAL seconds, as `celery beat` does."""

    def __init__(self):
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        from config.celery import app

        while not self._stop.wait(INTERVAL):
            # A connection of its own: an earlier test of the session may have closed the
            # app's producer pool.
            with app.connection_for_write() as connection:
                app.send_task(RECONCILE_TASK, ignore_result=True, connection=connection)
            self.sent += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


def _state(run_id: int) -> str:
    return UpgradeRun.objects.values_list("state", flat=True).get(pk=run_id)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_rehearses_schedules_and_the_run_starts_in_its_window(
    committed_catalog, live_server, tmp_path, monkeypatch
):
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    demo_seed(password="demo-password")
    celery_queue_purge()
    tenant = Tenant.objects.get(slug="contoso")
    zone = ZoneInfo(tenant.time_zone)
    e4 = Subscription.objects.get(tenant=tenant, product__code="O365_E4")
    invoices_before = Invoice.objects.filter(tenant=tenant).count()
    # Two hours ahead, on a whole minute, in Contoso's time zone.
    window = (clock.now() + dt.timedelta(hours=2)).astimezone(zone).replace(second=0, microsecond=0)
    shown = window_words(window, time_zone=tenant.time_zone)  # as the pages write it
    worker = start_worker(tmp_path, "worker", PORTAL_SECONDS_PER_MOVED_USER="0.005")
    try:
        with sync_playwright() as p, Beat() as beat, own_connections_closed():
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(accept_downloads=True)
            page.set_default_timeout(20_000)
            demo_sign_in(page, live_server, "admin@contoso.example", landing=r"/t/contoso/")

            page.goto(live_server.url + reverse("upgrade_tab", args=["contoso", e4.pk]))
            page.get_by_role("button", name="Upgrade to Office 365 E5").click()
            expect(page.locator("#cart-addons")).to_contain_text("Phone System")

            # Rehearse: what the run would do, and nothing changes.
            page.get_by_role("link", name="Rehearse this upgrade").click()
            expect(page.locator("main")).to_contain_text("300")
            expect(page.locator("main")).to_contain_text("Phone System")
            page.go_back()
            page.get_by_role("button", name="Continue to checkout").click()
            expect(page.locator("#estimate")).to_contain_text("for 300 users")

            # Schedule it in a maintenance window, in Contoso's time zone.
            expect(page.locator("#window-zone")).to_contain_text(tenant.time_zone)
            page.get_by_label("Start in a maintenance window").check()
            page.locator("#when input[type=date]").fill(window.strftime("%Y-%m-%d"))
            page.locator("#when input[type=time]").fill(window.strftime("%H:%M"))
            page.locator("#when button[type=submit]").click()
            expect(page.locator("#window-chosen")).to_contain_text(shown)
            page.get_by_role("button", name="Place order").click()
            page.wait_for_url(re.compile(r"/upgrade/runs/\d+/"))
            run_id = int(re.search(r"/runs/(\d+)/", page.url).group(1))
            expect(page.locator("#run-status")).to_have_attribute("data-state", "scheduled")

            # Until the window: the banner on every page, no lock, nothing charged.
            page.goto(live_server.url + reverse("products", args=["contoso"]))
            banner = page.locator("#scheduled-upgrade-banner")
            expect(banner).to_contain_text("Office 365 E5")
            expect(banner).to_contain_text(shown)
            assert not AdminLock.objects.filter(tenant=tenant).exists()
            assert Invoice.objects.filter(tenant=tenant).count() == invoices_before

            # Beat has sent the reconciler a few times: not started before its window.
            time.sleep(3 * INTERVAL)
            assert beat.sent >= 2
            assert _state(run_id) == RunState.SCHEDULED

            # The window opens on the simulated clock: the next pass starts it.
            clock.clock_advance(delta=window - clock.now() + dt.timedelta(seconds=1))
            opened = time.monotonic()
            while _state(run_id) == RunState.SCHEDULED and time.monotonic() - opened < 20:
                time.sleep(0.05)
            started_after = time.monotonic() - opened
            assert _state(run_id) != RunState.SCHEDULED
            # One interval, plus the worker picking the message up on a busy 2-core machine.
            assert started_after < INTERVAL + 3, started_after

            page.goto(live_server.url + reverse("upgrade_status", args=["contoso", run_id]))
            seen = progress_until_completed(page, polls=1200)
            expect(page.locator("#run-status")).to_have_attribute("data-state", "completed")
            expect(page.locator("#run-progress")).to_have_text("300 of 300 users moved")
            assert max(seen) == 300

            # The report, and its CSV: one line per user.
            page.get_by_role("link", name="See the report").click()
            expect(page.locator("main")).to_contain_text("Office 365 E5")
            with page.expect_download() as download:
                page.get_by_role("link", name=re.compile("Download (the )?CSV")).first.click()
            text = open(download.value.path(), encoding="utf-8").read().splitlines()
            assert len(text) == 301, len(text)
            browser.close()
    finally:
        worker.stop()
    assert Subscription.objects.get(pk=e4.pk).status == "expired"
