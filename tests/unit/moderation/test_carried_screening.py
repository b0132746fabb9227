"""Intake's screening carried on story.submitted (issue 18): moderation uses it when its
own screener would have produced it over the same text, and screens the story itself
otherwise (absent, another screener, another text, a payload that does not add up), so
safeguarding is never missed. Over the fakes, with the real screening library."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from candour_common.cloudevents import Envelope
from candour_common.events import SafeguardingRaised, StoryScreening, StorySubmitted
from candour_common.topics import Topic
from candour_moderation.domain.carried_screening import usable_screening
from candour_moderation.domain.model import QueueItem
from candour_moderation.entrypoints import consumers
from candour_moderation.service_layer import handlers
from candour_moderation.service_layer.handlers import ScreeningRequest
from candour_moderation.settings import ModerationSettings
from candour_screening import SafeguardingLevel, Screening, inputs_digest, screen
from tests.unit.moderation.fakes import FakeDatabase, screen_in_process
from tests.unit.moderation.test_queue import submitted

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
OURS = "candour-screening 1.0+rules-a; spacy 3.8.18"
OLDER = "candour-screening 0.9+rules-z; spacy 3.8.18"
CLEAN = "The nurses on the ward were kind and explained everything."
SERIOUS = "Since discharge I want to kill myself."
NAMED = "Dr Patel rang me on 07700 900123 and was lovely."


class RecordingScreen:
    """Screens in process, remembering each story it was asked to screen."""

    def __init__(self) -> None:
        self.screened: list[str] = []

    async def __call__(self, stories: Sequence[ScreeningRequest]) -> list[Screening]:
        self.screened.extend(fields["body"] for fields, _ in stories)
        return await screen_in_process(stories)


class Counts:
    def __init__(self) -> None:
        self.by: dict[str, int] = {}

    def __call__(self, screened_by: str, count: int) -> None:
        self.by[screened_by] = self.by.get(screened_by, 0) + count


def intakes_screening(event: StorySubmitted, *, screener: str = OURS) -> StoryScreening:
    """What story-intake carries: the library's screening of the event's text."""
    fields, author = event.screened_texts(), event.author.display_name
    return StoryScreening(
        screener=screener,
        inputs_sha256=inputs_digest(fields, author),
        **screen(fields, author_name=author).to_json(),
    )


def carrying(event: StorySubmitted, screening: StoryScreening | None = None) -> StorySubmitted:
    return event.model_copy(update={"screening": screening or intakes_screening(event)})


def forged(event: StorySubmitted, **changes: Any) -> StorySubmitted:
    """`event` carrying its own screening with `changes` made to its JSON."""
    data = intakes_screening(event).model_dump(mode="json")
    data.update(changes)
    return carrying(event, StoryScreening.model_validate(data))


async def receive(
    db: FakeDatabase,
    events: Sequence[StorySubmitted],
    screen_with: RecordingScreen,
    counts: Counts | None = None,
    *,
    screener: str | None = OURS,
) -> list[QueueItem]:
    return await handlers.receive_stories(
        db.uow(),
        events,
        now=T0,
        screen=screen_with,
        screener=screener,
        observe_screenings=counts or Counts(),
    )


def raised(db: FakeDatabase) -> list[SafeguardingRaised]:
    return [e for _, e in db.state.outbox if isinstance(e, SafeguardingRaised)]


def received_line(db: FakeDatabase, story_id: uuid.UUID) -> dict[str, Any]:
    [line] = [a for a in db.state.audit if a.story_id == story_id and a.action == "received"]
    return line.detail or {}


async def test_a_carried_screening_of_the_same_screener_is_used_not_screened_again() -> None:
    db, own, counts = FakeDatabase(), RecordingScreen(), Counts()
    event = carrying(submitted(NAMED))
    [item] = await receive(db, [event], own, counts)
    assert own.screened == []
    assert item.screening == screen(event.screened_texts(), author_name="Sam")
    assert item.screening is not None and item.screening.redactions  # the name, the phone
    detail = received_line(db, event.story_id)
    assert (detail["screened_by"], detail["screener"]) == ("story-intake", OURS)
    assert counts.by == {"story-intake": 1}


async def test_a_carried_serious_match_escalates_at_once() -> None:
    db, own = FakeDatabase(), RecordingScreen()
    [item] = await receive(db, [carrying(submitted(SERIOUS))], own)
    assert own.screened == []
    assert item.priority_rank == 0
    assert [e.level for e in raised(db)] == ["serious"]


async def test_a_screening_by_another_screener_version_is_screened_again() -> None:
    db, own, counts = FakeDatabase(), RecordingScreen(), Counts()
    event = carrying(submitted(SERIOUS), intakes_screening(submitted(SERIOUS), screener=OLDER))
    [item] = await receive(db, [event], own, counts)
    assert own.screened == [SERIOUS]
    assert item.screening is not None
    assert item.screening.safeguarding.level is SafeguardingLevel.SERIOUS
    detail = received_line(db, event.story_id)
    assert (detail["screened_by"], detail["screener"]) == ("moderation", OURS)
    assert counts.by == {"moderation": 1}


async def test_a_story_carrying_no_screening_is_screened() -> None:
    """The bulk import's path: intake does not screen, moderation must."""
    db, own, counts = FakeDatabase(), RecordingScreen(), Counts()
    event = submitted(SERIOUS)
    assert event.screening is None
    [item] = await receive(db, [event], own, counts)
    assert own.screened == [SERIOUS]
    assert item.priority_rank == 0
    assert len(raised(db)) == 1
    assert counts.by == {"moderation": 1}


async def test_without_a_screener_of_its_own_named_nothing_carried_is_used() -> None:
    """`reuse_intake_screening` off: the consumer passes no screener."""
    db, own = FakeDatabase(), RecordingScreen()
    await receive(db, [carrying(submitted(CLEAN))], own, screener=None)
    assert own.screened == [CLEAN]


async def test_reuse_can_be_turned_off_in_the_settings() -> None:
    db, own = FakeDatabase(), RecordingScreen()
    for reuse, expected in ((True, []), (False, [CLEAN])):
        own.screened.clear()
        subs = consumers.subscriptions(
            ModerationSettings(reuse_intake_screening=reuse),
            screen=own,
            observe=lambda item, automatic: None,
            screener=OURS,
        )
        event = carrying(submitted(CLEAN))
        await subs.get(Topic.STORY_SUBMITTED).handle(
            db.uow(), event, Envelope.new(event, service="story-intake")
        )
        assert own.screened == expected


@pytest.mark.parametrize(
    "tamper",
    [
        # Screened before the text changed (or of another story): its digest is not ours.
        pytest.param(lambda e: carrying(e, intakes_screening(submitted(CLEAN))), id="other text"),
        # Says "none" over a serious match.
        pytest.param(
            lambda e: forged(
                e,
                safeguarding={
                    **intakes_screening(e).safeguarding.model_dump(mode="json"),
                    "level": "none",
                },
            ),
            id="level below its matches",
        ),
        # A match that is not where it says.
        pytest.param(
            lambda e: forged(
                e,
                safeguarding={
                    **intakes_screening(e).safeguarding.model_dump(mode="json"),
                    "matches": [
                        {**m, "start": m["start"] + 1}
                        for m in intakes_screening(e).safeguarding.model_dump(mode="json")[
                            "matches"
                        ]
                    ],
                },
            ),
            id="span out of place",
        ),
        # A category this version does not know.
        pytest.param(
            lambda e: forged(
                e,
                safeguarding={
                    **intakes_screening(e).safeguarding.model_dump(mode="json"),
                    "matches": [
                        {**m, "category": "from_the_future"}
                        for m in intakes_screening(e).safeguarding.model_dump(mode="json")[
                            "matches"
                        ]
                    ],
                },
            ),
            id="unknown category",
        ),
    ],
)
async def test_a_carried_screening_that_does_not_add_up_is_screened_again(tamper: Any) -> None:
    event = submitted(SERIOUS)
    carried = tamper(event)
    assert usable_screening(carried, OURS) is None
    db, own = FakeDatabase(), RecordingScreen()
    [item] = await receive(db, [carried], own)
    assert own.screened == [SERIOUS]
    assert item.priority_rank == 0
    assert len(raised(db)) == 1


async def test_a_batch_screens_only_the_stories_whose_screening_cannot_be_used() -> None:
    db, own, counts = FakeDatabase(), RecordingScreen(), Counts()
    first, bulk, last = carrying(submitted(CLEAN)), submitted(SERIOUS), carrying(submitted(NAMED))
    items = await receive(db, [first, bulk, last], own, counts)
    assert own.screened == [SERIOUS]
    assert [i.story_id for i in items] == [first.story_id, bulk.story_id, last.story_id]
    assert [i.priority_rank for i in items] == [2, 0, 2]
    assert counts.by == {"story-intake": 2, "moderation": 1}


async def test_an_authors_edit_carrying_its_screening_is_not_screened_again() -> None:
    db, own = FakeDatabase(), RecordingScreen()
    story_id = uuid.uuid4()
    await receive(db, [carrying(submitted(CLEAN, story_id=story_id))], own)
    edit = submitted(SERIOUS, story_id=story_id).model_copy(update={"version": 2})
    [item] = await receive(db, [carrying(edit)], own)
    assert own.screened == []
    assert item.version == 2 and item.priority_rank == 0
    [line] = [a for a in db.state.audit if a.action == "resubmitted"]
    assert line.detail is not None and line.detail["screened_by"] == "story-intake"
    assert len(raised(db)) == 1
