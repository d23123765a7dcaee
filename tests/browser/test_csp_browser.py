"""The strict Content-Security-Policy in a real Chromium: the demo admin walks the upgrade (Upgrade
tab, cart, checkout, status page polling while a real worker moves the licenses) and the browser
reports no violation, neither to a `securitypolicyviolation` listener installed before any page
script runs nor on the console. The behaviour moved out of inline handlers into static/portal/
portal.js (the language switch, select-on-focus) and htmx's polling work under the policy."""

import re

import pytest
from django.db import connections
from django.urls import reverse

from billing.models import Subscription
from tests.browser.conftest import demo_sign_in, progress_until_completed
from tests.browser.test_upgrade_browser import CHROMIUM_ARGS
from tests.upgrades.conftest import celery_queue_purge
from tests.upgrades.workers import start_worker
from upgrades.demo import demo_seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs in every document before its own scripts: reports each violation to the test, and
# counts htmx swaps (the status page's polling).
WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation({
    page: location.pathname,
    directive: event.violatedDirective,
    blocked: event.blockedURI,
    sample: event.sample,
  });
});
window.htmxSwaps = 0;
document.addEventListener("htmx:afterSwap", () => { window.htmxSwaps += 1; });
"""


class Watched:
    """A Chromium page whose CSP violations (listener and console) are collected."""

    def __init__(self, page):
        self.page = page
        self.violations: list[dict] = []
        self.console: list[str] = []


@pytest.fixture
def watched(committed_catalog, live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context()
        page = context.new_page()
        watched = Watched(page)
        context.expose_function("reportCspViolation", lambda v: watched.violations.append(v))
        context.add_init_script(WATCH)
        page.on(
            "console",
            lambda message: (
                watched.console.append(message.text)
                if "content security policy" in message.text.lower()
                else None
            ),
        )
        page.set_default_timeout(20_000)
        yield watched
        # The test's queries ran while Playwright's event loop was running, so Django gave them
        # a connection of that context: close it here, or the test database cannot be dropped.
        connections.close_all()
        browser.close()


def test_upgrade_tab_checkout_and_status_page_report_no_csp_violation(
    watched, live_server, tmp_path
):
    from playwright.sync_api import expect

    page = watched.page
    demo_seed(password="demo-password")
    celery_queue_purge()
    e4 = Subscription.objects.get(tenant__slug="contoso", product__code="O365_E4")
    worker = start_worker(tmp_path, "worker", PORTAL_SECONDS_PER_MOVED_USER="0.01")
    try:
        demo_sign_in(page, live_server, "admin@contoso.example")
        page.goto(live_server.url + reverse("upgrade_tab", args=["contoso", e4.pk]))
        expect(page.locator("h1")).to_contain_text("Office 365 E4")
        page.get_by_role("button", name="Upgrade to Office 365 E5").click()
        expect(page.locator("#cart-addons")).to_contain_text("Phone System")
        page.get_by_role("button", name="Continue to checkout").click()
        expect(page.locator("#sold-to")).to_contain_text("Contoso Ltd")
        page.get_by_role("button", name="Place order").click()

        page.wait_for_url(re.compile(r"/upgrade/runs/\d+/"))
        seen = progress_until_completed(page)
        expect(page.locator("#run-status")).to_have_attribute("data-state", "completed")
        # htmx polled and swapped the status in (no page load): the bar moved on its own.
        assert page.evaluate("window.htmxSwaps") >= 1
        assert any(0 < value < 300 for value in seen), seen
        progress = page.locator("#run-status progress")
        assert progress.get_attribute("value") == progress.get_attribute("max") == "300"
        # htmx runs with the page's htmx-config: no eval, and no <style> injected.
        assert page.evaluate("[htmx.config.allowEval, htmx.config.includeIndicatorStyles]") == [
            False,
            False,
        ]
        assert page.locator("style").count() == 0
    finally:
        worker.stop()

    assert watched.violations == []
    assert watched.console == []


def test_the_other_pages_of_a_global_admin_report_no_csp_violation(watched, live_server):
    from playwright.sync_api import expect

    page = watched.page
    demo_seed(password="demo-password")
    e4 = Subscription.objects.get(tenant__slug="contoso", product__code="O365_E4")
    demo_sign_in(page, live_server, "admin@contoso.example")
    pages = [
        reverse("tenant_home", args=["contoso"]),
        reverse("products", args=["contoso"]),
        reverse("subscription_detail", args=["contoso", e4.pk]),
        reverse("billing", args=["contoso"]),
        reverse("users", args=["contoso"]),
        reverse("notifications", args=["contoso"]),
        reverse("api_tokens", args=["contoso"]),
        "/no/such/page/",
    ]
    for url in pages:
        page.goto(live_server.url + url)
        page.wait_for_load_state("load")

    # An htmx tab on the subscription page swaps under the policy too.
    page.goto(live_server.url + reverse("subscription_detail", args=["contoso", e4.pk]))
    page.locator("nav.tabs a", has_text="Licenses").click()
    # (A wait_for_function string would be eval'd in the page, which the policy refuses.)
    expect(page.locator("#tab-panel")).to_have_attribute("data-tab", "licenses")
    assert page.evaluate("window.htmxSwaps") >= 1

    assert watched.violations == []
    assert watched.console == []


def test_the_violation_watch_reports_an_inline_script(watched, live_server):
    """The two checks above can fail: an inline script added to a page is blocked and seen."""
    page = watched.page
    page.goto(live_server.url + reverse("login"))

    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.inlineRan = true;";
          document.body.appendChild(script);
        }"""
    )
    page.wait_for_timeout(200)

    assert page.evaluate("window.inlineRan") is None
    assert [v["directive"] for v in watched.violations] == ["script-src-elem"]
    assert watched.console


def test_the_language_select_switches_the_language_under_the_policy(watched, live_server):
    from playwright.sync_api import expect

    page = watched.page
    page.goto(live_server.url + reverse("login"))
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.select_option("#language-select", "sv")

    expect(page.locator("html")).to_have_attribute("lang", "sv")
    assert page.url.endswith(reverse("login"))
    assert page.locator("#language-select").input_value() == "sv"
    assert watched.violations == []
    assert watched.console == []


def test_a_field_marked_select_on_focus_selects_its_whole_value(watched, live_server):
    """The API tokens page shows a new token in such a field, ready to copy."""
    page = watched.page
    page.goto(live_server.url + reverse("login"))
    page.evaluate(
        """() => {
          const field = document.createElement("input");
          field.id = "copy-me";
          field.value = "pt_secret_value";
          field.setAttribute("data-select-on-focus", "");
          document.body.appendChild(field);
        }"""
    )

    page.focus("#copy-me")

    selection = page.evaluate(
        "() => { const f = document.getElementById('copy-me');"
        " return [f.selectionStart, f.selectionEnd]; }"
    )
    assert selection == [0, len("pt_secret_value")]
    assert watched.violations == []
