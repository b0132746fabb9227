"""Use cases of story-intake.

Each handler receives a unit of work (and whatever else it needs) as arguments and
runs in it: `async with uow:` opens its transaction, or joins the caller's (the
Idempotency-Key's claim, the consumer's batch), so a state change and the event
announcing it commit together or not at all.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from candour_common.events import (
    OrganisationListed,
    OrganisationRef,
    ResponsePosted,
    ServiceRef,
    StoryApproved,
    StoryRejected,
    StoryScreening,
    StorySubmitted,
    StoryWithdrawn,
    screened_texts,
)
from candour_common.keys import response_key, story_key
from candour_common.topics import Topic
from candour_intake.adapters.directory_csv import RowError
from candour_intake.adapters.feedback_csv import FeedbackEntry
from candour_intake.domain import (
    AboutYou,
    AlreadyImported,
    DeleteResponse,
    EditResponse,
    EditStory,
    EditWindowClosed,
    InboxPage,
    InboxQuery,
    NotTheAuthor,
    NotYourResponse,
    Organisation,
    PostResponse,
    PublishedStory,
    ResponseDeleted,
    ResponseNotFound,
    StaffResponse,
    Story,
    StoryNotEditable,
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
from candour_intake.service_layer.unit_of_work import IntakeUnitOfWork
from candour_screening import inputs_digest

log = structlog.get_logger(__name__)

NewUnitOfWork = Callable[[], IntakeUnitOfWork]
# Screens a story as sent: its `screened_texts` and the author's display name.
ScreenStory = Callable[[Mapping[str, str], str | None], Awaitable[StoryScreening]]


def _place(
    organisation_id: str, service_id: str | None, organisation: Organisation | None
) -> tuple[OrganisationRef, ServiceRef | None]:
    """Where a story is about, as the directory has it; refused if it has no such place."""
    if organisation is None:
        raise UnknownOrganisation(organisation_id)
    service_ref = None
    if service_id is not None:
        service = organisation.service(service_id)
        if service is None:
            raise UnknownService(organisation.id, service_id)
        service_ref = ServiceRef(id=service.id, name=service.name, programme=service.programme)
    return OrganisationRef(id=organisation.id, name=organisation.name), service_ref


def _new_story(
    command: SubmitStory,
    organisation: Organisation | None,
    *,
    safeguarding_level: str | None,
    now: datetime,
) -> tuple[Story, str]:
    """The story `command` makes, in the directory as it is; and the author's token."""
    organisation_ref, service_ref = _place(
        command.organisation_id, command.service_id, organisation
    )
    token, token_hash = new_author_token()
    story = Story(
        id=uuid.uuid4(),
        title=command.title,
        body=command.body,
        organisation=organisation_ref,
        service=service_ref,
        author=command.author,
        tags=command.tags,
        experienced_at=command.experienced_at,
        submitted_at=now,
        author_token_hash=token_hash,
        source=command.source,
        external_id=command.external_id,
        assisted_by=command.assisted_by,
        represents=command.represents,
        safeguarding_level=safeguarding_level,
        language=command.language,
    )
    return story, token


def _submitted(story: Story, screening: StoryScreening | None = None) -> StorySubmitted:
    """The story's event; with `screening` (intake's, of the same text) carried on it."""
    event = StorySubmitted(
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
        language=story.language,
        version=story.version,
    )
    if screening is None:
        return event
    if screening.inputs_sha256 != inputs_digest(event.screened_texts(), event.author.display_name):
        # Screened before a change to its text (never expected): moderation screens it.
        log.warning("screening not of the text sent; left off story.submitted")
        return event
    return event.model_copy(update={"screening": screening})


def _answered(about_you: AboutYou | None) -> bool:
    # Its own table: never in the story's row, its event or any other event.
    return about_you is not None and not about_you.empty


async def submit_story(
    uow: IntakeUnitOfWork,
    command: SubmitStory,
    *,
    safeguarding_level: str | None = None,
    screening: StoryScreening | None = None,
) -> tuple[Story, str]:
    """Store the story and its `story.submitted` event.

    `screening` is intake's screening of it (screened before the transaction: see
    adapters/screening.py): its level is kept so the author's pages can offer help, and
    it travels on the event so moderation need not screen the text again. Without it,
    `safeguarding_level` is kept (or nothing) and moderation screens.
    Returns the story and the author's private token (shown once, kept only as a hash).
    """
    if screening is not None:
        safeguarding_level = screening.safeguarding.level
    async with uow:
        if command.external_id is not None:
            existing = await uow.stories.imported(command.source.value, [command.external_id])
            if command.external_id in existing:
                raise AlreadyImported(
                    command.source, command.external_id, existing[command.external_id]
                )
        organisation = await uow.directory.get(command.organisation_id)
        story, token = _new_story(
            command, organisation, safeguarding_level=safeguarding_level, now=datetime.now(UTC)
        )
        await uow.stories.add(story)
        if command.about_you is not None and _answered(command.about_you):
            await uow.about_you.add(story.id, command.about_you)
        await uow.add_event(_submitted(story, screening))
    return story, token


async def _authors_story(
    uow: IntakeUnitOfWork, story_id: uuid.UUID, token: str, *, for_update: bool = False
) -> StoryState:
    """The story's state when `token` is its author's (inside `uow`'s transaction)."""
    state = await uow.stories.state(story_id, for_update=for_update)
    if state is None:
        raise StoryNotFound(story_id)
    if not state.authored_by(token):
        raise NotTheAuthor()
    return state


async def edit_story(
    uow: IntakeUnitOfWork,
    command: EditStory,
    *,
    safeguarding_level: str | None = None,
    screen: ScreenStory | None = None,
) -> Story:
    """The author changes their story and sends it again: the next version.

    With `screen`, the new text is screened here, once the story is read (screening
    reads the author's name and who helped write it, which the edit does not change):
    its level is kept and the screening travels on the event (see `submit_story`).

    Only while it is submitted or after it was rejected (`StoryNotEditable` once it is
    published or withdrawn). The row lock serialises two edits of one story: the second
    waits, then makes the version after the first. The story is submitted again (a
    rejection is cleared) and `story.submitted` goes out again with the same story id,
    the next `version` and the author's contact as intake keeps it; moderation replaces
    the text it queued. Its first submission time stays (its place in the queue).
    """
    async with uow:
        state = await _authors_story(uow, command.story_id, command.author_token, for_update=True)
        if not state.editable:
            raise StoryNotEditable(state.status)
        story = await uow.stories.get(command.story_id)
        assert story is not None  # the row is locked
        organisation_ref, service_ref = _place(
            command.organisation_id,
            command.service_id,
            await uow.directory.get(command.organisation_id),
        )
        edited = dataclasses.replace(
            story,
            title=command.title,
            body=command.body,
            organisation=organisation_ref,
            service=service_ref,
            tags=command.tags,
            experienced_at=command.experienced_at,
            safeguarding_level=safeguarding_level,
            language=command.language,
            version=story.version + 1,
        )
        screening = None
        if screen is not None:
            screening = await screen(
                screened_texts(edited.title, edited.body, edited.assisted_by),
                edited.author.display_name,
            )
            edited = dataclasses.replace(edited, safeguarding_level=screening.safeguarding.level)
        await uow.stories.save_edit(edited)
        if command.about_you is not None:
            await uow.about_you.erase(story.id)
            if _answered(command.about_you):
                await uow.about_you.add(story.id, command.about_you)
        await uow.add_event(_submitted(edited, screening))
    return edited


async def story_state(uow: IntakeUnitOfWork, story_id: uuid.UUID) -> StoryState:
    async with uow:
        state = await uow.stories.state(story_id)
    if state is None:
        raise StoryNotFound(story_id)
    return state


async def authored_story(uow: IntakeUnitOfWork, story_id: uuid.UUID, token: str) -> StoryState:
    """The story's state, for its author only (the token they were given)."""
    state = await story_state(uow, story_id)
    if not state.authored_by(token):
        raise NotTheAuthor()
    return state


async def authored_story_text(uow: IntakeUnitOfWork, story_id: uuid.UUID, token: str) -> Story:
    """The story as its author sent it last, for its author only (to edit it)."""
    async with uow:
        await _authors_story(uow, story_id, token)
        story = await uow.stories.get(story_id)
    if story is None:
        raise StoryNotFound(story_id)
    return story


async def withdraw_story(uow: IntakeUnitOfWork, story_id: uuid.UUID, token: str) -> bool:
    """The author withdraws their story; False if it was already withdrawn (nothing
    emitted).

    Everything intake holds of the story's words, its author's contact, their "about
    you" answers and its provenance goes in the same transaction: the story row is
    blanked, its answers, its outbox rows (story.submitted carries the author's name and
    email) and its idempotency answers are deleted. Then `story.withdrawn` tells every
    service, and tombstones erase what intake published: story.submitted (compacted per
    story) and every response on response.posted (compacted per response). Moderation
    tombstones story.approved, which it publishes. All through the outbox, after anything
    published before.
    """
    async with uow:
        state = await _authors_story(uow, story_id, token, for_update=True)
        if state.status is StoryStatus.WITHDRAWN:
            return False
        now = datetime.now(UTC)
        responses = await uow.responses.ids(story_id)
        await uow.stories.mark_withdrawn(story_id, now)
        await uow.about_you.erase(story_id)
        await uow.erase_story_events(story_id)
        await uow.idempotency_keys.forget_story(story_id)
        await uow.add_event(
            StoryWithdrawn(
                story_id=story_id, withdrawn_at=now, organisation_id=state.organisation_id
            )
        )
        await uow.add_tombstone(Topic.STORY_SUBMITTED, story_key(story_id), story_id=story_id)
        for response_id in responses:
            await uow.add_tombstone(
                Topic.RESPONSE_POSTED, response_key(story_id, response_id), story_id=story_id
            )
        if responses:
            # Responses published before keys named them were keyed by the story id alone.
            await uow.add_tombstone(Topic.RESPONSE_POSTED, story_key(story_id), story_id=story_id)
    return True


async def post_response(uow: IntakeUnitOfWork, command: PostResponse) -> uuid.UUID:
    async with uow:
        state = await uow.stories.state(command.story_id, for_update=True)
        if state is None:
            raise StoryNotFound(command.story_id)
        if state.organisation_id != command.organisation_id:
            raise WrongOrganisation()
        if state.status is not StoryStatus.PUBLISHED:
            raise StoryNotOpenForResponses(state.status)
        response_id = uuid.uuid4()
        posted_at = datetime.now(UTC)
        await uow.responses.add(response_id, command, posted_at)
        name = await uow.directory.name(state.organisation_id)
        await uow.add_event(
            ResponsePosted(
                story_id=command.story_id,
                response_id=response_id,
                posted_at=posted_at,
                organisation=OrganisationRef(id=state.organisation_id, name=name),
                responder=command.responder,
                body=command.body,
                change=command.change,
            )
        )
    return response_id


async def change_response(
    uow: IntakeUnitOfWork,
    command: EditResponse | DeleteResponse,
    *,
    window: timedelta,
    now: datetime | None = None,
) -> StaffResponse:
    """The responder corrects (EditResponse) or takes down (DeleteResponse) their own
    response while the edit window is open: `response.posted` again, same id, next
    version. A deletion keeps no text and is followed by a tombstone, so compaction
    erases every version of it from response.posted."""
    now = now or datetime.now(UTC)
    async with uow:
        state = await uow.stories.state(command.story_id, for_update=True)
        if state is None:
            raise StoryNotFound(command.story_id)
        if state.organisation_id != command.organisation_id:
            raise WrongOrganisation()
        current = await uow.responses.get(command.story_id, command.response_id, for_update=True)
        if current is None:
            raise ResponseNotFound(command.response_id)
        if current.responder_subject != command.responder_subject:
            raise NotYourResponse()
        if current.deleted_at is not None:
            raise ResponseDeleted()
        if now >= current.editable_until(window):
            raise EditWindowClosed(current.editable_until(window))
        if state.status is not StoryStatus.PUBLISHED:
            raise StoryNotOpenForResponses(state.status)
        deleted = isinstance(command, DeleteResponse)
        if isinstance(command, EditResponse):
            changed = dataclasses.replace(
                current, responder=command.responder, body=command.body, change=command.change
            )
        else:
            changed = dataclasses.replace(current, body="", change=None, deleted_at=now)
        changed = dataclasses.replace(changed, version=current.version + 1, edited_at=now)
        await uow.responses.save_version(changed, deleted=deleted)
        name = await uow.directory.name(state.organisation_id)
        await uow.add_event(
            ResponsePosted(
                story_id=changed.story_id,
                response_id=changed.id,
                posted_at=changed.posted_at,
                organisation=OrganisationRef(id=state.organisation_id, name=name),
                responder=changed.responder,
                body=changed.body,
                change=changed.change,
                version=changed.version,
                edited_at=changed.edited_at,
                deleted=deleted,
            )
        )
        if deleted:
            await uow.add_tombstone(
                Topic.RESPONSE_POSTED,
                response_key(changed.story_id, changed.id),
                story_id=changed.story_id,
            )
    return changed


async def inbox(uow: IntakeUnitOfWork, query: InboxQuery) -> InboxPage:
    async with uow:
        return await uow.stories.inbox(query)


@dataclass(frozen=True, slots=True)
class StoryToAnswer:
    story: PublishedStory
    responses: tuple[StaffResponse, ...]


async def story_to_answer(
    uow: IntakeUnitOfWork, story_id: uuid.UUID, organisation_id: str
) -> StoryToAnswer:
    """The published story and its responses, for staff of its own organisation."""
    async with uow:
        state = await uow.stories.state(story_id)
        if state is None:
            raise StoryNotFound(story_id)
        if state.organisation_id != organisation_id:
            raise WrongOrganisation()
        story = await uow.stories.published(story_id)
        if story is None:
            raise StoryNotOpenForResponses(state.status)
        return StoryToAnswer(story, tuple(await uow.responses.standing(story_id)))


async def organisation(uow: IntakeUnitOfWork, organisation_id: str) -> Organisation | None:
    async with uow:
        return await uow.directory.get(organisation_id)


async def organisations(uow: IntakeUnitOfWork) -> list[Organisation]:
    async with uow:
        return await uow.directory.all()


async def record_approved(uow: IntakeUnitOfWork, events: Sequence[StoryApproved]) -> None:
    """Moderation published these stories: the authors' status pages and staff's inbox
    show them (one statement for a consumer's batch)."""
    async with uow:
        await uow.stories.record_publications(events)


async def record_rejected(uow: IntakeUnitOfWork, event: StoryRejected) -> None:
    async with uow:
        await uow.stories.mark_rejected(
            event.story_id, event.rejected_at, event.reason, version=event.version
        )


async def import_directory(uow: IntakeUnitOfWork, organisations: list[Organisation]) -> int:
    """Add or update `organisations`, then publish the whole directory (see below)."""
    async with uow:
        for organisation in organisations:
            await uow.directory.upsert(organisation)
        await publish_directory(uow)
    return len(organisations)


async def publish_directory(uow: IntakeUnitOfWork) -> int:
    """Publish every organisation of the directory, as intake holds it now, on
    `directory.organisations` (through the outbox, in one statement); return how many.
    Intake owns the directory: the other services keep their own copies from this
    topic. Every organisation, not only those just imported: a service that moved
    between organisations leaves both entries right, and a service reading the topic
    for the first time gets the whole directory."""
    listed_at = datetime.now(UTC)
    async with uow:
        directory = await uow.directory.all()
        await uow.add_events(
            [
                OrganisationListed(
                    organisation_id=organisation.id,
                    name=organisation.name,
                    name_cy=organisation.name_cy,
                    email_language=organisation.email_language,
                    type=organisation.type,
                    services=[
                        ServiceRef(id=s.id, name=s.name, programme=s.programme)
                        for s in organisation.services
                    ],
                    listed_at=listed_at,
                )
                for organisation in directory
            ]
        )
    return len(directory)


@dataclass(frozen=True, slots=True)
class ImportSummary:
    imported: int
    already_present: int


async def check_feedback_against_directory(
    uow: IntakeUnitOfWork, entries: list[FeedbackEntry]
) -> list[RowError]:
    """Which rows name an organisation or service the directory does not have."""
    errors: list[RowError] = []
    async with uow:
        directory = {o.id: o for o in await uow.directory.all()}
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


# Entries per transaction of an import: big enough that COPY pays for itself, small
# enough that an interrupted import loses little and the progress line moves.
IMPORT_CHUNK = 1000


async def import_feedback(
    new_uow: NewUnitOfWork,
    entries: Sequence[FeedbackEntry],
    *,
    progress: Callable[[int], None] | None = None,
    chunk: int = IMPORT_CHUNK,
) -> ImportSummary:
    """Submit each entry through the normal pipeline (moderated like any story).

    Idempotent by (source, external_id): re-running an import creates nothing twice.
    Entries commit a chunk at a time (stories, answers and outbox rows each written in
    one statement), so an interrupted import resumes where it stopped.
    """
    imported = present = done = 0
    for start in range(0, len(entries), chunk):
        part = entries[start : start + chunk]
        async with new_uow() as uow:
            imported_here = await _import_chunk(uow, part)
        imported += imported_here
        present += len(part) - imported_here
        done += len(part)
        if progress is not None:
            progress(done)
    return ImportSummary(imported=imported, already_present=present)


async def _import_chunk(uow: IntakeUnitOfWork, entries: Sequence[FeedbackEntry]) -> int:
    by_source: dict[str, list[FeedbackEntry]] = {}
    for entry in entries:
        by_source.setdefault(entry.command.source.value, []).append(entry)
    directory = {o.id: o for o in await uow.directory.all()}
    now = datetime.now(UTC)
    stories: list[Story] = []
    answers: list[tuple[uuid.UUID, AboutYou]] = []
    for source, of_source in sorted(by_source.items()):
        await uow.stories.lock_imports(source)
        seen = await uow.stories.imported(source, [e.command.external_id or "" for e in of_source])
        for entry in of_source:
            command = entry.command
            if command.external_id in seen:
                continue
            story, _ = _new_story(
                command, directory.get(command.organisation_id), safeguarding_level=None, now=now
            )
            stories.append(story)
            if command.about_you is not None and _answered(command.about_you):
                answers.append((story.id, command.about_you))
    await uow.stories.add_many(stories)
    if answers:
        await uow.about_you.add_many(answers)
    await uow.add_events([_submitted(story) for story in stories])
    return len(stories)
