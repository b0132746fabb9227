"""The search index folded in memory from a stream of events, for a rebuild's bulk load.

`IndexFold` applies events and tombstones exactly as the live handlers do one at a time
(service_layer/handlers.py over adapters/repository.py), in the same order, and ends with
the rows of every index table as those handlers would leave them:

- the inbox records every event id once, whatever happens to the event after;
- a withdrawal (or a tombstone on story.approved) deletes the story, its responses and
  their versions, and keeps the story out for good (the first withdrawal's time stays);
- a story is replaced only by a strictly newer revision; ties keep the first;
- a response version applies only if newer than the one seen; a deleted version removes
  the response (its version stays); a replaced response keeps its first story, posting
  time and organisation, as the upsert does;
- a response tombstone removes that response (or, keyed by the story alone, all of them);
- a story's response columns are the aggregates of its responses at the end (the live
  path recomputes them after every change).

Story texts are not kept: each applied revision is handed out (`take_staged`) to be
written to a staging table, numbered, and the fold remembers only which number each story
ended with. Everything else it holds is small (ids, revisions, responses).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from candour_common import keys
from candour_common.events import ResponsePosted, StoryApproved, StoryWithdrawn
from candour_common.topics import Topic

IndexEvent = StoryApproved | ResponsePosted | StoryWithdrawn


@dataclass(slots=True)
class ResponseRow:
    """A row of search_responses."""

    response_id: uuid.UUID
    story_id: uuid.UUID
    posted_at: datetime
    organisation_id: str
    responder_name: str
    responder_role: str
    body: str
    change: str | None
    edited_at: datetime | None

    def values(self) -> tuple[object, ...]:
        return (
            self.response_id,
            self.story_id,
            self.posted_at,
            self.organisation_id,
            self.responder_name,
            self.responder_role,
            self.body,
            self.change,
            self.edited_at,
        )


RESPONSE_COLUMNS = (
    "response_id",
    "story_id",
    "posted_at",
    "organisation_id",
    "responder_name",
    "responder_role",
    "body",
    "change",
    "edited_at",
)
VERSION_COLUMNS = ("response_id", "story_id", "version", "deleted")
AGGREGATE_COLUMNS = (
    "response_count",
    "first_response_at",
    "change_planned",
    "change_made",
    "response_text",
)


@dataclass(slots=True)
class _Version:
    story_id: uuid.UUID
    version: int
    deleted: bool


@dataclass(frozen=True, slots=True)
class StagedStory:
    """A revision the fold applied: `number` identifies it in the staging table."""

    number: int
    event: StoryApproved


@dataclass(slots=True)
class IndexFold:
    consumer: str
    # inbox: event id -> logical topic, in the order first seen
    inbox: dict[uuid.UUID, str] = field(default_factory=dict)
    withdrawn: dict[uuid.UUID, datetime] = field(default_factory=dict)
    # story -> (revision, staged number) of the revision the index holds
    stories: dict[uuid.UUID, tuple[int, int]] = field(default_factory=dict)
    versions: dict[uuid.UUID, _Version] = field(default_factory=dict)
    responses: dict[uuid.UUID, ResponseRow] = field(default_factory=dict)
    # story -> ids of the responses (versions) whose row names that story
    _responses_of: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=dict)
    _versions_of: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=dict)
    # stories whose theme assignment a withdrawal forgets (ThemeRepository.forget_story)
    forgotten: set[uuid.UUID] = field(default_factory=set)
    _staged: list[StagedStory] = field(default_factory=list)
    _numbered: int = 0

    # ------------------------------------------------------------------ applying

    def apply(self, event: IndexEvent, *, event_id: uuid.UUID) -> None:
        if event_id in self.inbox:
            return
        self.inbox[event_id] = event.topic.value
        if isinstance(event, StoryApproved):
            self._approve(event)
        elif isinstance(event, ResponsePosted):
            self._respond(event)
        else:
            self._withdraw(event.story_id, event.withdrawn_at)
            self.forgotten.add(event.story_id)

    def apply_tombstone(self, topic: Topic, key: str, at: datetime) -> None:
        if topic is Topic.STORY_APPROVED:
            self._withdraw(uuid.UUID(key), at)
        elif topic is Topic.RESPONSE_POSTED:
            story_part, _, response_part = key.partition(keys.SEPARATOR)
            story_id = uuid.UUID(story_part)
            if response_part:
                self._remove_response(uuid.UUID(response_part))
            else:
                for response_id in self._responses_of.pop(story_id, set()):
                    del self.responses[response_id]
        else:
            raise ValueError(f"search does not expect tombstones on {topic.value}")

    def _approve(self, event: StoryApproved) -> None:
        if event.story_id in self.withdrawn:
            return
        held = self.stories.get(event.story_id)
        if held is not None and held[0] >= event.revision:
            return
        self._numbered += 1
        self.stories[event.story_id] = (event.revision, self._numbered)
        self._staged.append(StagedStory(self._numbered, event))

    def _respond(self, event: ResponsePosted) -> None:
        if event.story_id in self.withdrawn:
            return
        seen = self.versions.get(event.response_id)
        if seen is None:
            self.versions[event.response_id] = _Version(
                event.story_id, event.version, event.deleted
            )
            self._versions_of.setdefault(event.story_id, set()).add(event.response_id)
        elif seen.version < event.version:
            seen.version, seen.deleted = event.version, event.deleted
        else:
            return
        if event.deleted:
            self._remove_response(event.response_id)
            return
        row = self.responses.get(event.response_id)
        change = event.change.value if event.change else None
        if row is None:
            self.responses[event.response_id] = ResponseRow(
                response_id=event.response_id,
                story_id=event.story_id,
                posted_at=event.posted_at,
                organisation_id=event.organisation.id,
                responder_name=event.responder.display_name,
                responder_role=event.responder.role,
                body=event.body,
                change=change,
                edited_at=event.edited_at,
            )
            self._responses_of.setdefault(event.story_id, set()).add(event.response_id)
        else:
            row.responder_name = event.responder.display_name
            row.responder_role = event.responder.role
            row.body = event.body
            row.change = change
            row.edited_at = event.edited_at

    def _remove_response(self, response_id: uuid.UUID) -> None:
        row = self.responses.pop(response_id, None)
        if row is not None:
            self._responses_of[row.story_id].discard(response_id)

    def _withdraw(self, story_id: uuid.UUID, at: datetime) -> None:
        for response_id in self._responses_of.pop(story_id, set()):
            del self.responses[response_id]
        for response_id in self._versions_of.pop(story_id, set()):
            del self.versions[response_id]
        self.stories.pop(story_id, None)
        self.withdrawn.setdefault(story_id, at)

    # ------------------------------------------------------------------ results

    def take_staged(self) -> list[StagedStory]:
        """The revisions applied since the last call that the index still holds (to write
        to the staging table): one superseded by a later revision, or whose story was
        withdrawn, since it was applied is left out, so its document is never computed."""
        staged, self._staged = self._staged, []
        held = self.stories
        return [s for s in staged if (kept := held.get(s.event.story_id)) and kept[1] == s.number]

    def kept_stories(self) -> Iterator[tuple[int, tuple[object, ...]]]:
        """Per story the index holds: its staged number and its response columns
        (AGGREGATE_COLUMNS), as refresh_response_aggregates computes them."""
        for story_id, (_, number) in self.stories.items():
            rows = sorted(
                (self.responses[r] for r in self._responses_of.get(story_id, ())),
                key=lambda row: (row.posted_at, row.response_id),
            )
            yield (
                number,
                (
                    len(rows),
                    rows[0].posted_at if rows else None,
                    any(row.change == "planned" for row in rows),
                    any(row.change == "made" for row in rows),
                    "\n".join(row.body for row in rows),
                ),
            )

    def version_rows(self) -> Iterator[tuple[object, ...]]:
        for response_id, v in self.versions.items():
            yield (response_id, v.story_id, v.version, v.deleted)
