"""Notifications' use cases on the in-memory unit of work (tests/unit/notifications/fakes.py).

The consumer records each event in the inbox before a handler runs (redelivery is the
consumer's, tested in tests/integration/common/test_event_consumer.py and end to end in
tests/integration/notifications); these tests are about what each handler writes, in
one transaction, and what it announces.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from candour_common.auth import Principal, Role
from candour_common.cloudevents import Envelope
from candour_common.events import (
    AuthorContact,
    EscalationState,
    OrganisationListed,
    OrganisationRef,
    PublicAuthor,
    Relationship,
    Responder,
    ResponsePosted,
    SafeguardingMatchRef,
    SafeguardingRaised,
    SafeguardingTrigger,
    SafeguardingUpdated,
    ServiceRef,
    StoryApproved,
    StorySubmitted,
    StoryWithdrawn,
    Tags,
)
from candour_common.topics import Topic
from candour_notifications.domain import (
    DeliveryKind,
    DeliveryStatus,
    DigestSchedule,
    Frequency,
    SafeguardingPolicy,
    Subscribe,
    SubscriptionKind,
)
from candour_notifications.entrypoints.consumers import subscriptions
from candour_notifications.service_layer import handlers
from candour_notifications.settings import NotificationsSettings
from tests.unit.notifications.fakes import FakeDatabase

ORG = OrganisationRef(id="RXA", name="Riverside Hospitals NHS Trust")
MATERNITY = ServiceRef(id="RXA-MAT", name="Maternity")
LINKS = handlers.Links("http://search.test", "http://intake.test")
OPERATOR = Principal(subject="operator", role=Role.OPERATOR)
STAFF = Principal(subject="staff", role=Role.STAFF, organisation_id="RXA")
POLICY = SafeguardingPolicy(
    duty_contact="0800 000 000", duty_moderators=("duty@candour.example",), ack_timeout_seconds=900
)


def approved(story_id: uuid.UUID | None = None, *, revision: int = 1) -> StoryApproved:
    return StoryApproved(
        story_id=story_id or uuid.uuid4(),
        published_at=datetime.now(UTC),
        revision=revision,
        title="A story",
        body="Something happened at the hospital.",
        organisation=ORG,
        service=MATERNITY,
        author=PublicAuthor(display_name="A patient", relationship=Relationship.PATIENT),
        tags=Tags(),
        criticality=1,
    )


def submitted(story_id: uuid.UUID, email: str | None, *, notify: bool = True) -> StorySubmitted:
    return StorySubmitted(
        story_id=story_id,
        submitted_at=datetime.now(UTC),
        title="A story",
        body="Something happened at the hospital.",
        organisation=ORG,
        service=MATERNITY,
        author=AuthorContact(
            display_name="Sam",
            relationship=Relationship.PATIENT,
            email=email,
            notify_on_response=notify,
        ),
    )


def response_to(story_id: uuid.UUID, body: str = "Thank you for telling us.") -> ResponsePosted:
    return ResponsePosted(
        story_id=story_id,
        response_id=uuid.uuid4(),
        posted_at=datetime.now(UTC),
        organisation=ORG,
        responder=Responder(display_name="Alex Jones", role="Ward manager"),
        body=body,
    )


def raised(story_id: uuid.UUID) -> SafeguardingRaised:
    return SafeguardingRaised(
        story_id=story_id,
        escalation_id=uuid.uuid4(),
        raised_at=datetime.now(UTC),
        trigger=SafeguardingTrigger.SCREENING,
        raised_by="screening",
        organisation=ORG,
        service=MATERNITY,
        submitted_at=datetime.now(UTC),
        status="pending",
        title="Nobody listened",
        body="I have been saving up my tablets and nobody listened.",
        author=PublicAuthor(display_name="Sam", relationship=Relationship.PATIENT),
        level="serious",
        matches=[
            SafeguardingMatchRef(
                field="body",
                text="saving up my tablets",
                category="suicide",
                category_label="suicide",
                level="serious",
                reason="means: stockpiling medication",
            )
        ],
    )


async def subscribe(
    db: FakeDatabase,
    email: str,
    *,
    kind: SubscriptionKind = SubscriptionKind.STORIES,
    frequency: Frequency = Frequency.IMMEDIATE,
    principal: Principal = OPERATOR,
) -> uuid.UUID:
    command = Subscribe(email=email, organisation_id="RXA", frequency=frequency, kind=kind)
    return (await handlers.subscribe(db.uow(), principal, command)).id


def owed(db: FakeDatabase, kind: DeliveryKind) -> list[str]:
    return sorted(
        d.recipient
        for d in db.state.deliveries
        if d.kind is kind and d.status is DeliveryStatus.PENDING
    )


def settings() -> NotificationsSettings:
    return NotificationsSettings.model_construct(
        public_base_url="http://search.test",
        intake_public_url="http://intake.test",
        safeguarding_duty_moderators="duty@candour.example",
    )


async def test_an_approved_story_owes_each_immediate_subscriber_one_email_and_keeps_daily_ones_for_the_digest() -> (  # noqa: E501
    None
):
    db = FakeDatabase()
    await subscribe(db, "a@riverside.example")
    await subscribe(db, "b@riverside.example")
    await subscribe(db, "daily@riverside.example", frequency=Frequency.DAILY)
    story = approved()

    assert (
        await handlers.alert_story_approved(db.uow(), story, event_id=uuid.uuid4(), links=LINKS)
        == 2
    )
    assert owed(db, DeliveryKind.STORY_ALERT) == ["a@riverside.example", "b@riverside.example"]
    assert [w.item_key for w in db.state.waiting] == [f"story:{story.story_id}"]

    # An edit (a later revision, another event) tells nobody twice; the digest keeps one item.
    edited = approved(story.story_id, revision=2)
    assert (
        await handlers.alert_story_approved(db.uow(), edited, event_id=uuid.uuid4(), links=LINKS)
        == 0
    )
    assert len(db.state.deliveries) == 2
    assert [w.revision for w in db.state.waiting] == [2]


async def test_the_worker_is_woken_only_after_the_transaction_that_owed_the_email_commits() -> None:
    db = FakeDatabase()
    await subscribe(db, "a@riverside.example")
    woken: list[str] = []
    subs = subscriptions(settings(), wake_worker=lambda: woken.append("woken"))
    story = approved()
    uow = db.uow()
    async with uow:  # as the consumer holds it open around a batch
        await subs.get(Topic.STORY_APPROVED).handle(uow, story, _envelope(story))
        assert owed(db, DeliveryKind.STORY_ALERT) == ["a@riverside.example"]
        assert woken == []  # not committed yet: the worker would find nothing
    assert woken == ["woken"]


async def test_a_failed_batch_rolls_back_its_emails_and_wakes_nobody() -> None:
    db = FakeDatabase()
    await subscribe(db, "a@riverside.example")
    woken: list[str] = []
    subs = subscriptions(settings(), wake_worker=lambda: woken.append("woken"))
    story = approved()

    uow = db.uow()
    with pytest.raises(RuntimeError):  # noqa: PT012 - the batch's transaction fails
        async with uow:
            await subs.get(Topic.STORY_APPROVED).handle(uow, story, _envelope(story))
            raise RuntimeError("a later record of the batch failed")
    assert db.state.deliveries == []
    assert woken == []


def _envelope(event: StoryApproved) -> Envelope:
    return Envelope.new(event, service="moderation")


async def test_the_author_hears_of_a_response_once_and_a_correction_changes_the_unsent_email() -> (
    None
):
    db = FakeDatabase()
    story_id = uuid.uuid4()
    await handlers.store_author_contact(
        db.uow(), submitted(story_id, "author@home.example"), links=LINKS
    )
    await handlers.alert_story_approved(
        db.uow(), approved(story_id), event_id=uuid.uuid4(), links=LINKS
    )
    first = response_to(story_id, "First words.")
    assert (
        await handlers.alert_response_posted(db.uow(), first, event_id=uuid.uuid4(), links=LINKS)
        == 1
    )
    corrected = first.model_copy(update={"version": 2, "body": "Corrected words."})
    assert (
        await handlers.alert_response_posted(
            db.uow(), corrected, event_id=uuid.uuid4(), links=LINKS
        )
        == 0
    )
    [email] = [d for d in db.state.deliveries if d.kind is DeliveryKind.AUTHOR_RESPONSE]
    assert email.recipient == "author@home.example"
    assert email.context["body"] == "Corrected words."


async def test_withdrawal_erases_the_contact_cancels_unsent_emails_and_stops_later_alerts() -> None:
    db = FakeDatabase()
    await subscribe(db, "a@riverside.example")
    await subscribe(db, "daily@riverside.example", frequency=Frequency.DAILY)
    story_id = uuid.uuid4()
    await handlers.store_author_contact(
        db.uow(), submitted(story_id, "author@home.example"), links=LINKS
    )
    await handlers.alert_story_approved(
        db.uow(), approved(story_id), event_id=uuid.uuid4(), links=LINKS
    )

    withdrawn = StoryWithdrawn(
        story_id=story_id, organisation_id="RXA", withdrawn_at=datetime.now(UTC)
    )
    # The alert and the author's "published" email, both unsent.
    assert await handlers.forget_withdrawn_story(db.uow(), withdrawn) == 2

    assert db.state.authors == {}
    assert db.state.waiting == []
    alert, published = sorted(db.state.deliveries, key=lambda d: d.kind.value, reverse=True)
    assert alert.kind is DeliveryKind.STORY_ALERT
    assert published.kind is DeliveryKind.AUTHOR_PUBLISHED
    assert published.recipient.startswith("erased:")
    for email in (alert, published):
        assert email.status is DeliveryStatus.CANCELLED
        assert email.context == {}
    # A later revision, or its response, arriving after the withdrawal owes nothing.
    assert (
        await handlers.alert_story_approved(
            db.uow(), approved(story_id, revision=2), event_id=uuid.uuid4(), links=LINKS
        )
        == 0
    )
    assert (
        await handlers.alert_response_posted(
            db.uow(), response_to(story_id), event_id=uuid.uuid4(), links=LINKS
        )
        == 0
    )


async def test_a_safeguarding_alert_goes_to_the_contacts_and_tells_moderation_in_the_same_transaction() -> (  # noqa: E501
    None
):
    db = FakeDatabase()
    await subscribe(db, "lead@riverside.example", kind=SubscriptionKind.SAFEGUARDING)
    event = raised(uuid.uuid4())

    assert (
        await handlers.alert_safeguarding(db.uow(), event, event_id=uuid.uuid4(), policy=POLICY)
        == 1
    )
    assert owed(db, DeliveryKind.SAFEGUARDING_ALERT) == ["lead@riverside.example"]
    [(_, update)] = db.state.outbox
    assert isinstance(update, SafeguardingUpdated)
    assert update.state is EscalationState.ALERTED
    assert update.recipients == ["lead@riverside.example"]

    # The link in the email acknowledges it once; moderation hears of it once.
    [delivery] = db.state.deliveries
    first = await handlers.acknowledge(db.uow(), delivery.id)
    again = await handlers.acknowledge(db.uow(), delivery.id)
    assert first.changed and not again.changed
    states = [e.state for _, e in db.state.outbox if isinstance(e, SafeguardingUpdated)]
    assert states == [EscalationState.ALERTED, EscalationState.ACKNOWLEDGED]


async def test_without_a_safeguarding_contact_the_duty_moderators_are_alerted() -> None:
    db = FakeDatabase()
    event = raised(uuid.uuid4())
    await handlers.alert_safeguarding(db.uow(), event, event_id=uuid.uuid4(), policy=POLICY)
    assert owed(db, DeliveryKind.SAFEGUARDING_ALERT) == ["duty@candour.example"]
    [(_, update)] = db.state.outbox
    assert isinstance(update, SafeguardingUpdated)
    assert update.to_duty_moderators


async def test_staff_subscribing_an_outside_address_wait_for_its_owner_to_confirm() -> None:
    db = FakeDatabase()
    await handlers.set_organisation_mail_domains(db.uow(), "RXA", ["Riverside.example"])
    await handlers.keep_directory_entry(
        db.uow(),
        OrganisationListed(
            organisation_id="RXA",
            name=ORG.name,
            type="nhs_trust",
            services=[MATERNITY],
            listed_at=datetime.now(UTC),
        ),
    )
    inside = await subscribe(db, "me@riverside.example", principal=STAFF)
    outside = await subscribe(db, "me@elsewhere.example", principal=STAFF)

    assert not db.state.subscriptions[inside].pending_confirmation
    assert db.state.subscriptions[outside].pending_confirmation
    assert owed(db, DeliveryKind.SUBSCRIPTION_CONFIRMATION) == ["me@elsewhere.example"]
    assert (await handlers.confirm_subscription(db.uow(), outside)).changed
    assert not (await handlers.confirm_subscription(db.uow(), outside)).changed


async def test_staff_cannot_subscribe_to_services_the_directory_does_not_list() -> None:
    db = FakeDatabase()
    command = Subscribe(
        email="me@riverside.example",
        organisation_id="RXA",
        frequency=Frequency.IMMEDIATE,
        kind=SubscriptionKind.STORIES,
        service_ids=("RXA-NOPE",),
    )
    with pytest.raises(handlers.UnknownChoices):
        await handlers.subscribe(db.uow(), STAFF, command)
    assert db.state.subscriptions == {}


async def test_a_daily_subscriber_gets_one_digest_a_day_with_what_waited() -> None:
    db = FakeDatabase()
    await subscribe(db, "daily@riverside.example", frequency=Frequency.DAILY)
    await handlers.alert_story_approved(db.uow(), approved(), event_id=uuid.uuid4(), links=LINKS)
    await handlers.alert_story_approved(db.uow(), approved(), event_id=uuid.uuid4(), links=LINKS)

    class Morning:
        def now(self) -> datetime:
            return datetime(2025, 7, 1, 8, 0, tzinfo=UTC)

    schedule = DigestSchedule(at=time(7, 0), timezone=ZoneInfo("Europe/London"))
    assert await handlers.prepare_due_digests(db.uow(), Morning(), schedule) == 1
    assert await handlers.prepare_due_digests(db.uow(), Morning(), schedule) == 0
    [digest] = db.state.deliveries
    assert digest.digest_date == date(2025, 7, 1)
    assert len(digest.context["items"]) == 2  # type: ignore[arg-type]
    assert all(w.digest_delivery_id == digest.id for w in db.state.waiting)
