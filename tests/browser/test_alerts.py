"""Staff manage their organisation's email alerts in a real browser: add one, delete it;
every service of the organisation directory is offered by name.

notifications runs as a real process (fresh database and topic prefix, real Kafka,
a real SMTP sink); axe-core scans every page; screenshots go to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from candour_cli.directory import load_directory, read_directory
from candour_common.auth import Role, issue_token
from candour_common.cloudevents import Envelope
from candour_common.events import (
    AuthorContact,
    OrganisationRef,
    Relationship,
    ServiceRef,
    StorySubmitted,
)
from candour_common.topics import TopicNames
from candour_notifications.domain import UnsubscribeScope, UnsubscribeTarget, sign_unsubscribe
from tests.browser.conftest import axe_check, save_screenshot
from tests.browser.test_journey import reload_until
from tests.conftest import free_port
from tests.infra import MailSink
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

DELETE_WARD = "Delete the subscription for ward@riverside.example"
SECRET = "browser-alerts-secret-0123456789abcdef0123"
UNSUBSCRIBE_SECRET = "browser-alerts-unsubscribe-0123456789abcdef"


@pytest.fixture
async def notifications(
    create_database, kafka_bootstrap: str, topics: TopicNames, smtp_server: MailSink, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    port = free_port()
    process = ServiceProcess(
        name="notifications",
        port=port,
        env={
            "CANDOUR_DATABASE_URL": await create_database("notifications"),
            "CANDOUR_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CANDOUR_TOPIC_PREFIX": topics.prefix,
            "CANDOUR_JWT_SECRET": SECRET,
            "CANDOUR_UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
            "CANDOUR_ENV": "dev",  # plain http on 127.0.0.1: cookies without Secure
            "CANDOUR_SMTP_HOST": smtp_server.host,
            "CANDOUR_SMTP_PORT": str(smtp_server.port),
            "CANDOUR_NOTIFICATIONS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        },
        log_path=tmp_path / "notifications.log",
    )
    process.start()
    try:
        await process.wait_ready()
        yield process
    finally:
        code = process.stop(signal.SIGTERM)
        print(f"----- notifications log (exit {code}) -----\n{process.logs()[-4000:]}")


async def tell_of_services(kafka_bootstrap: str, topics: TopicNames) -> None:
    """Stories about two of Riverside's services arrive, as they do in production: one way
    notifications learns the services' names (the directory on directory.organisations
    is the other, see the last test)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for service in (
            ServiceRef(id="RXA-MAT", name="Maternity"),
            ServiceRef(id="RXA-ED", name="Emergency Department"),
        ):
            event = StorySubmitted(
                story_id=uuid.uuid4(),
                submitted_at=datetime.now(UTC),
                title="A story",
                body="Words.",
                organisation=OrganisationRef(id="RXA", name="Riverside Hospitals NHS Trust"),
                service=service,
                author=AuthorContact(display_name="Sam", relationship=Relationship.PATIENT),
            )
            headers = Envelope.new(event, service="test").headers()
            await producer.send_and_wait(
                topics.name(event.topic),
                event.model_dump_json().encode(),
                key=event.kafka_key().encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
    finally:
        await producer.stop()


async def test_staff_add_a_subscription_and_delete_it(
    notifications: ServiceProcess, page: Page, kafka_bootstrap: str, topics: TopicNames
) -> None:
    base = notifications.url
    await tell_of_services(kafka_bootstrap, topics)
    # The trust's own mail domain: staff may add addresses there without a confirmation.
    operator = issue_token(SECRET, role=Role.OPERATOR, subject="operator")
    async with httpx.AsyncClient() as client:
        domains = await client.put(
            f"{base}/v1/organisations/RXA/mail-domains",
            json={"domains": ["riverside.example"]},
            headers={"Authorization": f"Bearer {operator}"},
        )
        assert domains.status_code == 200, domains.text
    await page.goto(f"{base}/alerts")
    await expect(page).to_have_url(f"{base}/alerts/sign-in")
    await axe_check(page)
    await save_screenshot(page, "alerts-sign-in")

    staff = issue_token(SECRET, role=Role.STAFF, subject="ward-manager", organisation_id="RXA")
    await page.get_by_label("Staff token").fill(staff)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{base}/alerts")
    # The services arrive through Kafka: reload until notifications has heard of them.
    deadline = asyncio.get_running_loop().time() + 60
    while not await page.get_by_label("Emergency Department").count():
        assert asyncio.get_running_loop().time() < deadline, "services never offered"
        await asyncio.sleep(0.5)
        await page.reload()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Email alerts for Riverside Hospitals NHS Trust"
    )
    await axe_check(page)
    await save_screenshot(page, "alerts-empty")

    # A mistake first: the error is shown next to the field and what was typed is kept.
    await page.get_by_label("Email address").fill("not-an-address")
    await page.get_by_role("button", name="Add subscription").click()
    await expect(page.locator("#email-error")).to_be_visible()
    await expect(page.get_by_label("Email address")).to_have_value("not-an-address")
    await axe_check(page)
    await save_screenshot(page, "alerts-error")

    await page.get_by_label("Email address").fill("ward@riverside.example")
    await page.get_by_label("New stories").check()
    await page.get_by_label("A daily digest").check()
    await page.get_by_label("Maternity").check()
    await page.get_by_label("kindness").check()
    await page.get_by_label("Only stories at least this critical (optional)").select_option("2")
    await page.get_by_role("button", name="Add subscription").click()
    await expect(page).to_have_url(f"{base}/alerts?done=added")
    row = page.locator("tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("ward@riverside.example")
    await expect(row).to_contain_text("A daily digest")
    await expect(row).to_contain_text("Services: Maternity")
    await expect(row).not_to_contain_text("RXA-MAT")
    await axe_check(page)
    await save_screenshot(page, "alerts-added")

    subscription_id = await row.get_attribute("data-subscription-id")
    assert subscription_id is not None
    unsubscribe_token = sign_unsubscribe(
        UNSUBSCRIBE_SECRET,
        UnsubscribeTarget(UnsubscribeScope.SUBSCRIPTION, uuid.UUID(subscription_id)),
    )
    await page.goto(f"{base}/v1/unsubscribe?token={unsubscribe_token}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe")
    await axe_check(page)
    await save_screenshot(page, "alerts-unsubscribe-confirm")

    await page.goto(f"{base}/alerts")
    await page.get_by_role(
        "link", name="Delete the subscription for ward@riverside.example"
    ).click()
    # It asks first; "No, keep it" keeps it.
    await expect(page.get_by_role("heading", level=1)).to_have_text("Delete this subscription?")
    await expect(page.locator("main")).to_contain_text("ward@riverside.example")
    await axe_check(page)
    await save_screenshot(page, "alerts-delete-confirm")
    await page.get_by_role("link", name="No, keep it").click()
    await expect(page.locator("tbody tr")).to_have_count(1)
    await page.get_by_role(
        "link", name="Delete the subscription for ward@riverside.example"
    ).click()
    await page.get_by_role("button", name="Yes, delete it").click()
    await expect(page).to_have_url(f"{base}/alerts?done=deleted")
    await expect(page.get_by_role("status")).to_contain_text("The subscription was deleted")
    await expect(page.locator("tbody tr")).to_have_count(0)
    await axe_check(page)
    await save_screenshot(page, "alerts-deleted")

    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        listed = await client.get("/v1/subscriptions", headers={"Authorization": f"Bearer {staff}"})
    assert listed.json() == []


RIVERSIDE_DIRECTORY = """\
organisation_id,organisation_name,organisation_type,service_id,service_name
RXA,Riverside Hospitals NHS Trust,nhs_trust,RXA-MAT,Maternity
RXA,Riverside Hospitals NHS Trust,nhs_trust,RXA-ED,Emergency Department
RXA,Riverside Hospitals NHS Trust,nhs_trust,RXA-PHYSIO,Physiotherapy
"""


@pytest.fixture
async def intake(
    create_database, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    """story-intake as a real process, its directory imported as `candour directory
    import` imports it (which queues the directory on directory.organisations)."""
    database = await create_database("story_intake")
    csv = tmp_path / "directory.csv"
    csv.write_text(RIVERSIDE_DIRECTORY, encoding="utf-8")
    await load_directory(database, read_directory(csv), create=False)
    process = ServiceProcess(
        name="story-intake",
        port=free_port(),
        env={
            "CANDOUR_DATABASE_URL": database,
            "CANDOUR_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CANDOUR_TOPIC_PREFIX": topics.prefix,
            "CANDOUR_JWT_SECRET": SECRET,
            "CANDOUR_ENV": "dev",
            "CANDOUR_OUTBOX_POLL_INTERVAL": "0.5",
        },
        log_path=tmp_path / "story-intake.log",
    )
    process.start()
    try:
        await process.wait_ready()
        yield process
    finally:
        code = process.stop(signal.SIGTERM)
        print(f"----- story-intake log (exit {code}) -----\n{process.logs()[-4000:]}")


async def test_the_page_offers_every_service_of_the_directory_by_name(
    intake: ServiceProcess, notifications: ServiceProcess, page: Page
) -> None:
    """Defect: the alerts page offered only the services some story had named. Here the
    directory is imported into story-intake, which publishes it; one story names
    Maternity; Physiotherapy and the Emergency Department no story has named."""
    async with httpx.AsyncClient(base_url=intake.url, timeout=10) as client:
        shared = await client.post(
            "/v1/stories",
            json={
                "title": "Kind midwives",
                "body": "The midwives explained everything.",
                "organisation_id": "RXA",
                "service_id": "RXA-MAT",
                "author": {"display_name": "Sam", "relationship": "patient"},
            },
        )
        assert shared.status_code == 201, shared.text
    base = notifications.url
    staff = issue_token(SECRET, role=Role.STAFF, subject="ward-manager", organisation_id="RXA")
    await page.goto(f"{base}/alerts/sign-in")
    await page.get_by_label("Staff token").fill(staff)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{base}/alerts")
    await reload_until(page, f"{base}/alerts", "Physiotherapy")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Email alerts for Riverside Hospitals NHS Trust"
    )
    services = page.get_by_role("group", name="Only these services (optional)")
    await expect(services.get_by_role("checkbox")).to_have_count(3)
    for name in ("Emergency Department", "Maternity", "Physiotherapy"):
        await expect(services.get_by_label(name, exact=True)).to_be_visible()
    await expect(services).not_to_contain_text("RXA-PHYSIO")
    await axe_check(page)
    await save_screenshot(page, "alerts-directory-services")

    await page.get_by_label("Email address").fill("physio@riverside.example")
    await page.get_by_label("New stories").check()
    await services.get_by_label("Physiotherapy", exact=True).check()
    await page.get_by_role("button", name="Add subscription").click()
    # No mail domains set for the trust: the address's owner confirms it first.
    await expect(page).to_have_url(f"{base}/alerts?done=awaiting")
    row = page.locator("tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Services: Physiotherapy")
    await expect(row).not_to_contain_text("RXA-PHYSIO")
    await save_screenshot(page, "alerts-directory-subscribed")
