from tests.upgrades.conftest import committed_catalog  # noqa: F401 (a fixture)


def progress_until_completed(page, *, polls: int = 600) -> set[int]:
    """Every value the status page's progress bar showed until the run completed (or `polls`
    looks 50 ms apart ran out): the caller asserts that it moved and where it ended."""
    seen = set()
    bar = page.locator("#run-status .progress")
    for _ in range(polls):
        seen.add(int(bar.get_attribute("aria-valuenow") or 0))
        if page.locator('#run-status[data-state="completed"]').count():
            break
        page.wait_for_timeout(50)
    return seen
