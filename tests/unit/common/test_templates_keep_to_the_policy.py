"""Every page template keeps to the pages' Content-Security-Policy (`script-src 'self';
style-src 'self'`): no inline script, no event-handler attribute, no style attribute or
element. A template that broke this would render, but the browser would refuse to run or
style that part (tests/security/test_pages_obey_their_policy.py sees it in Chromium for
the pages it visits; this covers every template, including pages no test opens)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
# Email templates are not pages: mail clients need inline styles and run no CSP.
EMAIL_TEMPLATES = (
    ROOT / "services" / "notifications" / "src" / "candour_notifications" / "templates"
)
PAGE_TEMPLATES = sorted(
    path
    for path in [
        *ROOT.glob("services/*/src/*/templates/**/*.html"),
        *ROOT.glob("services/*/src/*/page_templates/**/*.html"),
        *ROOT.glob("libs/common/src/candour_common/web/templates/**/*.html"),
    ]
    if EMAIL_TEMPLATES not in path.parents
)
FORBIDDEN = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def test_there_are_templates_to_check() -> None:
    assert len(PAGE_TEMPLATES) > 20


@pytest.mark.parametrize("template", PAGE_TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_page_template_has_nothing_inline(template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    found = {what for what, pattern in FORBIDDEN.items() if pattern.search(text)}
    assert not found, f"{template.relative_to(ROOT)}: {sorted(found)}"
