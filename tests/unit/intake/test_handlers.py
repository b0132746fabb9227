"""story-intake's use cases on an in-memory unit of work (tests/unit/intake/fakes.py):
what each writes and announces, and that a refused command writes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from candour_common.cloudevents import Envelope
from candour_common.consumer import Delivered
from candour_common.events import (
    AuthorContact,
    OrganisationListed,
    OrganisationRef,
    PublicAuthor,
    RejectionReason,
    Relationship,
    Responder,
    ResponsePosted,
    Source,
    StoryApproved,
    StoryRejected,
    StorySubmitted,
    StoryWithdrawn,
    Tags,
)
from candour_common.keys import response_key, story_key
from candour_common.topics import Topic
from candour_intake.adapters.feedback_csv import FeedbackEntry
from candour_intake.domain import (
    AboutYou,
    AlreadyImported,
    AnswerWithdrawn,
    DeleteResponse,
    EditResponse,
    EditWindowClosed,
    KeyReusedWithDifferentRequest,
    NotTheAuthor,
    NotYourResponse,
    Organisation,
    PostResponse,
    ResponseDeleted,
    Service,
    StoredAnswer,
    StoryStatus,
    SubmitStory,
    UnknownOrganisation,
    UnknownService,
)
from candour_intake.entrypoints import consumers
from candour_intake.entrypoints.schemas import StoryIn
from candour_intake.entrypoints.submission import submit_command
from candour_intake.service_layer import handlers
from candour_intake.service_layer.idempotency import KeyedRequest, answer_once
from candour_intake.service_layer.voices import publish_voices
from candour_intake.settings import IntakeSettings
from tests.unit.intake.fakes import FakeDatabase

TRUST = Organisation(
    id="TAD",
    name="Bradford District Care",
    type="nhs_trust",
    services=(Service(id="TAD-CMHT", name="Community mental health team", programme="mh"),),
)
WINDOW = timedelta(minutes=30)


def command(**changes: object) -> SubmitStory:
    fields: dict[str, object] = {
        "title": "Kind nurses",
        "body": "They listened.",
        "organisation_id": TRUST.id,
        "service_id": "TAD-CMHT",
        "author": AuthorContact(
            display_name="A patient", relationship=Relationship.PATIENT, email="a@example.org"
        ),
        "tags": Tags(),
        "experienced_at": None,
    }
    fields.update(changes)
    return SubmitStory(**fields)  # type: ignore[arg-type]


async def database() -> FakeDatabase:
    db = FakeDatabase()
    async with db.uow() as uow:
        await uow.directory.upsert(TRUST)
    return db


def events(db: FakeDatabase, kind: type) -> list:  # type: ignore[type-arg]
    return [e for _, e in db.state.outbox if isinstance(e, kind)]


async def published_story(db: FakeDatabase) -> tuple[uuid.UUID, str]:
    story, token = await handlers.submit_story(db.uow(), command())
    approved = StoryApproved(
        story_id=story.id,
        published_at=datetime.now(UTC),
        title=story.title,
        body=story.body,
        organisation=story.organisation,
        author=PublicAuthor(display_name="A patient", relationship=Relationship.PATIENT),
    )
    await handlers.record_approved(db.uow(), [approved])
    return story.id, token


# ------------------------------------------------------------------ submitting


async def test_a_story_is_stored_and_announced_in_one_unit_of_work() -> None:
    db = await database()
    about_you = AboutYou(age_band="25_34")
    story, token = await handlers.submit_story(
        db.uow(), command(about_you=about_you), safeguarding_level="concern"
    )
    assert db.state.stories[story.id].story.safeguarding_level == "concern"
    [submitted] = events(db, StorySubmitted)
    assert submitted.story_id == story.id
    assert submitted.service is not None and submitted.service.programme == "mh"
    # The answers are kept apart, never in the event.
    assert db.state.about_you == {story.id: about_you}
    assert "age_band" not in submitted.model_dump_json()
    state = await handlers.authored_story(db.uow(), story.id, token)
    assert state.status is StoryStatus.SUBMITTED


@pytest.mark.parametrize(
    ("changes", "error"),
    [({"organisation_id": "NOPE"}, UnknownOrganisation), ({"service_id": "NOPE"}, UnknownService)],
)
async def test_an_unknown_place_writes_nothing(changes: dict[str, str], error: type) -> None:
    db = await database()
    with pytest.raises(error):
        await handlers.submit_story(db.uow(), command(**changes))
    assert db.state.stories == {} and db.state.outbox == []


async def test_an_imported_entry_is_refused_the_second_time() -> None:
    db = await database()
    imported = command(source=Source.HEALTHWATCH, external_id="HW-1")
    first, _ = await handlers.submit_story(db.uow(), imported)
    with pytest.raises(AlreadyImported) as refused:
        await handlers.submit_story(db.uow(), imported)
    assert refused.value.story_id == first.id
    assert len(events(db, StorySubmitted)) == 1


def test_the_api_and_the_share_page_build_the_same_command() -> None:
    """One builder (entrypoints/submission.py) for both: every field a person sends."""
    story = StoryIn.model_validate(
        {
            "title": "Kind nurses",
            "body": "They listened.",
            "organisation_id": "TAD",
            "service_id": "TAD-CMHT",
            "author": {"display_name": "A patient", "relationship": "patient"},
            "tags": {"good": ["kindness"]},
            "experienced_at": "2026-01",
            "about_you": {"sex": "female"},
        }
    )
    built = submit_command(story)
    assert (built.title, built.organisation_id, built.service_id) == (
        "Kind nurses",
        "TAD",
        "TAD-CMHT",
    )
    assert built.tags.good == ["kindness"] and built.experienced_at == "2026-01"
    assert built.about_you == AboutYou(sex="female")
    assert (built.source, built.external_id, built.assisted_by) == (Source.WEB, None, None)


# ------------------------------------------------------------------ Idempotency-Keys


def keyed(fingerprint: bytes = b"same") -> KeyedRequest:
    return KeyedRequest(
        key="k", scope="POST /v1/stories", fingerprint=fingerprint, ttl=timedelta(hours=24)
    )


async def submit_once(db: FakeDatabase, request: KeyedRequest) -> tuple[StoredAnswer, bool]:
    uow = db.uow()

    async def work() -> tuple[StoredAnswer, uuid.UUID]:
        story, token = await handlers.submit_story(uow, command())
        return StoredAnswer(201, {"story_id": str(story.id), "token": token}), story.id

    return await answer_once(uow, request, work)


async def test_a_repeated_key_replays_the_first_answer_and_submits_once() -> None:
    db = await database()
    first, replayed = await submit_once(db, keyed())
    again, replayed_again = await submit_once(db, keyed())
    assert (replayed, replayed_again) == (False, True)
    assert again == first
    assert len(db.state.stories) == 1
    with pytest.raises(KeyReusedWithDifferentRequest):
        await submit_once(db, keyed(b"another body"))


async def test_a_refused_submission_leaves_its_key_unclaimed() -> None:
    db = await database()
    uow = db.uow()

    async def work() -> tuple[StoredAnswer, uuid.UUID]:
        await handlers.submit_story(uow, command(organisation_id="NOPE"))
        raise AssertionError("unreachable")

    with pytest.raises(UnknownOrganisation):
        await answer_once(uow, keyed(), work)
    assert db.state.keys == {}
    _, replayed = await submit_once(db, keyed())
    assert not replayed


# ------------------------------------------------------------------ withdrawing


async def test_withdrawal_erases_every_copy_and_tombstones_what_was_published() -> None:
    db = await database()
    story_id, token = await published_story(db)
    await handlers.submit_story(db.uow(), command(about_you=AboutYou(sex="male")))
    db.state.about_you[story_id] = AboutYou(sex="female")
    await submit_once(db, keyed())  # an answer about another story stays
    db.state.keys[("POST /v1/stories", "k")].story_id = story_id  # ...now about this one
    response_id = await handlers.post_response(
        db.uow(),
        PostResponse(
            story_id,
            TRUST.id,
            "staff-1",
            Responder(display_name="Sam", role="Ward manager"),
            "Thanks",
            None,
        ),
    )
    with pytest.raises(NotTheAuthor):
        await handlers.withdraw_story(db.uow(), story_id, "not the token")
    assert await handlers.withdraw_story(db.uow(), story_id, token) is True

    assert db.state.stories[story_id].status is StoryStatus.WITHDRAWN
    assert db.state.stories[story_id].story.body == ""
    assert story_id not in db.state.about_you
    assert all(e.story() != story_id for e in events(db, StorySubmitted))
    assert all(e.story() != story_id for e in events(db, ResponsePosted))
    [withdrawn] = events(db, StoryWithdrawn)
    assert withdrawn.story_id == story_id
    assert {(t, k) for t, k, _ in db.state.tombstones} == {
        (Topic.STORY_SUBMITTED, story_key(story_id)),
        (Topic.RESPONSE_POSTED, response_key(story_id, response_id)),
        (Topic.RESPONSE_POSTED, story_key(story_id)),
    }
    with pytest.raises(AnswerWithdrawn):
        await submit_once(db, keyed())
    # Twice is harmless: nothing more is announced.
    before = (list(db.state.outbox), list(db.state.tombstones))
    assert await handlers.withdraw_story(db.uow(), story_id, token) is False
    assert (db.state.outbox, db.state.tombstones) == before


# ------------------------------------------------------------------ responses


async def posted(db: FakeDatabase, story_id: uuid.UUID) -> uuid.UUID:
    return await handlers.post_response(
        db.uow(),
        PostResponse(
            story_id,
            TRUST.id,
            "staff-1",
            Responder(display_name="Sam", role="Ward manager"),
            "Thanks",
            None,
        ),
    )


def edit(story_id: uuid.UUID, response_id: uuid.UUID, subject: str = "staff-1") -> EditResponse:
    return EditResponse(
        story_id,
        response_id,
        TRUST.id,
        subject,
        Responder(display_name="Sam", role="Ward manager"),
        "Thank you",
        None,
    )


async def test_a_correction_is_the_next_version_of_the_same_response() -> None:
    db = await database()
    story_id, _ = await published_story(db)
    response_id = await posted(db, story_id)
    edited = await handlers.change_response(db.uow(), edit(story_id, response_id), window=WINDOW)
    assert (edited.version, edited.body, edited.deleted_at) == (2, "Thank you", None)
    latest = events(db, ResponsePosted)[-1]
    assert (latest.response_id, latest.version, latest.body, latest.deleted) == (
        response_id,
        2,
        "Thank you",
        False,
    )
    assert db.state.tombstones == []


async def test_a_deletion_keeps_no_text_and_is_followed_by_a_tombstone() -> None:
    db = await database()
    story_id, _ = await published_story(db)
    response_id = await posted(db, story_id)
    delete = DeleteResponse(story_id, response_id, TRUST.id, "staff-1")
    deleted = await handlers.change_response(db.uow(), delete, window=WINDOW)
    assert (deleted.version, deleted.body) == (2, "")
    assert deleted.deleted_at is not None
    latest = events(db, ResponsePosted)[-1]
    assert (latest.body, latest.deleted) == ("", True)
    assert db.state.tombstones == [
        (Topic.RESPONSE_POSTED, response_key(story_id, response_id), story_id)
    ]
    assert db.state.stories[story_id].response_count == 0
    with pytest.raises(ResponseDeleted):
        await handlers.change_response(db.uow(), edit(story_id, response_id), window=WINDOW)


@pytest.mark.parametrize("delete", [False, True])
async def test_only_the_responder_within_the_window_may_change_a_response(delete: bool) -> None:
    db = await database()
    story_id, _ = await published_story(db)
    response_id = await posted(db, story_id)
    before = list(db.state.outbox)
    someone_else = (
        DeleteResponse(story_id, response_id, TRUST.id, "staff-2")
        if delete
        else edit(story_id, response_id, subject="staff-2")
    )
    with pytest.raises(NotYourResponse):
        await handlers.change_response(db.uow(), someone_else, window=WINDOW)
    own = (
        DeleteResponse(story_id, response_id, TRUST.id, "staff-1")
        if delete
        else edit(story_id, response_id)
    )
    later = datetime.now(UTC) + WINDOW + timedelta(seconds=1)
    with pytest.raises(EditWindowClosed):
        await handlers.change_response(db.uow(), own, window=WINDOW, now=later)
    assert db.state.outbox == before and db.state.tombstones == []


# ------------------------------------------------------------------ events it follows


def envelope_for(event: StoryApproved | StoryRejected) -> Envelope:
    return Envelope.new(event, service="moderation")


async def test_moderations_decisions_reach_the_status_page_through_the_subscriptions() -> None:
    db = await database()
    subs = consumers.subscriptions(IntakeSettings.model_construct())
    assert set(subs.topics) == {Topic.STORY_APPROVED, Topic.STORY_REJECTED}
    kept, _ = await handlers.submit_story(db.uow(), command())
    refused, refused_token = await handlers.submit_story(db.uow(), command())
    approved = StoryApproved(
        story_id=kept.id,
        published_at=datetime.now(UTC),
        revision=2,
        title="Kind nurses",
        body="They listened.",
        organisation=OrganisationRef(id=TRUST.id, name=TRUST.name),
        author=PublicAuthor(display_name="A patient", relationship=Relationship.PATIENT),
    )
    rejected = StoryRejected(
        story_id=refused.id,
        rejected_at=datetime.now(UTC),
        organisation=OrganisationRef(id=TRUST.id, name=TRUST.name),
        reason=RejectionReason.NOT_ABOUT_CARE,
    )
    for event in (approved, rejected):
        async with db.uow() as uow:  # the consumer opens it (and records the inbox)
            await subs.get(event.topic).handle(uow, event, envelope_for(event))
    # A backlog of approvals goes to the batch handler together, newest revision winning.
    handle_batch = subs.get(Topic.STORY_APPROVED).handle_batch
    assert handle_batch is not None
    newer = approved.model_copy(update={"revision": 3, "title": "Kinder nurses"})
    async with db.uow() as uow:
        await handle_batch(uow, [Delivered(e, envelope_for(e)) for e in (newer, approved)])
    assert db.state.stories[kept.id].status is StoryStatus.PUBLISHED
    state = await handlers.authored_story(db.uow(), refused.id, refused_token)
    assert (state.status, state.rejection_reason) == (
        StoryStatus.REJECTED,
        RejectionReason.NOT_ABOUT_CARE,
    )
    # An older revision never overwrites a newer one.
    older = approved.model_copy(update={"revision": 1, "title": "Old"})
    await handlers.record_approved(db.uow(), [older])
    published = db.state.stories[kept.id].published
    assert published is not None and published.title == "Kinder nurses"


# ------------------------------------------------------------------ bulk paths


def entries(*external_ids: str) -> list[FeedbackEntry]:
    return [
        FeedbackEntry(
            line,
            command(
                source=Source.HEALTHWATCH,
                external_id=external_id,
                about_you=AboutYou(age_band="25_34") if line % 2 else None,
            ),
        )
        for line, external_id in enumerate(external_ids, start=2)
    ]


async def test_an_import_writes_each_chunk_set_based_and_never_twice() -> None:
    db = await database()
    done: list[int] = []
    summary = await handlers.import_feedback(
        db.uow, entries("HW-1", "HW-2", "HW-3", "HW-4", "HW-5"), progress=done.append, chunk=2
    )
    assert (summary.imported, summary.already_present) == (5, 0)
    assert done == [2, 4, 5]
    # One outbox write per chunk, not one per story.
    assert db.state.bulk_writes == [2, 2, 1]
    submitted = events(db, StorySubmitted)
    assert [e.external_id for e in submitted] == ["HW-1", "HW-2", "HW-3", "HW-4", "HW-5"]
    assert len(db.state.about_you) == 2  # lines 3 and 5 answered
    again = await handlers.import_feedback(db.uow, entries("HW-1", "HW-6", "HW-5"), chunk=2)
    assert (again.imported, again.already_present) == (1, 2)
    assert len(events(db, StorySubmitted)) == 6


async def test_an_import_stopped_by_an_error_keeps_the_chunks_before_it() -> None:
    db = await database()
    bad = entries("HW-1", "HW-2", "HW-3")
    bad[2] = FeedbackEntry(
        4, command(source=Source.HEALTHWATCH, external_id="HW-3", service_id="X")
    )
    with pytest.raises(UnknownService):
        await handlers.import_feedback(db.uow, bad, chunk=2)
    assert sorted(e.external_id or "" for e in events(db, StorySubmitted)) == ["HW-1", "HW-2"]
    assert len(db.state.stories) == 2


async def test_the_directory_is_published_in_one_outbox_write() -> None:
    db = await database()
    other = Organisation(id="RXA", name="Cheshire and Wirral", type="nhs_trust", services=())
    assert await handlers.import_directory(db.uow(), [other]) == 1
    listed = events(db, OrganisationListed)
    assert {e.organisation_id for e in listed} == {"TAD", "RXA"}
    assert db.state.bulk_writes == [2]


async def test_voices_are_published_on_schedule_only_when_due() -> None:
    db = await database()
    now = datetime.now(UTC)
    assert await publish_voices(db.uow(), now=now) == ["mh"]
    assert await publish_voices(db.uow(), now=now, unless_within=timedelta(hours=24)) == []
    later = now + timedelta(hours=25)
    assert await publish_voices(db.uow(), now=later, unless_within=timedelta(hours=24)) == ["mh"]
