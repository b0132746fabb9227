"""Staff manage their organisation's email alerts in Welsh, in a real browser (#20):
`?lang=cy` on the sign-in page, then every alerts page is Welsh (the `lang` cookie),
with its flash messages; the unsubscribe page an email links to is Welsh too. axe-core
scans every Welsh page; screenshots go to test-artifacts/screenshots/.

notifications runs as a real process with the fixture of the English alerts test.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.async_api import Page, expect

from candour_common.auth import Role, issue_token
from candour_notifications.domain import UnsubscribeScope, UnsubscribeTarget, sign_unsubscribe
from tests.browser import test_alerts as alerting
from tests.browser.conftest import axe_check, save_screenshot
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

notifications = alerting.notifications  # the running service (found by its name)


async def test_staff_add_and_delete_a_subscription_in_welsh(
    notifications: ServiceProcess, page: Page
) -> None:
    base = notifications.url
    operator = issue_token(alerting.SECRET, role=Role.OPERATOR, subject="operator")
    async with httpx.AsyncClient() as client:
        domains = await client.put(
            f"{base}/v1/organisations/RXA/mail-domains",
            json={"domains": ["riverside.example"]},
            headers={"Authorization": f"Bearer {operator}"},
        )
        assert domains.status_code == 200, domains.text

    await page.goto(f"{base}/alerts/sign-in?lang=cy")
    await expect(page.locator("html")).to_have_attribute("lang", "cy")
    staff = issue_token(
        alerting.SECRET, role=Role.STAFF, subject="ward-manager", organisation_id="RXA"
    )
    await page.get_by_label("Tocyn staff").fill(staff)
    await page.get_by_role("button", name="Mewngofnodi").click()
    await expect(page).to_have_url(f"{base}/alerts")
    await expect(page.locator("html")).to_have_attribute("lang", "cy")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Rhybuddion e-bost ar gyfer RXA"
    )
    await axe_check(page)
    await save_screenshot(page, "alerts-cy-empty")

    await page.get_by_label("Cyfeiriad e-bost").fill("not-an-address")
    await page.get_by_role("button", name="Ychwanegu'r tanysgrifiad").click()
    await expect(page.locator("#email-error")).to_contain_text(
        "Rhowch gyfeiriad e-bost yn y fformat cywir"
    )
    await axe_check(page)
    await save_screenshot(page, "alerts-cy-error")

    await page.get_by_label("Cyfeiriad e-bost").fill("ward@riverside.example")
    await page.get_by_label("Straeon newydd").check()
    await page.get_by_label("Crynodeb dyddiol").check()
    await page.get_by_role("button", name="Ychwanegu'r tanysgrifiad").click()
    await expect(page).to_have_url(f"{base}/alerts?done=added")
    await expect(page.get_by_role("status")).to_have_text("Ychwanegwyd y tanysgrifiad.")
    row = page.locator("tbody tr")
    await expect(row).to_contain_text("Crynodeb dyddiol")
    await expect(row).to_contain_text("Popeth")
    await axe_check(page)
    await save_screenshot(page, "alerts-cy-added")

    subscription_id = await row.get_attribute("data-subscription-id")
    assert subscription_id is not None
    await page.get_by_role(
        "link", name="Dileu y tanysgrifiad ar gyfer ward@riverside.example (Straeon newydd)"
    ).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dileu'r tanysgrifiad hwn?")
    await axe_check(page)
    await save_screenshot(page, "alerts-cy-delete-confirm")
    await page.get_by_role("link", name="Na, cadwch ef").click()
    await expect(page.locator("tbody tr")).to_have_count(1)

    unsubscribe_token = sign_unsubscribe(
        alerting.UNSUBSCRIBE_SECRET,
        UnsubscribeTarget(UnsubscribeScope.SUBSCRIPTION, uuid.UUID(subscription_id)),
    )
    await page.goto(f"{base}/v1/unsubscribe?token={unsubscribe_token}")
    await expect(page.locator("html")).to_have_attribute("lang", "cy")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dad-danysgrifio")
    await axe_check(page)
    await page.get_by_role("button", name="Dad-danysgrifio").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Rydych wedi dad-danysgrifio")
    await axe_check(page)
    await save_screenshot(page, "alerts-cy-unsubscribed")

    # The switch goes back to English, and that is remembered.
    await page.goto(f"{base}/alerts")
    await page.locator("#language-switch").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en-GB")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Email alerts for RXA")
