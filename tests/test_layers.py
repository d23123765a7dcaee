"""The layers of DESIGN 3 hold: config > support > upgrades > licensing > billing > portal, and
no module of an app imports its siblings in a circle. import-linter checks the real tree (bin/test
runs it too); the second test proves it would catch an import up."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["config", "support", "upgrades", "licensing", "billing", "portal"]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), str(root / "pyproject.toml"), "--no-cache", "--no-logo"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
    )


def test_the_layers_and_acyclic_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_an_import_up_breaks_the_contract(tmp_path):
    for app in APPS:
        shutil.copytree(ROOT / app, tmp_path / app, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    ground = tmp_path / "portal" / "models.py"
    ground.write_text(ground.read_text() + "\nfrom upgrades.models import UpgradeRun  # noqa\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    assert "portal is not allowed to import upgrades" in result.stdout
    assert "portal.models -> upgrades.models" in result.stdout
