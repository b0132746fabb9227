"""The NHS.UK frontend that the pages serve is exactly what `make frontend` builds from
the pinned versions (frontend/package.json and package-lock.json).

The built files are committed so that a fresh clone, `candour dev` and CI need no npm;
these checks catch a version bump without a rebuild, a hand edit of a built file, and a
stylesheet that points at something the Content-Security-Policy or an offline machine
cannot load."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
FRONTEND = ROOT / "frontend"
STATIC = ROOT / "libs" / "common" / "src" / "candour_common" / "web" / "static"
BUILT = STATIC / "nhsuk"


def _manifest() -> dict[str, object]:
    manifest: dict[str, object] = json.loads((BUILT / "MANIFEST.json").read_text())
    return manifest


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_built_files_come_from_the_pinned_versions() -> None:
    pins = json.loads((FRONTEND / "package.json").read_text())["devDependencies"]
    lock = json.loads((FRONTEND / "package-lock.json").read_text())["packages"]
    manifest = _manifest()
    for package in ("nhsuk-frontend", "sass"):
        assert lock[f"node_modules/{package}"]["version"] == pins[package]
        assert manifest[package] == pins[package], f"run `make frontend` after pinning {package}"
    assert manifest["package-lock.json sha256"] == _sha256(FRONTEND / "package-lock.json"), (
        "frontend/package-lock.json changed since the build: run `make frontend`"
    )


def test_the_built_files_are_unchanged_since_the_build() -> None:
    recorded = _manifest()["files"]
    assert isinstance(recorded, dict)
    present = {
        str(path.relative_to(BUILT)): _sha256(path)
        for path in BUILT.rglob("*")
        if path.is_file() and path.name != "MANIFEST.json"
    }
    assert present == recorded, "a built file was edited by hand: run `make frontend`"


def test_the_stylesheet_loads_nothing_from_elsewhere() -> None:
    css = (BUILT / "nhsuk-frontend.min.css").read_text()
    assert "@font-face" not in css  # Frutiger lives on assets.nhs.uk: font-src 'self'
    for url in re.findall(r"url\(\"?([^\")]+)\"?\)", css):
        if url.startswith("data:"):
            continue
        assert url.startswith("/static/nhsuk/"), url
        assert (STATIC / url.removeprefix("/static/")).is_file(), url


def test_the_layout_links_the_built_files() -> None:
    layout = (STATIC.parent / "templates" / "base.html").read_text()
    assert "/static/nhsuk/nhsuk-frontend.min.css" in layout
    assert "/static/candour.js" in layout
    init = (STATIC / "candour.js").read_text()
    assert "/static/nhsuk/nhsuk-frontend.min.js" in init
