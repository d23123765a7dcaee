"""The README's screenshots (docs/screenshots/*.png) come from the browser tests: run
tests/browser/test_accessibility.py with PORTAL_SCREENSHOTS=1 and the pages it walks are saved
there at 1280x800 (the whole page when it is taller)."""

import os
from pathlib import Path

from django.conf import settings

VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS_DIR = Path(settings.BASE_DIR) / "docs" / "screenshots"


def screenshots_wanted() -> bool:
    return os.environ.get("PORTAL_SCREENSHOTS", "") == "1"


def screenshot_save(page, name: str) -> None:
    """docs/screenshots/<name>.png of the page as it is now, when PORTAL_SCREENSHOTS=1."""
    if not screenshots_wanted():
        return
    page.wait_for_load_state("load")
    page.screenshot(
        path=str(SCREENSHOTS_DIR / f"{name}.png"), full_page=True, animations="disabled"
    )
