"""Use cases of story-intake.

Each handler receives its dependencies as arguments and runs inside the
caller's transaction (`conn`), so a state change and the event announcing it
commit together or not at all.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from candour_common.db import Connection
from candour_common.db.inbox import record_once
from candour_common.db.outbox import add_event, add_tombstone, erase_story_events
from candour_common.events import (
    OrganisationListed,
    OrganisationRef,
    ResponsePosted,
    ServiceRef,
    StoryApproved,
    StoryRejected,
    StorySubmitted,
    StoryWithdrawn,
)
from candour_common.keys import response_key, story_key
from candour_common.topics import Topic
from candour_intake.adapters import about_you_repository, idempotency, repository
from candour_intake.adapters.directory_csv import RowError
from candour_intake.adapters.feedback_csv import FeedbackEntry
from candour_intake.domain import (
    AlreadyImported,
    DeleteResponse,
    EditResponse,
    EditWindowClosed,
    InboxPage,
    InboxQuery,
    NotYourResponse,
    Organisation,
    PostResponse,
    PublishedStory,
    ResponseDeleted,
    ResponseNotFound,
    StaffResponse,
    Story,
    StoryNotFound,
    StoryNotOpenForResponses,
    StoryState,
    StoryStatus,
    SubmitStory,
    UnknownOrganisation,
    UnknownService,
    WrongOrganisation,
    new_author_token,
)

Pool = asyncpg.Pool

SERVICE = "story-intake"
CONSUMER = "story-intake"


async def submit_story(
    conn: Connection, command: SubmitStory, *, safeguarding_level: str | None = None
) -> tuple[Story, str]:
    """Store the story and its `story.submitted` event.

    `safeguarding_level` is what screening found in it (screened before the
    transaction: see adapters/screening.py), kept so the author's pages can offer help.
    Returns the story and the author's private token (shown once, kept only as a hash).
    """
    if command.external_id is not None:
        existing = await repository.find_by_external_id(
            conn, command.source.value, command.external_id
        )
        if existing is not None:
            raise AlreadyImported(command.source, command.external_id, existing)
    organisation = await repository.get_organisation(conn, command.organisation_id)
    if organisation is None:
        raise UnknownOrganisation(command.organisation_id)
    service_ref = None
    if command.service_id is not None:
        service = organisation.service(command.service_id)
        if service is None:
            raise UnknownService(organisation.id, command.service_id)
        service_ref = ServiceRef(id=service.id, name=service.name, programme=service.programme)
    token, token_hash = new_author_token()
    story = Story(
        id=uuid.uuid4(),
        title=command.title,
        body=command.body,
        organisation=OrganisationRef(id=organisation.id, name=organisation.name),
        service=service_ref,
        author=command.author,
        tags=command.tags,
        experienced_at=command.experienced_at,
        submitted_at=datetime.now(UTC),
        author_token_hash=token_hash,
        source=command.source,
        external_id=command.external_id,
        assisted_by=command.assisted_by,
        represents=command.represents,
        safeguarding_level=safeguarding_level,
    )
    await repository.add_story(conn, story)
    if command.about_you is not None and not command.about_you.empty:
        # Its own table: never in the story's row, its event or any other event.
        await about_you_repository.add(conn, story.id, command.about_you)
    await add_event(
        conn,
        StorySubmitted(
            story_id=story.id,
            submitted_at=story.submitted_at,
            title=story.title,
            body=story.body,
            organisation=story.organisation,
            service=story.service,
            author=story.author,
            tags=story.tags,
            experienced_at=story.experienced_at,
            source=story.source,
            external_id=story.external_id,
            assisted_by=story.assisted_by,
            represents=story.represents,
        ),
        service=SERVICE,
    )
    return story, token


async def story_state(conn: Connection, story_id: uuid.UUID) -> StoryState:
    state = await repository.get_story_state(conn, story_id)
    if state is None:
        raise StoryNotFound(story_id)
    return state


async def withdraw_story(conn: Connection, state: StoryState) -> bool:
    """Withdraw an (authorised) story; False if it was already withdrawn (nothing emitted).

    Everything intake holds of the story's words, its author's contact, their "about
    you" answers and its provenance goes in the same transaction: the story row is
    blanked, its answers, its outbox rows (story.submitted carries the author's name and
    email) and its idempotency answers are deleted. Then `story.withdrawn` tells every
    service, and tombstones erase what intake published: story.submitted (compacted per
    story) and every response on response.posted (compacted per response). Moderation
    tombstones story.approved, which it publishes. All through the outbox, after anything
    published before.
    """
    locked = await repository.get_story_state(conn, state.id, for_update=True)
    if locked is None:
        raise StoryNotFound(state.id)
    if locked.status is StoryStatus.WITHDRAWN:
        return False
    now = datetime.now(UTC)
    responses = await repository.response_ids(conn, state.id)
    await repository.mark_withdrawn(conn, state.id, now)
    await about_you_repository.erase(conn, state.id)
    await erase_story_events(conn, state.id)
    await idempotency.forget_story(conn, state.id)
    await add_event(
        conn,
        StoryWithdrawn(story_id=state.id, withdrawn_at=now, organisation_id=state.organisation_id),
        service=SERVICE,
    )
    await add_tombstone(
        conn, Topic.STORY_SUBMITTED, story_key(state.id), story_id=state.id, service=SERVICE
    )
    for response_id in responses:
        await add_tombstone(
            conn,
            Topic.RESPONSE_POSTED,
            response_key(state.id, response_id),
            story_id=state.id,
            service=SERVICE,
        )
    if responses:
        # Responses published before keys named them were keyed by the story id alone.
        await add_tombstone(
            conn, Topic.RESPONSE_POSTED, story_key(state.id), story_id=state.id, service=SERVICE
        )
    return True


async def post_response(conn: Connection, command: PostResponse) -> uuid.UUID:
    state = await repository.get_story_state(conn, command.story_id, for_update=True)
    if state is None:
        raise StoryNotFound(command.story_id)
    if state.organisation_id != command.organisation_id:
        raise WrongOrganisation()
    if state.status is not StoryStatus.PUBLISHED:
        raise StoryNotOpenForResponses(state.status)
    response_id = uuid.uuid4()
    posted_at = datetime.now(UTC)
    await repository.add_response(conn, response_id, command, posted_at)
    name = await repository.organisation_name(conn, state.organisation_id)
    await add_event(
        conn,
        ResponsePosted(
            story_id=command.story_id,
            response_id=response_id,
            posted_at=posted_at,
            organisation=OrganisationRef(id=state.organisation_id, name=name),
            responder=command.responder,
            body=command.body,
            change=command.change,
        ),
        service=SERVICE,
    )
    return response_id


async def _own_open_response(
    conn: Connection,
    story_id: uuid.UUID,
    response_id: uuid.UUID,
    organisation_id: str,
    subject: str,
    window: timedelta,
    now: datetime,
) -> tuple[StoryState, StaffResponse]:
    """The response, locked, if `subject` may still change it; else the rule it breaks."""
    state = await repository.get_story_state(conn, story_id, for_update=True)
    if state is None:
        raise StoryNotFound(story_id)
    if state.organisation_id != organisation_id:
        raise WrongOrganisation()
    response = await repository.get_response(conn, story_id, response_id, for_update=True)
    if response is None:
        raise ResponseNotFound(response_id)
    if response.responder_subject != subject:
        raise NotYourResponse()
    if response.deleted_at is not None:
        raise ResponseDeleted()
    if now >= response.editable_until(window):
        raise EditWindowClosed(response.editable_until(window))
    if state.status is not StoryStatus.PUBLISHED:
        raise StoryNotOpenForResponses(state.status)
    return state, response


async def _announce_version(
    conn: Connection, state: StoryState, response: StaffResponse, *, deleted: bool
) -> None:
    name = await repository.organisation_name(conn, state.organisation_id)
    await add_event(
        conn,
        ResponsePosted(
            story_id=response.story_id,
            response_id=response.id,
            posted_at=response.posted_at,
            organisation=OrganisationRef(id=state.organisation_id, name=name),
            responder=response.responder,
            body="" if deleted else response.body,
            change=None if deleted else response.change,
            version=response.version,
            edited_at=response.edited_at,
            deleted=deleted,
        ),
        service=SERVICE,
    )


async def edit_response(
    conn: Connection, command: EditResponse, *, window: timedelta, now: datetime | None = None
) -> StaffResponse:
    """Correct a response: `response.posted` again, same id, next version."""
    now = now or datetime.now(UTC)
    state, current = await _own_open_response(
        conn,
        command.story_id,
        command.response_id,
        command.organisation_id,
        command.responder_subject,
        window,
        now,
    )
    edited = dataclasses.replace(
        current,
        responder=command.responder,
        body=command.body,
        change=command.change,
        version=current.version + 1,
        edited_at=now,
    )
    await repository.save_response_version(conn, edited, deleted=False)
    await _announce_version(conn, state, edited, deleted=False)
    return edited


async def delete_response(
    conn: Connection, command: DeleteResponse, *, window: timedelta, now: datetime | None = None
) -> StaffResponse:
    """Take a response down: a last version marked deleted (no text), then a tombstone so
    compaction erases every version of it from response.posted."""
    now = now or datetime.now(UTC)
    state, current = await _own_open_response(
        conn,
        command.story_id,
        command.response_id,
        command.organisation_id,
        command.responder_subject,
        window,
        now,
    )
    deleted = dataclasses.replace(
        current, body="", change=None, version=current.version + 1, edited_at=now, deleted_at=now
    )
    await repository.save_response_version(conn, deleted, deleted=True)
    await _announce_version(conn, state, deleted, deleted=True)
    await add_tombstone(
        conn,
        Topic.RESPONSE_POSTED,
        response_key(current.story_id, current.id),
        story_id=current.story_id,
        service=SERVICE,
    )
    return deleted


async def inbox(conn: Connection, query: InboxQuery) -> InboxPage:
    return await repository.inbox(conn, query)


@dataclass(frozen=True, slots=True)
class StoryToAnswer:
    story: PublishedStory
    responses: tuple[StaffResponse, ...]


async def story_to_answer(
    conn: Connection, story_id: uuid.UUID, organisation_id: str
) -> StoryToAnswer:
    """The published story and its responses, for staff of its own organisation."""
    state = await repository.get_story_state(conn, story_id)
    if state is None:
        raise StoryNotFound(story_id)
    if state.organisation_id != organisation_id:
        raise WrongOrganisation()
    story = await repository.get_published_story(conn, story_id)
    if story is None:
        raise StoryNotOpenForResponses(state.status)
    return StoryToAnswer(story, tuple(await repository.story_responses(conn, story_id)))


async def record_approved(conn: Connection, event: StoryApproved, event_id: uuid.UUID) -> None:
    if await record_once(conn, consumer=CONSUMER, event_id=event_id, topic=event.topic.value):
        await repository.record_publication(conn, event)


async def record_rejected(conn: Connection, event: StoryRejected, event_id: uuid.UUID) -> None:
    if await record_once(conn, consumer=CONSUMER, event_id=event_id, topic=event.topic.value):
        await repository.mark_rejected(conn, event.story_id, event.rejected_at, event.reason)


async def import_directory(conn: Connection, organisations: list[Organisation]) -> int:
    """Add or update `organisations`, then publish the whole directory (see below)."""
    for organisation in organisations:
        await repository.upsert_organisation(conn, organisation)
    await publish_directory(conn)
    return len(organisations)


async def publish_directory(conn: Connection) -> int:
    """Publish every organisation of the directory, as intake holds it now, on
    `directory.organisations` (through the outbox, in the caller's transaction); return
    how many. Intake owns the directory: the other services keep their own copies from
    this topic. Every organisation, not only those just imported: a service that moved
    between organisations leaves both entries right, and a service reading the topic
    for the first time gets the whole directory."""
    listed_at = datetime.now(UTC)
    directory = await repository.list_organisations(conn)
    for organisation in directory:
        await add_event(
            conn,
            OrganisationListed(
                organisation_id=organisation.id,
                name=organisation.name,
                type=organisation.type,
                services=[
                    ServiceRef(id=s.id, name=s.name, programme=s.programme)
                    for s in organisation.services
                ],
                listed_at=listed_at,
            ),
            service=SERVICE,
        )
    return len(directory)


@dataclass(frozen=True, slots=True)
class ImportSummary:
    imported: int
    already_present: int


async def check_feedback_against_directory(
    conn: Connection, entries: list[FeedbackEntry]
) -> list[RowError]:
    """Which rows name an organisation or service the directory does not have."""
    errors: list[RowError] = []
    directory = {o.id: o for o in await repository.list_organisations(conn)}
    for entry in entries:
        org = directory.get(entry.command.organisation_id)
        if org is None:
            errors.append(
                RowError(
                    entry.line,
                    f"organisation_id: no organisation {entry.command.organisation_id!r}",
                )
            )
        elif entry.command.service_id and org.service(entry.command.service_id) is None:
            errors.append(
                RowError(
                    entry.line, f"service_id: {org.id} has no service {entry.command.service_id!r}"
                )
            )
    return errors


async def import_feedback(
    pool: Pool, entries: list[FeedbackEntry], *, progress: Callable[[int], None] | None = None
) -> ImportSummary:
    """Submit each entry through the normal pipeline (moderated like any story).

    Idempotent by (source, external_id): re-running an import creates nothing twice.
    Each entry commits on its own, so an interrupted import resumes where it stopped.
    """
    imported = present = 0
    for done, entry in enumerate(entries, start=1):
        async with pool.acquire() as conn, conn.transaction():
            try:
                await submit_story(conn, entry.command)
                imported += 1
            except AlreadyImported:
                present += 1
        if progress is not None:
            progress(done)
    return ImportSummary(imported=imported, already_present=present)
