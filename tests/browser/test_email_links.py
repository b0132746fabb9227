"""Every link in every email opens a page in a real browser, never an API document (#23).

One platform start serves the whole test: story-intake, notifications and search run as
real processes (fresh databases and topic prefix, real Kafka), the events arrive as
intake and moderation publish them, the emails land in a real SMTP server. One email of
every template in notifications' `templates/` is caused; every link of its HTML and
text parts is opened in chromium and must answer with an HTML page (a staff page may
first send the reader to its sign-in page) that axe-core finds clean.
"""

from __future__ import annotations

import asyncio
import re
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, expect

from candour_common.auth import Role, issue_token
from candour_common.events import (
    AuthorContact,
    RejectionReason,
    Relationship,
    StoryRejected,
    StorySubmitted,
)
from candour_common.topics import TopicNames
from tests.browser.conftest import axe_check, save_screenshot
from tests.browser.test_search_pages import publish
from tests.conftest import CreateDatabase, free_port
from tests.infra import MailSink, ReceivedMail
from tests.integration.notifications.test_safeguarding_alerts import raised
from tests.integration.search.conftest import MATERNITY, ORG_A, approved, response
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SECRET = "email-links-secret-0123456789abcdef0123456789"
UNSUBSCRIBE_SECRET = "email-links-unsubscribe-0123456789abcdef0123"

# story-intake serves the staff response page at `/respond/{story id}`: the respond links
# get the checks every other link gets (an HTML page, here the staff sign-in page,
# axe-clean). Set to False only to assert the 404 a build without that page gives.
RESPOND_PAGE_SERVED = True
RESPOND_PATH = re.compile(r"^/respond/[0-9a-f-]{36}$")
STORY_PATH = re.compile(r"^/stories/([0-9a-f-]{36})$")

# Who gets which email (one address per template, so each mail says what it is).
AUTHOR = "author@patients.example"
REJECTED_AUTHOR = "not-published@patients.example"
STORIES_NOW = "stories-now@riverside.example"
STORIES_DAILY = "stories-daily@riverside.example"
RESPONSES_NOW = "responses-now@riverside.example"
RESPONSES_DAILY = "responses-daily@riverside.example"
SAFEGUARDING_LEAD = "safeguarding.lead@riverside.example"
DUTY_MODERATOR = "duty@candour.example"
OUTSIDER = "governor@elsewhere.example"  # outside the trust's mail domains: double opt-in
RECIPIENT_OF = {
    "author_response": AUTHOR,
    "author_published": AUTHOR,
    "author_rejected": REJECTED_AUTHOR,
    "story_alert": STORIES_NOW,
    "story_digest": STORIES_DAILY,
    "response_alert": RESPONSES_NOW,
    "response_digest": RESPONSES_DAILY,
    "safeguarding_alert": SAFEGUARDING_LEAD,
    "safeguarding_realert": DUTY_MODERATOR,
    "subscription_confirmation": OUTSIDER,
}
# The author gets two of them: which is which, by its subject.
SUBJECT_OF = {"author_response": "responded", "author_published": "published"}


def email_templates() -> set[str]:
    """The email kinds notifications can send: its templates, less partials and the base."""
    folder = resources.files("candour_notifications") / "templates"
    return {
        Path(entry.name).stem
        for entry in folder.iterdir()
        if entry.name.endswith(".html") and not entry.name.startswith("_")
    } - {"base", "bilingual"}  # the layouts of one language's email and of both


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)


# A link in a text part runs to the next space (templates put each on its own line).
TEXT_LINK = re.compile(r"\b(?:https?://|mailto:)\S+")


@dataclass(frozen=True)
class MailLinks:
    html: set[str]
    text: set[str]


def links_of(mail: ReceivedMail) -> MailLinks:
    html: set[str] = set()
    text: set[str] = set()
    for part in mail.message.walk():
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        body = payload.decode(part.get_content_charset() or "utf-8")
        if part.get_content_type() == "text/html":
            parser = _Hrefs()
            parser.feed(body)
            html.update(parser.hrefs)
        elif part.get_content_type() == "text/plain":
            text.update(TEXT_LINK.findall(body))
    return MailLinks(html, text)


@pytest.fixture
async def platform(
    create_database: CreateDatabase,
    kafka_bootstrap: str,
    topics: TopicNames,
    smtp_server: MailSink,
    tmp_path: Path,
) -> AsyncIterator[dict[str, ServiceProcess]]:
    names = ("story-intake", "notifications", "search")
    databases = {name: await create_database(name.replace("-", "_")) for name in names}
    ports = {name: free_port() for name in names}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    common = {
        "CANDOUR_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CANDOUR_TOPIC_PREFIX": topics.prefix,
        "CANDOUR_JWT_SECRET": SECRET,
        "CANDOUR_ENV": "dev",  # plain http on 127.0.0.1: cookies without Secure
        "CANDOUR_INTAKE_PUBLIC_URL": urls["story-intake"],
        "CANDOUR_NOTIFICATIONS_PUBLIC_URL": urls["notifications"],
        "CANDOUR_SEARCH_PUBLIC_URL": urls["search"],
    }
    notifications = {
        "CANDOUR_UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
        "CANDOUR_SMTP_HOST": smtp_server.host,
        "CANDOUR_SMTP_PORT": str(smtp_server.port),
        # The links in the emails: story pages on search, the rest on notifications.
        "CANDOUR_DELIVERY_POLL_INTERVAL": "0.5",
        # Digests due from midnight, checked often: the day's digest goes at once.
        "CANDOUR_DIGEST_TIME": "00:00",
        "CANDOUR_DIGEST_CHECK_INTERVAL": "0.5",
        # Nobody acknowledges in the test's first seconds: the re-alert follows.
        "CANDOUR_SAFEGUARDING_DUTY_MODERATORS": DUTY_MODERATOR,
        "CANDOUR_SAFEGUARDING_DUTY_CONTACT": "Candour duty moderator, 0300 000 0000",
        "CANDOUR_SAFEGUARDING_ACK_TIMEOUT_SECONDS": "2",
        "CANDOUR_SAFEGUARDING_CHECK_INTERVAL": "0.5",
    }
    services = {
        name: ServiceProcess(
            name=name,
            port=ports[name],
            env={
                **common,
                **(notifications if name == "notifications" else {}),
                "CANDOUR_DATABASE_URL": databases[name],
            },
            log_path=tmp_path / f"{name}.log",
        )
        for name in names
    }
    for service in services.values():
        service.start()
    try:
        await asyncio.gather(*(s.wait_ready() for s in services.values()))
        yield services
    finally:
        for name, service in services.items():
            code = service.stop(signal.SIGTERM)
            print(f"----- {name} log (exit {code}) -----\n{service.logs()[-3000:]}")


async def subscribe(client: httpx.AsyncClient, token: str, email: str, **choices: str) -> None:
    created = await client.post(
        "/v1/subscriptions",
        json={"email": email, "organisation_id": ORG_A.id, **choices},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.text


async def until(what: str, probe: Callable[[], Awaitable[bool]], *, within: float = 60) -> None:
    """Poll `probe` until it says yes (the pipeline is asynchronous)."""
    deadline = asyncio.get_running_loop().time() + within
    while not await probe():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{what}: not within {within}s")
        await asyncio.sleep(0.2)


async def cause_every_email(
    platform: dict[str, ServiceProcess], kafka_bootstrap: str, topics: TopicNames, title: str
) -> uuid.UUID:
    """Subscriptions of every kind, then a story's life as intake and moderation publish
    it: submitted (the author wants to hear of responses), a safeguarding concern,
    approved, answered. Returns the story's id."""
    notifications = platform["notifications"]
    operator = issue_token(SECRET, role=Role.OPERATOR, subject="operator")
    staff = issue_token(SECRET, role=Role.STAFF, subject="ward-manager", organisation_id=ORG_A.id)
    async with httpx.AsyncClient(base_url=notifications.url, timeout=10) as client:
        for email, kind, frequency in [
            (STORIES_NOW, "stories", "immediate"),
            (STORIES_DAILY, "stories", "daily"),
            (RESPONSES_NOW, "responses", "immediate"),
            (RESPONSES_DAILY, "responses", "daily"),
            (SAFEGUARDING_LEAD, "safeguarding", "immediate"),
        ]:
            await subscribe(client, operator, email, kind=kind, frequency=frequency)
        # Staff subscribing an address outside the trust's domains: a confirmation goes.
        await subscribe(client, staff, OUTSIDER, kind="stories", frequency="immediate")

    story = approved(
        title=title,
        body="The midwife sat with me through the night and explained every step.",
        published_at=datetime.now(UTC),
    )
    concern = raised(story.story_id, organisation=ORG_A)
    submitted = StorySubmitted(
        story_id=story.story_id,
        submitted_at=datetime.now(UTC),
        title=story.title,
        body=story.body,
        organisation=ORG_A,
        service=MATERNITY,
        author=AuthorContact(
            display_name="A patient",
            relationship=Relationship.PATIENT,
            email=AUTHOR,
            notify_on_response=True,
        ),
    )
    # Another author's story is not published: they are told why and how to resubmit.
    refused = submitted.model_copy(
        update={
            "story_id": uuid.uuid4(),
            "author": submitted.author.model_copy(update={"email": REJECTED_AUTHOR}),
        }
    )
    refusal = StoryRejected(
        story_id=refused.story_id,
        rejected_at=datetime.now(UTC),
        organisation=ORG_A,
        service=MATERNITY,
        reason=RejectionReason.NOT_ABOUT_CARE,
    )
    await publish(kafka_bootstrap, topics, [submitted, story, refused])

    # The alert and the response go once notifications holds the author's address (it
    # comes on another topic, so in no order with them): the author asked to hear of
    # responses, and the safeguarding lead may need to reach them.
    database = notifications.env["CANDOUR_DATABASE_URL"]

    async def author_known() -> bool:
        conn = await asyncpg.connect(database)
        try:
            found = await conn.fetchval(
                "SELECT count(*) FROM author_contacts WHERE story_id = ANY($1::uuid[])",
                [story.story_id, refused.story_id],
            )
        finally:
            await conn.close()
        return bool(found == 2)

    await until("notifications stored the authors' addresses", author_known)
    await publish(
        kafka_bootstrap, topics, [concern, response(story, posted_at=datetime.now(UTC)), refusal]
    )

    async with httpx.AsyncClient(base_url=platform["search"].url, timeout=5) as client:

        async def answered_on_search() -> bool:
            found = await client.get(f"/v1/stories/{story.story_id}")
            return found.status_code == 200 and bool(found.json().get("responses"))

        await until("search shows the story and its response", answered_on_search)
    return story.story_id


async def mail_of(smtp_server: MailSink, address: str, subject_has: str) -> ReceivedMail:
    """The first email to `address` whose subject has `subject_has`."""

    async def arrived() -> bool:
        return any(subject_has in m.subject for m in smtp_server.to(address))

    await until(f"an email to {address} about {subject_has or 'anything'}", arrived)
    return next(m for m in smtp_server.to(address) if subject_has in m.subject)


async def follow(page: Page, url: str, *, story_title: str) -> str:
    """Open `url` as a reader would; assert it lands on an axe-clean HTML page. Returns
    where it landed (after any redirects), with the status and content type."""
    answer = await page.goto(url)
    assert answer is not None, f"{url}: no response"
    path = urlsplit(url).path
    content_type = answer.headers.get("content-type", "")
    landing = f"{page.url} ({answer.status}, {content_type})"
    if RESPOND_PATH.match(path) and not RESPOND_PAGE_SERVED:
        # TODAY'S GAP (see RESPOND_PAGE_SERVED): story-intake has no `/respond/{id}` yet.
        assert answer.status == 404, (
            f"{url} answers {answer.status}: the respond page has landed, so set "
            "RESPOND_PAGE_SERVED = True to give it the full checks"
        )
        return landing
    assert answer.status < 400, f"{url} answered {answer.status}"
    assert content_type.startswith("text/html"), f"{url} is {content_type!r}, not a page"
    landed = urlsplit(page.url).path
    if RESPOND_PATH.match(path):
        # Staff pages ask who you are first, then come back to the story.
        assert landed == "/respond/sign-in", f"{url} landed on {page.url}"
    if STORY_PATH.match(path):
        await expect(page.get_by_role("heading", level=1)).to_have_text(story_title)
    await axe_check(page)
    return landing


async def test_every_link_of_every_email_opens_a_page(
    platform: dict[str, ServiceProcess],
    kafka_bootstrap: str,
    topics: TopicNames,
    smtp_server: MailSink,
    page: Page,
) -> None:
    templates = email_templates()
    # A template added without an email caught here fails the test: every one is followed.
    assert templates == set(RECIPIENT_OF), f"templates without a case: {templates}"

    title = f"Looked after through the night {uuid.uuid4().hex[:6]}"
    story_id = await cause_every_email(platform, kafka_bootstrap, topics, title)
    mails = {
        template: await mail_of(smtp_server, address, SUBJECT_OF.get(template, ""))
        for template, address in RECIPIENT_OF.items()
    }

    origins = {urlsplit(service.url).netloc for service in platform.values()}
    landings: dict[str, dict[str, str]] = {}
    for template, mail in sorted(mails.items()):
        links = links_of(mail)
        web = {link for link in links.html | links.text if not link.startswith("mailto:")}
        assert web, f"{template}: no links at all"
        # The plain-text part offers every page the HTML part does, and no other.
        assert web == {link for link in links.html if not link.startswith("mailto:")}
        assert web == {link for link in links.text if not link.startswith("mailto:")}
        # The one other link: in a safeguarding alert, the address the author gave.
        mailto = {link for link in links.html | links.text if link.startswith("mailto:")}
        assert mailto == ({f"mailto:{AUTHOR}"} if template.startswith("safeguarding") else set())
        landings[template] = {}
        for link in sorted(web):
            # Every link goes to one of the platform's services as configured, never to
            # a default address or an API document.
            assert urlsplit(link).netloc in origins, f"{template}: {link} leaves the platform"
            assert "/v1/stories/" not in link, f"{template}: {link} is the API"
            landings[template][link] = await follow(page, link, story_title=title)
        await save_screenshot(page, f"email-links-{template}")

    # The story's own pages are what the emails are for: the public story page in every
    # story and response email, the staff response page in the staff's story emails.
    story_page = f"{platform['search'].url}/stories/{story_id}"
    respond_page = f"{platform['story-intake'].url}/respond/{story_id}"
    for template in ("author_response", "response_alert", "response_digest"):
        assert story_page in landings[template], template
    for template in ("story_alert", "story_digest"):
        assert {story_page, respond_page} <= set(landings[template]), template
    # What the report of a run shows: each link and where it landed.
    for template, followed in sorted(landings.items()):
        for link, landed in sorted(followed.items()):
            print(f"{template}: {link} -> {landed}")
