"""The author is always told the outcome, once, in their story's language; staff emails
are in their organisation's language (issue #20). On the in-memory unit of work
(tests/unit/notifications/fakes.py) and the real templates; the emails caught by a real
SMTP server are in tests/integration/notifications/test_author_outcomes.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from candour_common.events import (
    AuthorContact,
    EscalationState,
    OrganisationLanguage,
    OrganisationListed,
    RejectionReason,
    SafeguardingTrigger,
    SafeguardingUpdated,
    StoryLanguage,
    StoryRejected,
    StorySubmitted,
    StoryWithdrawn,
)
from candour_notifications.adapters.templates import render_email
from candour_notifications.domain import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    SubscriptionKind,
)
from candour_notifications.service_layer import handlers
from tests.unit.notifications.fakes import FakeDatabase
from tests.unit.notifications.test_handlers import (
    LINKS,
    MATERNITY,
    ORG,
    POLICY,
    Relationship,
    approved,
    owed,
    raised,
    response_to,
    subscribe,
)

pytestmark = pytest.mark.unit

BODY = "The midwife on the night shift held my hand for three hours."


def submitted(
    story_id: uuid.UUID,
    email: str | None = "author@home.example",
    *,
    version: int = 1,
    language: StoryLanguage = StoryLanguage.ENGLISH,
    notify: bool = False,
    title: str = "Night shift on the labour ward",
) -> StorySubmitted:
    return StorySubmitted(
        story_id=story_id,
        submitted_at=datetime.now(UTC),
        title=title,
        body=BODY,
        organisation=ORG,
        service=MATERNITY,
        author=AuthorContact(
            relationship=Relationship.PATIENT, email=email, notify_on_response=notify
        ),
        language=language,
        version=version,
    )


def rejected(
    story_id: uuid.UUID,
    reason: RejectionReason = RejectionReason.OFFENSIVE,
    *,
    at: datetime | None = None,
    version: int = 1,
) -> StoryRejected:
    return StoryRejected(
        story_id=story_id,
        rejected_at=at or datetime.now(UTC),
        organisation=ORG,
        service=MATERNITY,
        reason=reason,
        version=version,
    )


async def submit(db: FakeDatabase, event: StorySubmitted) -> int:
    return await handlers.store_author_contact(db.uow(), event, links=LINKS)


async def approve(db: FakeDatabase, story_id: uuid.UUID, *, revision: int = 1) -> int:
    return await handlers.alert_story_approved(
        db.uow(), approved(story_id, revision=revision), event_id=uuid.uuid4(), links=LINKS
    )


async def reject(db: FakeDatabase, event: StoryRejected) -> int:
    return await handlers.tell_author_rejected(db.uow(), event, event_id=uuid.uuid4(), links=LINKS)


def to_author(db: FakeDatabase, kind: DeliveryKind) -> list[Delivery]:
    return [d for d in db.state.deliveries if d.kind is kind]


def rendered(delivery: Delivery) -> str:
    email = render_email(delivery.kind, delivery.context, unsubscribe_url="http://u.test/x")
    return "\n".join((email.subject, email.text, email.html))


async def test_a_published_story_owes_its_author_one_email_with_the_link_and_title() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await submit(db, submitted(story_id))
    assert await approve(db, story_id) == 1

    [email] = to_author(db, DeliveryKind.AUTHOR_PUBLISHED)
    assert email.recipient == "author@home.example"
    words = rendered(email)
    assert f"http://search.test/stories/{story_id}" in words
    assert "A story" in words  # the published title
    assert "midwife" not in words and "hospital" not in words  # never the story's text
    # The author did not ask about responses: nothing more will go, so the address goes.
    assert db.state.authors == {}


async def test_a_redelivered_or_repeated_publication_never_emails_twice() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await submit(db, submitted(story_id, notify=True))
    assert await approve(db, story_id) == 1
    # The same publication from another event (a replay, a second decision): no email.
    assert await approve(db, story_id) == 0
    # A re-publication (an edit of the published story): no email either.
    assert await approve(db, story_id, revision=2) == 0
    assert len(to_author(db, DeliveryKind.AUTHOR_PUBLISHED)) == 1
    # They asked about responses: the address stays for those, and they still come.
    await handlers.alert_response_posted(
        db.uow(), response_to(story_id), event_id=uuid.uuid4(), links=LINKS
    )
    assert len(to_author(db, DeliveryKind.AUTHOR_RESPONSE)) == 1


async def test_a_rejected_story_tells_the_reason_what_to_change_and_how_to_resubmit() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await submit(db, submitted(story_id))
    assert await reject(db, rejected(story_id, RejectionReason.NOT_ABOUT_CARE)) == 1

    [email] = to_author(db, DeliveryKind.AUTHOR_REJECTED)
    words = rendered(email)
    assert "Night shift on the labour ward" in words
    assert "does not seem to be about an experience of health or care" in words
    assert "Tell us about the care you" in words
    assert f"http://intake.test/follow?story={story_id}" in words
    assert "Edit and send again" in words
    assert BODY not in words
    assert "private code" in words  # where to use it: never the code itself


async def test_one_rejection_email_per_decision() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await submit(db, submitted(story_id))
    decision = rejected(story_id)
    assert await reject(db, decision) == 1
    # The same decision again (published twice by moderation): no second email.
    assert await reject(db, decision) == 0
    assert len(to_author(db, DeliveryKind.AUTHOR_REJECTED)) == 1


async def test_rejected_edited_resubmitted_and_published_gets_the_published_email() -> None:
    db = FakeDatabase()
    await subscribe(db, "ward@riverside.example")
    story_id = uuid.uuid4()
    await submit(db, submitted(story_id))
    await reject(db, rejected(story_id))
    # The author edits it and sends it again, now in Welsh, from another address.
    await submit(
        db,
        submitted(
            story_id, "new@home.example", version=2, language=StoryLanguage.WELSH, title="Nos"
        ),
    )
    assert await approve(db, story_id) == 2  # the author's email and the trust's alert

    [published] = to_author(db, DeliveryKind.AUTHOR_PUBLISHED)
    assert published.recipient == "new@home.example"
    assert published.context["language"] == "cy"
    assert published.context["story_url"] == f"http://search.test/stories/{story_id}?lang=cy"
    subject = render_email(published.kind, published.context, unsubscribe_url="u").subject
    assert subject == "Mae eich stori wedi'i chyhoeddi: A story"
    assert owed(db, DeliveryKind.STORY_ALERT) == ["ward@riverside.example"]


async def test_a_second_rejection_after_an_edit_is_told_too() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    first = datetime.now(UTC)
    await submit(db, submitted(story_id))
    await reject(db, rejected(story_id, at=first))
    await submit(db, submitted(story_id, version=2))
    assert await reject(db, rejected(story_id, at=first + timedelta(hours=1), version=2)) == 1
    assert len(to_author(db, DeliveryKind.AUTHOR_REJECTED)) == 2


async def test_the_newest_version_wins_and_a_lower_one_arriving_late_is_ignored() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await submit(
        db, submitted(story_id, "v2@home.example", version=2, language=StoryLanguage.WELSH)
    )
    await submit(db, submitted(story_id, "v1@home.example", version=1))
    contact = db.state.authors[story_id]
    assert (contact.email, contact.language, contact.version) == ("v2@home.example", "cy", 2)


async def test_a_newer_version_without_an_address_takes_the_address_out() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await submit(db, submitted(story_id))
    await submit(db, submitted(story_id, None, version=2))
    # And the older version, arriving again, does not bring it back.
    await submit(db, submitted(story_id))
    assert db.state.authors == {}
    assert await approve(db, story_id) == 0
    assert await reject(db, rejected(story_id)) == 0


async def test_a_publication_that_overtook_the_contact_is_told_when_the_contact_comes() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await approve(db, story_id)
    assert await submit(db, submitted(story_id)) == 1
    assert [d.recipient for d in to_author(db, DeliveryKind.AUTHOR_PUBLISHED)] == [
        "author@home.example"
    ]


async def test_a_rejection_that_overtook_the_story_is_told_when_the_story_comes() -> None:
    # story.rejected and story.submitted are different topics: after an outage either
    # may be read first. The decision waits for its story; nothing is lost.
    db = FakeDatabase()
    story_id = uuid.uuid4()
    assert await reject(db, rejected(story_id, RejectionReason.NOT_ABOUT_CARE)) == 0
    assert await submit(db, submitted(story_id, language=StoryLanguage.WELSH)) == 1
    [email] = to_author(db, DeliveryKind.AUTHOR_REJECTED)
    assert email.context["reason"] == "not_about_care"
    assert email.context["language"] == "cy"
    assert email.context["story_title"] == "Night shift on the labour ward"
    # Told once: the kept decision is gone, and the same decision again sends nothing.
    assert await submit(db, submitted(story_id, language=StoryLanguage.WELSH)) == 0
    assert len(to_author(db, DeliveryKind.AUTHOR_REJECTED)) == 1
    assert db.state.early_rejections == {}


async def test_a_rejection_before_a_story_without_an_address_keeps_nothing() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await reject(db, rejected(story_id))
    assert await submit(db, submitted(story_id, email=None)) == 0
    assert to_author(db, DeliveryKind.AUTHOR_REJECTED) == []
    assert db.state.early_rejections == {}


async def test_a_rejection_of_an_older_version_is_not_told() -> None:
    # The author edited the story after the decision: the new version waits again.
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await submit(db, submitted(story_id))
    await submit(db, submitted(story_id, version=2))
    assert await reject(db, rejected(story_id)) == 0  # version 1's decision
    assert to_author(db, DeliveryKind.AUTHOR_REJECTED) == []


async def test_no_email_for_a_withdrawal_and_none_after_it() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await submit(db, submitted(story_id))
    await reject(db, rejected(story_id))
    withdrawal = StoryWithdrawn(
        story_id=story_id, organisation_id=ORG.id, withdrawn_at=datetime.now(UTC)
    )
    assert await handlers.forget_withdrawn_story(db.uow(), withdrawal) == 1  # the unsent one
    [email] = db.state.deliveries
    assert email.status is DeliveryStatus.CANCELLED
    assert email.recipient.startswith("erased:")
    assert email.context == {}
    assert db.state.authors == {} and db.state.versions == {}
    # Events arriving after the withdrawal owe the author nothing.
    assert await submit(db, submitted(story_id, version=2)) == 0
    assert await approve(db, story_id) == 0
    assert await reject(db, rejected(story_id)) == 0
    assert len(db.state.deliveries) == 1


async def test_no_address_no_email() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await submit(db, submitted(story_id, None))
    assert await reject(db, rejected(story_id)) == 0
    assert await approve(db, story_id) == 0


@pytest.mark.parametrize("first", ["rejected", "pending"])
async def test_a_resubmitted_story_alerts_the_trust_once(first: str) -> None:
    """Edit while pending, or after a rejection: one story, one alert per subscriber,
    whatever number of versions and approvals (each a new event) it goes through."""
    db = FakeDatabase()
    await subscribe(db, "ward@riverside.example")
    story_id = uuid.uuid4()
    await submit(db, submitted(story_id))
    if first == "rejected":
        await reject(db, rejected(story_id))
    await submit(db, submitted(story_id, version=2))
    await approve(db, story_id)
    await submit(db, submitted(story_id, version=3))  # a late edit arriving after it
    await approve(db, story_id)
    await approve(db, story_id, revision=2)
    assert owed(db, DeliveryKind.STORY_ALERT) == ["ward@riverside.example"]
    assert len(to_author(db, DeliveryKind.AUTHOR_PUBLISHED)) == 1


async def test_screening_an_edited_story_again_does_not_alert_the_trust_twice() -> None:
    """v1 matched screening and its safeguarding contacts were alerted; the author edits it
    (v2) and screening matches it again, no more seriously: no second email, and
    moderation is told the same people have it (and who acknowledged it)."""
    db = FakeDatabase()
    await subscribe(db, "lead@riverside.example", kind=SubscriptionKind.SAFEGUARDING)
    story_id = uuid.uuid4()
    first = raised(story_id)
    assert (
        await handlers.alert_safeguarding(db.uow(), first, event_id=uuid.uuid4(), policy=POLICY)
        == 1
    )
    [delivery] = db.state.deliveries
    await handlers.acknowledge(db.uow(), delivery.id)

    again = raised(story_id)  # a new escalation: the edit screened again
    assert (
        await handlers.alert_safeguarding(db.uow(), again, event_id=uuid.uuid4(), policy=POLICY)
        == 0
    )
    assert owed(db, DeliveryKind.SAFEGUARDING_ALERT) == ["lead@riverside.example"]
    told = [
        (e.state, e.recipients, e.acknowledged_by)
        for _, e in db.state.outbox
        if isinstance(e, SafeguardingUpdated) and e.escalation_id == again.escalation_id
    ]
    assert told == [
        (EscalationState.ALERTED, ["lead@riverside.example"], None),
        (EscalationState.ACKNOWLEDGED, [], "lead@riverside.example"),
    ]


@pytest.mark.parametrize("change", ["more serious", "a moderator"])
async def test_a_more_serious_edit_or_a_moderator_alerts_again(change: str) -> None:
    db = FakeDatabase()
    await subscribe(db, "lead@riverside.example", kind=SubscriptionKind.SAFEGUARDING)
    story_id = uuid.uuid4()
    first = raised(story_id).model_copy(update={"level": "concern"})
    await handlers.alert_safeguarding(db.uow(), first, event_id=uuid.uuid4(), policy=POLICY)
    second = raised(story_id).model_copy(
        update={"level": "serious"}
        if change == "more serious"
        else {"level": "concern", "trigger": SafeguardingTrigger.MODERATOR, "raised_by": "mod"}
    )
    assert (
        await handlers.alert_safeguarding(db.uow(), second, event_id=uuid.uuid4(), policy=POLICY)
        == 1
    )


async def test_the_response_email_is_in_the_story_language() -> None:
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await submit(db, submitted(story_id, notify=True, language=StoryLanguage.WELSH))
    await approve(db, story_id)
    await handlers.alert_response_posted(
        db.uow(), response_to(story_id), event_id=uuid.uuid4(), links=LINKS
    )
    [email] = to_author(db, DeliveryKind.AUTHOR_RESPONSE)
    message = render_email(email.kind, email.context, unsubscribe_url="http://u.test/x")
    assert message.subject == f"Mae {ORG.name} wedi ymateb i'ch stori"
    assert "Alex Jones (Ward manager) o Riverside Hospitals NHS Trust wedi ymateb" in message.text
    assert '<html lang="cy">' in message.html


@pytest.mark.parametrize(
    ("setting", "starts", "has_english", "has_welsh"),
    [
        (OrganisationLanguage.ENGLISH, "New story about", True, False),
        (OrganisationLanguage.WELSH, "Stori newydd am", False, True),
        (OrganisationLanguage.BILINGUAL, "Stori newydd am", True, True),
    ],
)
async def test_staff_alerts_follow_the_organisation_language(
    setting: OrganisationLanguage, starts: str, has_english: bool, has_welsh: bool
) -> None:
    db = FakeDatabase()
    await handlers.keep_directory_entry(
        db.uow(),
        OrganisationListed(
            organisation_id=ORG.id,
            name=ORG.name,
            name_cy="Ysbytai Glan yr Afon",
            email_language=setting,
            type="nhs_trust",
            services=[MATERNITY],
            listed_at=datetime.now(UTC),
        ),
    )
    await subscribe(db, "ward@riverside.example")
    await approve(db, uuid.uuid4())
    [alert] = to_author(db, DeliveryKind.STORY_ALERT)
    email = render_email(alert.kind, alert.context, unsubscribe_url="http://u.test/x")
    assert email.subject.startswith(starts)
    assert ("A new story about" in email.text) is has_english
    assert ("Mae stori newydd am" in email.text) is has_welsh
    assert ("Read the story" in email.html) is has_english
    assert ("Darllenwch y stori" in email.html) is has_welsh
    # The Welsh words name the organisation by its Welsh name; the English by its own.
    assert ("am Maternity, Ysbytai Glan yr Afon" in email.subject) is has_welsh
    assert ("about Maternity, Riverside Hospitals NHS Trust" in email.subject) is has_english
    if setting is OrganisationLanguage.BILINGUAL:
        # Welsh first (Welsh Language Standards), in one email, each part marked.
        assert email.text.index("Mae stori newydd am") < email.text.index("A new story about")
        assert email.html.index('<div lang="cy">') < email.html.index('<div lang="en">')
        assert email.subject == (
            "Stori newydd am Maternity, Ysbytai Glan yr Afon (ychydig iawn yn feirniadol)"
            " / New story about Maternity, Riverside Hospitals NHS Trust (minimally critical)"
        )


async def test_a_contact_kept_before_titles_were_still_gets_a_kind_rejection() -> None:
    """Addresses stored before this change have no title (the migration's default)."""
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await submit(db, submitted(story_id, title="x"))
    contact = db.state.authors[story_id]
    db.state.authors[story_id] = type(contact)(contact.story_id, contact.email, False)
    await reject(db, rejected(story_id, RejectionReason.COMMERCIAL))
    [email] = to_author(db, DeliveryKind.AUTHOR_REJECTED)
    message = render_email(email.kind, email.context, unsubscribe_url="http://u.test/x")
    assert message.subject == "We could not publish your story"
    assert message.text.startswith("Thank you for sharing your story. We are sorry")


async def _history(db: FakeDatabase, ids: dict[str, uuid.UUID]) -> None:
    """What came before the batch: a contact to take out, a withdrawal, a decision that
    overtook its story, a newer version already seen."""
    await submit(db, submitted(ids["address_removed"], "before@home.example"))
    await submit(db, submitted(ids["withdrawn"], None))
    await handlers.forget_withdrawn_story(
        db.uow(),
        StoryWithdrawn(
            story_id=ids["withdrawn"], withdrawn_at=datetime.now(UTC), organisation_id=ORG.id
        ),
    )
    await reject(db, rejected(ids["decided_early"]))
    await submit(db, submitted(ids["late"], "v2@home.example", version=2))


def _batch(ids: dict[str, uuid.UUID]) -> list[StorySubmitted]:
    return [
        submitted(ids["plain"], None),
        submitted(ids["with_address"], "author@home.example", language=StoryLanguage.WELSH),
        submitted(ids["address_removed"], None, version=2),
        submitted(ids["withdrawn"], None),
        submitted(ids["twice"], "first@home.example"),
        submitted(ids["twice"], None, version=2),
        submitted(ids["decided_early"], None),
        submitted(ids["late"], None),  # version 1 after version 2: ignored
    ]


async def test_a_batch_of_submissions_ends_where_one_by_one_ends() -> None:
    names = ("plain", "with_address", "address_removed", "withdrawn", "twice")
    ids = {n: uuid.uuid4() for n in (*names, "decided_early", "late")}
    one_by_one, together = FakeDatabase(), FakeDatabase()
    for db in (one_by_one, together):
        await _history(db, ids)
    for event in _batch(ids):
        await submit(one_by_one, event)
    owed = await handlers.store_author_contacts(together.uow(), _batch(ids), links=LINKS)

    assert owed == 0
    for field_name in ("authors", "versions", "early_rejections", "deliveries", "tags"):
        assert getattr(together.state, field_name) == getattr(one_by_one.state, field_name)
    assert set(together.state.authors) == {ids["with_address"], ids["late"]}
    assert together.state.versions[ids["late"]] == 2
    assert ids["withdrawn"] not in together.state.versions
    assert together.state.early_rejections == {}
