"""Sharing a story, from the API and from the share page alike: one submit command
built from the validated story, one rate limit, the safeguarding check before the
transaction (its screening carried on story.submitted), and one story per
Idempotency-Key (the API's header, the form's key). Editing it and sending it again
(`PUT /v1/stories/{id}`, the follow page) likewise: one edit command, the same rate
limit and the same safeguarding check (once the story is read)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from fastapi import Request

from candour_common.events import AuthorContact, StoryScreening, Tags, screened_texts
from candour_intake.domain import AboutYou, EditStory, StoredAnswer, Story, SubmitStory
from candour_intake.entrypoints.dependencies import new_unit_of_work, safeguarding, submission_limit
from candour_intake.entrypoints.schemas import StoryEditIn, StoryIn
from candour_intake.service_layer import handlers
from candour_intake.service_layer.idempotency import KeyedRequest, answer_once


def submit_command(story: StoryIn) -> SubmitStory:
    """The command a story shared by a person makes (operator-only fields stay unset:
    both entrypoints refuse them before this)."""
    return SubmitStory(
        title=story.title,
        body=story.body,
        organisation_id=story.organisation_id,
        service_id=story.service_id,
        author=AuthorContact(**story.author.model_dump()),
        tags=Tags(**story.tags.model_dump()),
        experienced_at=story.experienced_at,
        about_you=AboutYou(**story.about_you.model_dump()) if story.about_you else None,
        language=story.language,
    )


async def seconds_to_wait(request: Request) -> float | None:
    """None if this client may submit a story now (and it is counted), else how long to
    wait. One limit for the API and the share page: a client cannot dodge it by switching."""
    client = request.client.host if request.client else "unknown"
    return await submission_limit(request).wait(client)


# What the caller keeps (and replays) of a submission: its answer's body.
Answer = Callable[[Story, str], dict[str, Any]]


async def submit(
    request: Request, story: StoryIn, keyed: KeyedRequest | None, answer: Answer
) -> tuple[StoredAnswer, bool]:
    """Submit `story` unless `keyed`'s key has already; the answer (the stored one for a
    repeat) and whether it is a replay. Raises the domain's errors (unknown organisation
    or service) and the Idempotency-Key's (reused with another request, withdrawn)."""
    command = submit_command(story)
    # Screened as moderation screens it: the screening travels on story.submitted.
    screening = await safeguarding(request).screen_story(
        screened_texts(command.title, command.body, command.assisted_by),
        author_name=command.author.display_name,
    )
    uow = new_unit_of_work(request.app)

    async def work() -> tuple[StoredAnswer, Any]:
        created, token = await handlers.submit_story(uow, command, screening=screening)
        return StoredAnswer(status_code=201, body=answer(created, token)), created.id

    return await answer_once(uow, keyed, work)


def edit_command(story_id: UUID, author_token: str, story: StoryEditIn) -> EditStory:
    """The command an author's edit makes (the API's body and the follow page's form)."""
    return EditStory(
        story_id=story_id,
        author_token=author_token,
        title=story.title,
        body=story.body,
        organisation_id=story.organisation_id,
        service_id=story.service_id,
        tags=Tags(**story.tags.model_dump()),
        experienced_at=story.experienced_at,
        about_you=AboutYou(**story.about_you.model_dump()) if story.about_you else None,
        language=story.language,
    )


async def edit(request: Request, story_id: UUID, author_token: str, story: StoryEditIn) -> Story:
    """Send the author's edit of their story as its next version; the story as edited.
    Raises the domain's errors (not found, not the author, not editable any more, unknown
    organisation or service). The caller has counted it against the rate limit."""
    command = edit_command(story_id, author_token, story)
    check = safeguarding(request)

    async def screen(fields: Mapping[str, str], author_name: str | None) -> StoryScreening:
        return await check.screen_story(fields, author_name=author_name)

    # Screened once the story is read (its author's name is part of what is screened).
    return await handlers.edit_story(new_unit_of_work(request.app), command, screen=screen)
