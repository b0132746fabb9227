"""story.approved -> one email per matching immediate subscriber, exactly once, unsubscribable."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from candour_common.auth import Role
from candour_common.events import PublicAuthor, Relationship, Tags
from tests.infra import MailSink
from tests.integration.notifications.conftest import (
    EMERGENCY,
    ORG_B,
    Publisher,
    ServiceFactory,
    approved,
    auth,
)

pytestmark = pytest.mark.integration


async def test_each_matching_subscriber_gets_exactly_one_email(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        await service.subscribe("all@riverside.example")
        await service.subscribe(
            "maternity@riverside.example",
            service_ids=["RXA-MAT"],
            tags=["Waiting times"],
            min_criticality=3,
        )
        # Each of these fails exactly one rule.
        await service.subscribe("other-org@hillview.example", organisation_id=ORG_B.id)
        await service.subscribe("emergency@riverside.example", service_ids=[EMERGENCY.id])
        await service.subscribe("parking@riverside.example", tags=["parking"])
        await service.subscribe("severe@riverside.example", min_criticality=5)
        await service.subscribe("digest@riverside.example", frequency="daily")
        await service.subscribe("responses@riverside.example", kind="responses")

        story = approved(
            title="Waiting <b>all night</b>",
            body='The staff were kind.\n<script>alert("pwned")</script>',
            tags=Tags(improve=["waiting times"]),
            criticality=4,
        )
        envelope = await publish(story)

        [first] = await smtp_server.wait_for("all@riverside.example", timeout=45)
        [targeted] = await smtp_server.wait_for("maternity@riverside.example", timeout=45)

        # The same event again (same ce_id): the inbox makes it a no-op. A later
        # event on the same key (same partition, so processed after it) tells us
        # when the duplicate has been consumed.
        await publish(story, envelope)
        marker = approved(story_id=story.story_id, revision=2, title="Edited")
        await service.subscribe("late@riverside.example")
        await publish(marker)
        await smtp_server.wait_for("late@riverside.example", timeout=45)

        assert len(smtp_server.to("all@riverside.example")) == 1
        assert len(smtp_server.to("maternity@riverside.example")) == 1
        for address in (
            "other-org@hillview.example",
            "emergency@riverside.example",
            "parking@riverside.example",
            "severe@riverside.example",
            "digest@riverside.example",
            "responses@riverside.example",
        ):
            assert smtp_server.to(address) == [], address
        assert {m.envelope_to[0] for m in smtp_server.messages} == {
            "all@riverside.example",
            "maternity@riverside.example",
            "late@riverside.example",
        }

        rows = await service.fetch(
            "SELECT recipient, status, attempts FROM deliveries WHERE event_id = $1",
            envelope.id,
        )
        assert sorted((r["recipient"], r["status"], r["attempts"]) for r in rows) == [
            ("all@riverside.example", "sent", 1),
            ("maternity@riverside.example", "sent", 1),
        ]

        # The email itself.
        # Long headers are folded on the wire; a mail reader unfolds them.
        assert " ".join(first.subject.split()) == (
            "New story about Maternity, Riverside Hospitals NHS Trust (strongly critical)"
        )
        assert first.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsubscribe = first.message["List-Unsubscribe"]
        assert re.fullmatch(
            r"<http://notifications\.test/v1/unsubscribe\?token=[^>]+>", unsubscribe
        )
        parts = {p.get_content_type(): p for p in first.message.walk()}
        html = parts["text/html"].get_payload(decode=True).decode()
        text = parts["text/plain"].get_payload(decode=True).decode()
        assert "<script>" not in html
        assert "&lt;script&gt;" in html
        assert "Waiting &lt;b&gt;all night&lt;/b&gt;" in html
        # Links open pages (issue 23): the public story page, and the staff response page.
        assert f'href="http://search.test/stories/{story.story_id}"' in html
        assert f'href="http://intake.test/respond/{story.story_id}"' in html
        assert "/v1/" not in html.replace("/v1/unsubscribe", "")
        assert '<script>alert("pwned")</script>' in text
        assert f"http://search.test/stories/{story.story_id}" in text
        assert f"http://intake.test/respond/{story.story_id}" in text
        assert targeted.message["List-Unsubscribe"] != unsubscribe


async def test_one_click_unsubscribe_stops_further_mail(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        await service.subscribe("leaving@riverside.example")
        await service.subscribe("staying@riverside.example")
        await publish(approved())
        [mail] = await smtp_server.wait_for("leaving@riverside.example", timeout=45)

        url = urlsplit(mail.message["List-Unsubscribe"].strip("<>"))
        target = f"{url.path}?{url.query}"

        # The page a person sees from the link changes nothing by itself.
        page = await service.client.get(target)
        assert page.status_code == 200
        assert "<form" in page.text
        assert "leaving@riverside.example" not in page.text

        # What a mail client sends for RFC 8058 one-click unsubscribe: no login.
        answer = await service.client.post(
            target,
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 200
        assert "unsubscribed" in answer.text
        again = await service.client.post(target, content="List-Unsubscribe=One-Click")
        assert again.status_code == 200

        later = approved()
        await publish(later)
        await smtp_server.wait_for("staying@riverside.example", count=2, timeout=45)
        assert len(smtp_server.to("leaving@riverside.example")) == 1

        listed = await service.client.get("/v1/subscriptions", headers=auth(Role.OPERATOR, None))
        assert [s["email"] for s in listed.json()] == ["staying@riverside.example"]

        bad = await service.client.post("/v1/unsubscribe?token=s.deadbeef.nope")
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["errors"][0]["field"] == "query.token"


async def test_a_story_without_a_name_is_emailed_as_anonymous(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        await service.subscribe("all@riverside.example")
        story = approved(title="Told without a name").model_copy(
            update={"author": PublicAuthor(relationship=Relationship.CARER)}
        )
        await publish(story)
        [mail] = await smtp_server.wait_for("all@riverside.example", timeout=45)
    text = mail.text()  # the plain and the HTML part
    assert text.count("By Anonymous (carer)") == 2
    assert "None" not in text
