"""Use cases of story-intake.

Each handler receives its dependencies as arguments and runs inside the
caller's transaction (`conn`), so a state change and the event announcing it
commit together or not at all.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from candour_common.db import Connection
from candour_common.db.inbox import record_once
from candour_common.db.outbox import add_event
from candour_common.events import (
    OrganisationRef,
    ResponsePosted,
    ServiceRef,
    StoryApproved,
    StoryRejected,
    StorySubmitted,
    StoryWithdrawn,
)
from candour_intake.adapters import repository
from candour_intake.domain import (
    Organisation,
    PostResponse,
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

SERVICE = "story-intake"
CONSUMER = "story-intake"


async def submit_story(conn: Connection, command: SubmitStory) -> tuple[Story, str]:
    """Store the story and its `story.submitted` event.

    Returns the story and the author's private token (shown once, kept only as a hash).
    """
    organisation = await repository.get_organisation(conn, command.organisation_id)
    if organisation is None:
        raise UnknownOrganisation(command.organisation_id)
    service_ref = None
    if command.service_id is not None:
        service = organisation.service(command.service_id)
        if service is None:
            raise UnknownService(organisation.id, command.service_id)
        service_ref = ServiceRef(id=service.id, name=service.name)
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
    )
    await repository.add_story(conn, story)
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
    """Withdraw an (authorised) story; False if it was already withdrawn (nothing emitted)."""
    locked = await repository.get_story_state(conn, state.id, for_update=True)
    if locked is None:
        raise StoryNotFound(state.id)
    if locked.status is StoryStatus.WITHDRAWN:
        return False
    now = datetime.now(UTC)
    await repository.mark_withdrawn(conn, state.id, now)
    await add_event(
        conn,
        StoryWithdrawn(story_id=state.id, withdrawn_at=now, organisation_id=state.organisation_id),
        service=SERVICE,
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


async def record_approved(conn: Connection, event: StoryApproved, event_id: uuid.UUID) -> None:
    if await record_once(conn, consumer=CONSUMER, event_id=event_id, topic=event.topic.value):
        await repository.mark_published(conn, event.story_id, event.published_at, event.revision)


async def record_rejected(conn: Connection, event: StoryRejected, event_id: uuid.UUID) -> None:
    if await record_once(conn, consumer=CONSUMER, event_id=event_id, topic=event.topic.value):
        await repository.mark_rejected(conn, event.story_id, event.rejected_at, event.reason)


async def import_directory(conn: Connection, organisations: list[Organisation]) -> int:
    for organisation in organisations:
        await repository.upsert_organisation(conn, organisation)
    return len(organisations)
