"""The author is always told the outcome, in their story's language, and exactly once;
staff emails are in their organisation's language (issue #20). Real Kafka, PostgreSQL
and an SMTP server that keeps what it receives."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.header import decode_header, make_header

import pytest

from candour_common.events import (
    OrganisationLanguage,
    OrganisationListed,
    RejectionReason,
    StoryLanguage,
    StoryRejected,
    StorySubmitted,
    StoryWithdrawn,
)
from tests.infra import MailSink, ReceivedMail
from tests.integration.notifications.conftest import (
    MATERNITY,
    ORG_A,
    Publisher,
    Running,
    ServiceFactory,
    approved,
    eventually,
)
from tests.integration.notifications.conftest import submitted as conftest_submitted

pytestmark = pytest.mark.integration

BODY = "The midwife on the night shift held my hand for three hours."
INTAKE = "http://intake.test"  # intake_public_url in conftest.py


def subject(mail: ReceivedMail) -> str:
    return " ".join(str(make_header(decode_header(mail.subject))).split())


def submitted(
    story_id: uuid.UUID,
    email: str | None,
    *,
    version: int = 1,
    language: StoryLanguage = StoryLanguage.ENGLISH,
) -> StorySubmitted:
    """The conftest's story.submitted with this file's title and text."""
    return conftest_submitted(
        story_id, email, title="Night shift", body=BODY, version=version, language=language
    )


def rejected(story_id: uuid.UUID, reason: RejectionReason) -> StoryRejected:
    return StoryRejected(
        story_id=story_id,
        rejected_at=datetime.now(UTC),
        organisation=ORG_A,
        service=MATERNITY,
        reason=reason,
    )


async def handled(service: Running, *envelope_ids: uuid.UUID) -> None:
    async def done() -> bool:
        rows = await service.fetch(
            "SELECT 1 FROM inbox WHERE event_id = ANY($1::uuid[])", list(envelope_ids)
        )
        return len(rows) == len(envelope_ids)

    await eventually(done)


async def test_published_in_english_once_with_its_link_and_title_never_its_text(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        story_id = uuid.uuid4()
        contact = await publish(submitted(story_id, "author@home.example"))
        await handled(service, contact.id)
        story = approved(story_id=story_id, title="Night shift, kindly", body=BODY)
        first = await publish(story)
        # The same event again (a redelivery), another event of the same publication,
        # and a re-publication (revision 2): none emails the author again.
        again = await publish(story, first)
        replay = await publish(story)
        edit = await publish(approved(story_id=story_id, title="Edited", revision=2))
        [mail] = await smtp_server.wait_for("author@home.example", timeout=45)
        assert subject(mail) == "Your story is published: Night shift, kindly"
        assert f"/stories/{story_id}" in mail.text()
        assert f"{INTAKE}/follow?story={story_id}" in mail.text()
        assert "midwife" not in mail.text()
        await handled(service, first.id, replay.id, edit.id)
        assert again.id == first.id
        sent = await service.fetch(
            "SELECT status FROM deliveries WHERE kind = 'author_published' AND story_id = $1",
            story_id,
        )
        assert [r["status"] for r in sent] == ["sent"]
        assert len(smtp_server.to("author@home.example")) == 1
        # They did not ask about responses: nothing is kept to reach them with.
        assert await service.fetch("SELECT 1 FROM author_contacts") == []


async def test_rejected_in_welsh_then_edited_resubmitted_and_published_in_welsh(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        await service.subscribe("ward@riverside.example")
        story_id = uuid.uuid4()
        first = await publish(
            submitted(story_id, "awdur@cartref.example", language=StoryLanguage.WELSH)
        )
        await handled(service, first.id)
        decision = await publish(rejected(story_id, RejectionReason.OFFENSIVE))
        await publish(rejected(story_id, RejectionReason.OFFENSIVE), decision)  # redelivered
        [refusal] = await smtp_server.wait_for("awdur@cartref.example", timeout=45)
        assert subject(refusal) == "Ni allem gyhoeddi eich stori: Night shift"
        words = refusal.text()
        assert "Gallai rhai o'i geiriau frifo" in words  # the reason, in Welsh
        assert "heb sarhau" in words  # what they can change
        assert f"{INTAKE}/follow?story={story_id}&lang=cy" in words
        assert "Golygu ac anfon eto" in words
        assert BODY not in words
        assert refusal.message["List-Unsubscribe"]

        edited = await publish(
            submitted(story_id, "awdur@cartref.example", version=2, language=StoryLanguage.WELSH)
        )
        await handled(service, edited.id)
        await publish(approved(story_id=story_id, title="Shifft nos"))
        _, published = await smtp_server.wait_for("awdur@cartref.example", count=2, timeout=45)
        assert subject(published) == "Mae eich stori wedi'i chyhoeddi: Shifft nos"
        assert f"/stories/{story_id}?lang=cy" in published.text()
        assert '<html lang="cy">' in published.text()
        # One trust alert for the story, whatever versions it went through.
        await smtp_server.wait_for("ward@riverside.example", timeout=45)
        assert len(smtp_server.to("awdur@cartref.example")) == 2
        assert len(smtp_server.to("ward@riverside.example")) == 1


async def test_a_decision_read_before_its_story_still_reaches_the_author(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    """story.rejected overtook story.submitted (different topics, e.g. both waiting after
    an outage): the decision is kept, not personal, until the story comes."""
    async with notifications(smtp_port=smtp_server.port) as service:
        story_id = uuid.uuid4()
        decision = await publish(rejected(story_id, RejectionReason.NOT_ABOUT_CARE))
        await handled(service, decision.id)
        [kept] = await service.fetch(
            "SELECT reason FROM rejections_before_contact WHERE story_id = $1", story_id
        )
        assert kept["reason"] == "not_about_care"
        contact = await publish(
            submitted(story_id, "hwyr@cartref.example", language=StoryLanguage.WELSH)
        )
        [mail] = await smtp_server.wait_for("hwyr@cartref.example", timeout=45)
        assert subject(mail) == "Ni allem gyhoeddi eich stori: Night shift"
        assert f"{INTAKE}/follow?story={story_id}&lang=cy" in mail.text()
        await handled(service, contact.id)
        assert await service.fetch("SELECT 1 FROM rejections_before_contact") == []


async def test_no_email_for_a_withdrawal_nor_for_a_decision_arriving_after_it(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        story_id = uuid.uuid4()
        contact = await publish(submitted(story_id, "gone@home.example"))
        await handled(service, contact.id)
        withdrawal = await publish(
            StoryWithdrawn(
                story_id=story_id, withdrawn_at=datetime.now(UTC), organisation_id=ORG_A.id
            )
        )
        late = await publish(rejected(story_id, RejectionReason.OTHER))
        await handled(service, withdrawal.id, late.id)
        # Another author's outcome, after them on the same topic, proves the worker ran.
        other = uuid.uuid4()
        await handled(service, (await publish(submitted(other, "other@home.example"))).id)
        await publish(rejected(other, RejectionReason.OTHER))
        await smtp_server.wait_for("other@home.example", timeout=45)
        assert smtp_server.to("gone@home.example") == []
        assert await service.fetch("SELECT 1 FROM deliveries WHERE story_id = $1", story_id) == []


async def test_a_bilingual_organisation_gets_welsh_then_english_in_one_alert(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        listed = await publish(
            OrganisationListed(
                organisation_id=ORG_A.id,
                name=ORG_A.name,
                name_cy="Ysbytai Glan yr Afon",
                email_language=OrganisationLanguage.BILINGUAL,
                type="local_health_board",
                services=[MATERNITY],
                listed_at=datetime.now(UTC),
            )
        )
        await handled(service, listed.id)
        await service.subscribe("ward@riverside.example")
        await publish(approved(title="Gofal da"))
        [mail] = await smtp_server.wait_for("ward@riverside.example", timeout=45)
        assert subject(mail).startswith("Stori newydd am Maternity, Ysbytai Glan yr Afon (")
        assert " / New story about Maternity, Riverside Hospitals NHS Trust (" in subject(mail)
        text = mail.text()
        assert text.index("Mae stori newydd am") < text.index("A new story about")
        assert text.index("Cymraeg") < text.index("English")


async def test_an_authors_address_goes_some_time_after_a_rejection(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    """Kept for an edit and resubmission (90 days by default), then purged with the
    emails sent to them; a story still waiting for moderation keeps it."""
    async with notifications(
        smtp_port=smtp_server.port,
        retention_interval_seconds=0.3,
        author_contact_after_rejection_days=90,
    ) as service:
        refused, waiting = uuid.uuid4(), uuid.uuid4()
        first = await publish(submitted(refused, "refused@home.example"))
        second = await publish(submitted(waiting, "waiting@home.example"))
        await handled(service, first.id, second.id)
        await publish(rejected(refused, RejectionReason.DUPLICATE))
        await smtp_server.wait_for("refused@home.example", timeout=45)

        async def sent() -> bool:
            rows = await service.fetch("SELECT 1 FROM deliveries WHERE status = 'sent'")
            return bool(rows)

        await eventually(sent)
        # As if 91 days had passed.
        await service.fetch(
            "UPDATE author_contacts SET rejected_at = now() - interval '91 days'"
            " WHERE rejected_at IS NOT NULL"
        )
        await service.fetch("UPDATE deliveries SET updated_at = now() - interval '91 days'")

        async def purged() -> bool:
            contacts = await service.fetch("SELECT email FROM author_contacts")
            deliveries = await service.fetch("SELECT 1 FROM deliveries")
            return [r["email"] for r in contacts] == ["waiting@home.example"] and not deliveries

        await eventually(purged)


async def test_a_backlog_of_submissions_is_recorded_in_batches(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    """An import's backlog (published before notifications starts, so it reads batches):
    every version recorded set-based, an address kept only where one was given, and a
    decision that overtook its story still told."""
    stories = [uuid.uuid4() for _ in range(60)]
    early = uuid.uuid4()
    await publish(rejected(early, RejectionReason.NOT_ABOUT_CARE))
    for story_id in stories:
        await publish(submitted(story_id, None))
    await publish(submitted(early, "cynnar@home.example"))
    async with notifications(smtp_port=smtp_server.port) as service:
        await smtp_server.wait_for("cynnar@home.example", timeout=60)

        async def recorded() -> bool:
            rows = await service.fetch("SELECT count(*) AS n FROM submitted_versions")
            return bool(rows[0]["n"] == len(stories) + 1)

        await eventually(recorded)
        contacts = await service.fetch("SELECT story_id FROM author_contacts")
        assert [r["story_id"] for r in contacts] == [early]
        assert await service.fetch("SELECT 1 FROM rejections_before_contact") == []
