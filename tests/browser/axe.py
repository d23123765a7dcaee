"""axe-core (bundled by axe-playwright-python) on pages of a Playwright test: every page's full
report goes to var/axe-report.json, an artefact of the run, and the test asserts on the
violations of impact serious or critical."""

import datetime as dt
import json
from collections import Counter
from pathlib import Path

from django.conf import settings

BLOCKING = ("critical", "serious")
IMPACTS = ("critical", "serious", "moderate", "minor")


def axe_report_path() -> Path:
    return Path(settings.VAR_DIR) / "axe-report.json"


class AxeAudit:
    """Runs axe on the pages it is given and keeps each page's results, in order."""

    def __init__(self):
        from axe_playwright_python.sync_playwright import Axe

        self._axe = Axe()
        self.pages: list[dict] = []

    def page_check(self, page, name: str) -> dict:
        """axe.run() with its defaults (every rule but the experimental ones) on the page as
        it is now; its results, whole, are kept under `name`."""
        page.wait_for_load_state("load")
        results = self._axe.run(page, options=None).response
        self.pages.append({"page": name, "path": _path_of(page.url), "results": results})
        return results

    def blocking(self) -> list[dict]:
        """One line per violation of impact serious or critical: page, rule, impact, the
        selectors of the elements and axe's help text."""
        return [
            {
                "page": entry["page"],
                "rule": violation["id"],
                "impact": violation["impact"],
                "targets": [", ".join(map(str, node["target"])) for node in violation["nodes"]],
                "help": violation["help"],
            }
            for entry in self.pages
            for violation in entry["results"]["violations"]
            if violation["impact"] in BLOCKING
        ]

    def summary(self) -> str:
        """Page → its violations (rules) counted by impact, one page a line, and the rules axe
        could not decide (its "incomplete": for a person to review)."""
        lines = []
        for entry in self.pages:
            results = entry["results"]
            counts = Counter(v["impact"] for v in results["violations"])
            rules = ", ".join(sorted(v["id"] for v in results["violations"]))
            review = ", ".join(sorted(v["id"] for v in results["incomplete"]))
            by_impact = " ".join(f"{impact}={counts.get(impact, 0)}" for impact in IMPACTS)
            lines.append(
                f"{entry['page']:<28} {by_impact}"
                + (f"  [{rules}]" if rules else "")
                + (f"  to review: [{review}]" if review else "")
            )
        return "\n".join(lines)

    def report_write(self, path: Path | None = None) -> Path:
        path = path or axe_report_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        version = self.pages[0]["results"]["testEngine"]["version"] if self.pages else None
        document = {
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "axe_version": version,
            "blocking_impacts": list(BLOCKING),
            "summary": [
                {
                    "page": entry["page"],
                    "path": entry["path"],
                    "violations": dict(
                        Counter(v["impact"] for v in entry["results"]["violations"])
                    ),
                }
                for entry in self.pages
            ],
            "pages": self.pages,
        }
        path.write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
        return path


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
