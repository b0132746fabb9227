"""Browser fixtures: Debian's chromium driven by Playwright, screenshots, axe-core scans.

Playwright's own browser download cannot work on these machines, so the tests
launch /usr/bin/chromium (installed by scripts/install_browser.sh). The async API
is used because the tests also start services and databases on the session loop.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, Playwright, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling hosts this machine
# cannot reach; --no-sandbox because the tests run as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
BLOCKING_IMPACTS = {"serious", "critical"}


def _chromium_installed() -> bool:
    return CHROMIUM.exists()


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    if not _chromium_installed():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/install_browser.sh` first")
    launched = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    await launched.close()


def screenshot_path(name: str) -> Path:
    """Where a screenshot called `name` goes (a safe file name under test-artifacts/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"


async def save_screenshot(page: Page, name: str) -> Path:
    path = screenshot_path(name)
    await page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
async def page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A fresh page in its own context; its last state is saved as <test name>.png."""
    context = await browser.new_context(locale="en-GB")
    opened = await context.new_page()
    try:
        yield opened
    finally:
        try:
            await save_screenshot(opened, request.node.name)
        except Exception as exc:  # a closed or crashed page must not hide the test's own result
            print(f"no screenshot for {request.node.name}: {exc!r}")
        finally:
            await context.close()


def _describe(violation: dict[str, Any]) -> str:
    targets = [", ".join(node.get("target", [])) for node in violation.get("nodes", [])]
    return (
        f"[{violation.get('impact')}] {violation.get('id')}: {violation.get('help')} "
        f"({violation.get('helpUrl')})\n    on: " + "\n        ".join(targets)
    )


async def axe_check(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page; fail on serious or critical violations (printing all).

    Returns the minor/moderate violations so a test can look at them if it wants.
    """
    results = await Axe().run(page)
    violations: list[dict[str, Any]] = results.response.get("violations", [])
    for violation in violations:
        print(f"axe on {page.url}: {_describe(violation)}")
    blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
    if blocking:
        pytest.fail(
            f"axe-core found {len(blocking)} serious/critical violation(s) on {page.url}:\n"
            + "\n".join(_describe(v) for v in blocking)
        )
    return [v for v in violations if v not in blocking]
