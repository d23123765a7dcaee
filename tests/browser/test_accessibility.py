"""axe-core on the main pages in a real Chromium: sign-in, the demo admin's Your products, a
subscription, the Upgrade tab, the upgrade cart, checkout, the locked admin center, the status
page of the run (placed, then completed), Users, and the support console's page of that run. No
page may have a violation of impact serious or critical. Every page's full axe report is written
to var/axe-report.json (PORTAL_VAR_DIR), and the summary printed (pytest -s shows it).

With PORTAL_SCREENSHOTS=1 the walk also refreshes the README's docs/screenshots/*.png."""

import re

import pytest
from django.urls import reverse

from billing.models import Subscription
from tests.browser.axe import AxeAudit
from tests.browser.conftest import demo_sign_in, own_connections_closed
from tests.browser.screenshots import VIEWPORT, screenshot_save
from tests.browser.test_upgrade_browser import CHROMIUM_ARGS
from upgrades import engine
from upgrades.demo import demo_seed
from upgrades.models import RunState, UpgradeRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _blocking_text(blocking: list[dict]) -> str:
    return "\n".join(
        f"{v['page']}: {v['rule']} ({v['impact']}) {v['help']} at {'; '.join(v['targets'])}"
        for v in blocking
    )


def test_main_pages_have_no_serious_or_critical_axe_violation(
    committed_catalog, live_server, monkeypatch
):
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    demo_seed(password="demo-password")
    e4 = Subscription.objects.get(tenant__slug="contoso", product__code="O365_E4")
    audit = AxeAudit()

    def visit(page, url: str) -> int:
        return page.goto(live_server.url + url).status

    try:
        with sync_playwright() as p, own_connections_closed():
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(20_000)
            visit(page, reverse("login"))
            audit.page_check(page, "Sign in")
            demo_sign_in(page, live_server, "admin@contoso.example", landing=r"/t/contoso/")

            visit(page, reverse("products", args=["contoso"]))
            expect(page.locator("main")).to_contain_text("Office 365 E4")
            audit.page_check(page, "Your products")
            screenshot_save(page, "products")

            visit(page, reverse("subscription_detail", args=["contoso", e4.pk]))
            audit.page_check(page, "Subscription (overview)")

            visit(page, reverse("upgrade_tab", args=["contoso", e4.pk]))
            expect(page.locator("#targets")).to_contain_text("Office 365 E5")
            audit.page_check(page, "Upgrade tab")
            screenshot_save(page, "upgrade-tab")

            page.get_by_role("button", name="Upgrade to Office 365 E5").click()
            expect(page.locator("#cart-addons")).to_contain_text("Phone System")
            audit.page_check(page, "Upgrade cart")

            page.get_by_role("button", name="Continue to checkout").click()
            expect(page.locator("#sold-to")).to_contain_text("Contoso Ltd")
            audit.page_check(page, "Checkout")
            screenshot_save(page, "checkout")

            page.get_by_role("button", name="Place order").click()
            page.wait_for_url(re.compile(r"/upgrade/runs/\d+/"))
            run_id = int(re.search(r"/runs/(\d+)/", page.url).group(1))
            audit.page_check(page, "Upgrade status (placed)")

            # No worker runs: the admin center stays locked until the engine runs it below.
            assert visit(page, reverse("products", args=["contoso"])) == 423
            audit.page_check(page, "Locked admin center")
            screenshot_save(page, "locked")

            assert engine.run_advance(run_id=run_id) == RunState.COMPLETED
            visit(page, reverse("upgrade_status", args=["contoso", run_id]))
            expect(page.locator("#run-status")).to_have_attribute("data-state", "completed")
            audit.page_check(page, "Upgrade status (completed)")
            screenshot_save(page, "status")

            visit(page, reverse("products", args=["contoso"]))
            expect(page.locator("main")).to_contain_text("Office 365 E5")
            screenshot_save(page, "products-after")

            visit(page, reverse("users", args=["contoso"]))
            audit.page_check(page, "Users")

            support = browser.new_page(viewport=VIEWPORT)
            support.set_default_timeout(20_000)
            demo_sign_in(
                support,
                live_server,
                "support@provider.example",
                landing=rf"^{re.escape(live_server.url)}/$",
            )
            visit(support, reverse("support_run", args=[run_id]))
            expect(support.locator("main")).to_contain_text("Office 365 E5")
            audit.page_check(support, "Support console: run")
            browser.close()
    finally:
        if audit.pages:
            path = audit.report_write()
            print(f"\naxe-core violations by impact (full report: {path}):\n{audit.summary()}")

    assert UpgradeRun.objects.get(pk=run_id).state == RunState.COMPLETED
    assert len(audit.pages) == 11
    blocking = audit.blocking()
    assert blocking == [], "serious or critical axe violations:\n" + _blocking_text(blocking)


def test_the_audit_reports_serious_and_critical_violations(live_server, monkeypatch):
    """The check above can fail: an image without alt text and a field without a label, added
    to the sign-in page, are reported as critical with their selectors."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    audit = AxeAudit()
    with sync_playwright() as p, own_connections_closed():
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(live_server.url + reverse("login"))
        page.evaluate(
            """() => {
              const main = document.getElementById("main");
              main.insertAdjacentHTML("beforeend",
                '<img id="no-alt" src="/static/portal/portal.css"><input id="no-label">');
            }"""
        )
        audit.page_check(page, "Sign in, broken")
        browser.close()

    found = {(v["rule"], v["impact"], tuple(v["targets"])) for v in audit.blocking()}
    assert ("image-alt", "critical", ("#no-alt",)) in found
    assert ("label", "critical", ("#no-label",)) in found
