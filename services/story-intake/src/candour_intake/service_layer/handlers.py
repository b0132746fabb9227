"""Use cases of story-intake. Each receives its dependencies as arguments."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from candour_common.db.outbox import add_event
from candour_common.events import OrganisationRef, ServiceRef, StorySubmitted
from candour_intake.adapters import repository
from candour_intake.domain import (
    Story,
    SubmitStory,
    UnknownOrganisation,
    UnknownService,
    new_author_token,
)

SERVICE = "story-intake"


async def submit_story(pool: asyncpg.Pool, command: SubmitStory) -> tuple[Story, str]:
    """Store the story and its `story.submitted` event in one transaction.

    Returns the story and the author's private token (shown once, kept only as a hash).
    """
    async with pool.acquire() as conn, conn.transaction():
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
