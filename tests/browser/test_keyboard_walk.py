"""The upgrade by keyboard alone in a real Chromium: from Your products the demo admin reaches
E4's Upgrade tab, chooses Office 365 E5, goes through the cart and checkout and places the order
with Tab, Shift+Tab, Enter and Space only, and lands on the status page. Every step checks where
the focus is (document.activeElement), never clicks. On every page the first Tab reaches the
skip link, visibly, and Enter on it moves the focus to <main>.

A step that cannot be done by keyboard fails with the element it could not reach and every
element the Tab key went through instead."""

import re

import pytest
from django.urls import reverse

from billing.models import Subscription
from tests.browser.conftest import demo_sign_in, own_connections_closed
from tests.browser.screenshots import VIEWPORT
from tests.browser.test_upgrade_browser import CHROMIUM_ARGS
from upgrades.demo import demo_seed
from upgrades.models import RunState, UpgradeRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The focused element as the test sees it: what it is, its name as read out (its text, value or
# aria-label), a selector to report a defect by, and whether it shows a focus indicator.
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) return null;
  const name = (e.getAttribute("aria-label") || e.innerText || e.value || "").trim()
    .replace(/\\s+/g, " ");
  const path = [];
  for (let n = e; n && n.nodeType === 1 && path.length < 4; n = n.parentElement) {
    let part = n.tagName.toLowerCase();
    if (n.id) { path.unshift(part + "#" + n.id); break; }
    if (n.classList.length) part += "." + [...n.classList].join(".");
    path.unshift(part);
  }
  const style = getComputedStyle(e);
  const box = e.getBoundingClientRect();
  return {
    tag: e.tagName.toLowerCase(),
    id: e.id,
    name: name,
    selector: path.join(" > "),
    indicator: (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
      || style.boxShadow !== "none",
    onScreen: box.width > 0 && box.height > 0 && box.right > 0 && box.bottom > 0
      && box.left < innerWidth && box.top < innerHeight,
  };
}"""


def focused(page) -> dict | None:
    return page.evaluate(FOCUSED)


def _label(element: dict | None) -> str:
    return "(nothing)" if element is None else f"{element['selector']} “{element['name']}”"


def tab_to(page, name: str | re.Pattern, *, tag: str | None = None, limit: int = 80) -> dict:
    """Press Tab until the focused element is named `name` (and is a `tag`); the element.
    Fails naming the element it could not reach and the ones it went through."""
    visited = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        element = focused(page)
        if element is not None:
            matches = (
                name.fullmatch(element["name"])
                if isinstance(name, re.Pattern)
                else element["name"] == name
            )
            if matches and (tag is None or element["tag"] == tag):
                assert element["indicator"], f"no visible focus indicator on {_label(element)}"
                assert element["onScreen"], f"focused but off screen: {_label(element)}"
                return element
            if visited and element == visited[0]:
                break  # went round the whole page
        visited.append(element)
    pytest.fail(
        f"not reachable by keyboard on {page.url}: {tag or 'element'} “{name}”; Tab went "
        "through:\n" + "\n".join(_label(e) for e in visited)
    )


def skip_link_check(page) -> None:
    """The first Tab of a freshly loaded page focuses the skip link, on screen; Enter on it
    moves the focus to <main>, so the next Tab continues in the page's content."""
    page.wait_for_load_state("load")
    if page.url.endswith("#main"):
        # A form without an action posts to its page's address, #main (left by the skip link)
        # included, and its redirect keeps the fragment: the browser starts this page's
        # sequential focus at <main> itself, so the first Tab is already in the content.
        page.keyboard.press("Tab")
        first = focused(page)
        inside = page.evaluate("!!document.activeElement.closest('main')")
        assert inside, f"first Tab on {page.url} focused {_label(first)}, outside <main>"
        page.keyboard.press("Shift+Tab")
        return
    page.keyboard.press("Tab")
    first = focused(page)
    assert first is not None and first["name"] == "Skip to main content", (
        f"first Tab on {page.url} focused {_label(first)}, not the skip link"
    )
    assert first["tag"] == "a" and first["onScreen"] and first["indicator"], first
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main", (
        f"Enter on the skip link of {page.url} left the focus on {_label(focused(page))}"
    )


def test_admin_upgrades_e4_to_e5_with_the_keyboard_only(
    committed_catalog, live_server, monkeypatch
):
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    demo_seed(password="demo-password")
    e4 = Subscription.objects.get(tenant__slug="contoso", product__code="O365_E4")

    with sync_playwright() as p, own_connections_closed():
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(20_000)
        demo_sign_in(page, live_server, "admin@contoso.example", landing=r"/t/contoso/")
        page.goto(live_server.url + reverse("products", args=["contoso"]))

        # Your products → E4's details.
        skip_link_check(page)
        tab_to(page, "Office 365 E4", tag="a")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(rf"/billing/subscriptions/{e4.pk}/"))

        # Its Upgrade tab.
        skip_link_check(page)
        tab_to(page, "Upgrade", tag="a")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(rf"/upgrade/subscriptions/{e4.pk}/"))

        # Choose Office 365 E5 (Space presses a button as Enter does).
        skip_link_check(page)
        tab_to(page, "Upgrade to Office 365 E5", tag="button")
        page.keyboard.press("Space")
        page.wait_for_url(re.compile(r"/upgrade/carts/\d+/$"))
        expect(page.locator("#cart-addons")).to_contain_text("Phone System")

        # The cart: Shift+Tab goes back one element and Tab forward again.
        skip_link_check(page)
        go_on = tab_to(page, "Continue to checkout", tag="button")
        page.keyboard.press("Shift+Tab")
        back = focused(page)
        assert back is not None and back != go_on, _label(back)
        page.keyboard.press("Tab")
        assert focused(page) == go_on
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/upgrade/carts/\d+/checkout/"))
        expect(page.locator("#sold-to")).to_contain_text("Contoso Ltd")

        # Checkout: place the order (a CSRF-protected form).
        skip_link_check(page)
        tab_to(page, "Place order", tag="button")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/upgrade/runs/\d+/"))
        run_id = int(re.search(r"/runs/(\d+)/", page.url).group(1))

        # The status page, reachable by keyboard too.
        expect(page.locator("#run-status")).to_be_visible()
        expect(page.locator("h1")).to_contain_text("Office 365 E5")
        skip_link_check(page)
        browser.close()

    run = UpgradeRun.objects.get(pk=run_id)
    assert run.tenant.slug == "contoso" and run.target.code == "O365_E5"
    assert run.state == RunState.PLACED  # no worker runs it here


def test_the_walk_fails_on_an_element_the_keyboard_cannot_reach(live_server, monkeypatch):
    """A "button" made of a span with a click handler is not in the tab order: tab_to names it
    and the elements it went through instead."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p, own_connections_closed():
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(live_server.url + reverse("login"))
        page.evaluate(
            """() => document.getElementById("main").insertAdjacentHTML(
                 "beforeend", '<span class="btn" id="fake">Place order</span>')"""
        )
        with pytest.raises(pytest.fail.Exception) as failure:
            tab_to(page, "Place order")
        browser.close()

    message = str(failure.value)
    assert "not reachable by keyboard" in message and "“Place order”" in message
    assert "input#id_password" in message  # the sign-in form was reached instead
