"""The demo admin upgrades Contoso's E4 to Office 365 E5 in a real Chromium, with a real
worker process moving the licenses while the page polls."""

import re

import pytest
from django.urls import reverse

from billing.models import Subscription
from tests.browser.conftest import demo_sign_in, progress_until_completed
from tests.upgrades.conftest import celery_queue_purge
from tests.upgrades.workers import start_worker
from upgrades.demo import demo_seed

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_demo_admin_upgrades_e4_to_e5_and_watches_the_progress(
    committed_catalog, live_server, tmp_path, monkeypatch
):
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    demo_seed(password="demo-password")
    celery_queue_purge()
    e4 = Subscription.objects.get(tenant__slug="contoso", product__code="O365_E4")
    worker = start_worker(tmp_path, "worker", PORTAL_SECONDS_PER_MOVED_USER="0.01")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(20_000)
            demo_sign_in(page, live_server, "admin@contoso.example", landing=r"/t/contoso/")

            page.goto(live_server.url + reverse("upgrade_tab", args=["contoso", e4.pk]))
            expect(page.locator("h1")).to_contain_text("Office 365 E4")
            page.get_by_role("button", name="Upgrade to Office 365 E5").click()

            expect(page.locator("#cart-addons")).to_contain_text("Phone System")
            expect(page.locator("#toggles-warning")).to_be_visible()
            page.get_by_role("button", name="Continue to checkout").click()

            expect(page.locator("#sold-to")).to_contain_text("Contoso Ltd")
            expect(page.locator("#items")).to_contain_text("Credit: unused time of Office 365 E4")
            page.get_by_role("button", name="Place order").click()

            page.wait_for_url(re.compile(r"/upgrade/runs/\d+/"))
            seen = progress_until_completed(page)
            expect(page.locator("#run-progress")).to_have_text("300 of 300 users moved")
            expect(page.locator("#run-status")).to_have_attribute("data-state", "completed")
            assert any(0 < value < 300 for value in seen), seen  # it visibly progressed
            assert page.locator("#run-status[hx-trigger]").count() == 0  # polling stopped

            page.goto(live_server.url + reverse("products", args=["contoso"]))
            expect(page.locator("main")).to_contain_text("Office 365 E5")
            browser.close()
    finally:
        worker.stop()
    assert Subscription.objects.get(pk=e4.pk).status == "expired"
