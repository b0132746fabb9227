"""The layer rules of pyproject.toml's [tool.importlinter], checked with import-linter.

`lint-imports` runs as a subprocess: import-linter finds packages through the import
system, and a copy of the code placed first on the path (the second test) must not
meet the modules this test process has already imported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def contract_names() -> list[str]:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    return [contract["name"] for contract in config["contracts"]]


def lint_imports(cwd: Path) -> tuple[dict[str, str], str]:
    """Each contract's verdict (KEPT or BROKEN) and the whole report."""
    result = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(PYPROJECT), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        # Wide enough that no contract's verdict line is wrapped.
        env={**os.environ, "COLUMNS": "500", "NO_COLOR": "1", "TERM": "dumb"},
        timeout=120,
    )
    report = result.stdout + result.stderr
    verdicts = {}
    for name in contract_names():
        found = re.search(rf"^{re.escape(name)} (KEPT|BROKEN)\b", report, re.MULTILINE)
        verdicts[name] = found.group(1) if found else "NOT RUN"
    return verdicts, report


def test_every_layer_contract_is_kept() -> None:
    verdicts, report = lint_imports(ROOT)
    broken = [f"{name}: {verdict}" for name, verdict in verdicts.items() if verdict != "KEPT"]
    assert not broken, "Layer contracts broken:\n  " + "\n  ".join(broken) + "\n\n" + report


# One forbidden import per contract, added to a copy of the code: each must break its
# contract, so no contract passes because it checks nothing.
FORBIDDEN_IMPORTS = {
    "No service imports another service": (
        "candour_notifications/service_layer/handlers.py",
        "import candour_search.domain",
    ),
    "Libraries import no service and not the CLI": (
        "candour_screening/rules.py",
        "import candour_moderation.domain",
    ),
    "candour_common is the base library: it does not import candour_screening": (
        "candour_common/events.py",
        "import candour_screening.rules",
    ),
    "Story intake is layered: entrypoints > service_layer > adapters > domain": (
        "candour_intake/adapters/repository.py",
        "import candour_intake.entrypoints.http",
    ),
    "Moderation is layered: entrypoints > service_layer > adapters > domain": (
        "candour_moderation/domain/model.py",
        "import candour_moderation.service_layer.handlers",
    ),
    "Notifications is layered: entrypoints > service_layer > adapters > domain": (
        "candour_notifications/service_layer/handlers.py",
        "import candour_notifications.entrypoints.consumers",
    ),
    "Search is layered: entrypoints > service_layer > adapters > domain": (
        "candour_search/domain.py",
        "import candour_search.settings",
    ),
    "Entrypoints reach adapters only through bootstrap wiring": (
        "candour_search/entrypoints/http.py",
        "import candour_search.adapters.repository",
    ),
}


def copy_packages(into: Path) -> None:
    for package in ROOT.glob("*/*/src/candour_*"):
        shutil.copytree(package, into / package.name, ignore=shutil.ignore_patterns("__pycache__"))


def test_each_contract_breaks_on_a_forbidden_import(tmp_path: Path) -> None:
    assert set(FORBIDDEN_IMPORTS) == set(contract_names()), "one forbidden import per contract"
    copy_packages(tmp_path)
    for module, statement in FORBIDDEN_IMPORTS.values():
        path = tmp_path / module
        path.write_text(path.read_text() + f"\n{statement}  # forbidden, for the test\n")

    verdicts, report = lint_imports(tmp_path)

    kept = [name for name, verdict in verdicts.items() if verdict != "BROKEN"]
    assert not kept, f"Contracts not broken by a forbidden import: {kept}\n\n{report}"
    for module, statement in FORBIDDEN_IMPORTS.values():
        importer = module.removesuffix(".py").replace("/", ".")
        imported = statement.removeprefix("import ")
        assert importer in report and imported in report, (importer, imported, report)
