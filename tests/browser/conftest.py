import contextlib
import re

from django.db import connections
from django.urls import reverse

from tests.upgrades.conftest import committed_catalog  # noqa: F401 (a fixture)


@contextlib.contextmanager
def own_connections_closed():
    """Inside sync_playwright the test's code runs in a greenlet, where Django opens database
    connections of its own: closed on the way out, so the test database can be dropped."""
    try:
        yield
    finally:
        connections.close_all()


def demo_sign_in(page, live_server, login: str, *, landing: str = r"/t/") -> None:
    """Sign in on the login page as a demo account (password demo-password) and wait for the
    page it lands on (`landing`, a pattern of its address)."""
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", login)
    page.fill("#id_password", "demo-password")
    page.locator("form button[type=submit], form input[type=submit]").last.click()
    page.wait_for_url(re.compile(landing))


def section_reading(page, section: str, bar: str, attribute: str) -> tuple[str | None, int | None]:
    """(the section's data-state, the bar's `attribute` as a number, None without a bar), both
    read from one version of the section: htmx swaps it whole, so two separate reads could
    straddle a swap and miss the last value."""
    state, value = page.evaluate(
        """([section, bar, attribute]) => {
            const s = document.querySelector(section);
            const b = s && s.querySelector(bar);
            return [s && s.dataset.state, b && b.getAttribute(attribute)];
        }""",
        [section, bar, attribute],
    )
    return state, (None if value is None else int(value or 0))


def progress_until_completed(page, *, polls: int = 600) -> set[int]:
    """Every value the status page's progress bar showed until the run completed (or `polls`
    looks 50 ms apart ran out): the caller asserts that it moved and where it ended."""
    seen = set()
    for _ in range(polls):
        state, value = section_reading(page, "#run-status", ".progress", "aria-valuenow")
        if value is not None:
            seen.add(value)
        if state == "completed":
            break
        page.wait_for_timeout(50)
    return seen
