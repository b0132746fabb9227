"""Moderators teach screening (issue 17): a flag marked wrong, a missed one added,
and the corpus rows `candour screening export-labels` makes of them."""

from __future__ import annotations

import uuid

import pytest

from candour_common.events import StoryWithdrawn
from candour_moderation.domain.feedback import (
    FeedbackNotPossible,
    GiveScreeningFeedback,
    Verdict,
)
from candour_moderation.service_layer import handlers
from candour_screening import SafeguardingCategory, SafeguardingLevel
from candour_screening.corpus import parse
from tests.unit.moderation.fakes import FakeDatabase, screen_in_process
from tests.unit.moderation.test_queue import T0, submitted

pytestmark = pytest.mark.unit

C, L = SafeguardingCategory, SafeguardingLevel
# Flagged twice (money taken, documents held), both wrong: the nurse kept it safe.
SAFEKEEPING = "The nurse took my bank card for safekeeping while I was in theatre, said Karen."


async def queued(db: FakeDatabase, body: str) -> uuid.UUID:
    event = submitted(body)
    assert await handlers.receive_story(db.uow(), event, now=T0, screen=screen_in_process)
    return event.story_id


async def test_a_flag_marked_wrong_is_kept_with_who_and_where_and_audited() -> None:
    db = FakeDatabase()
    story_id = await queued(db, SAFEKEEPING)
    item = db.state.items[story_id]
    assert item.screening is not None
    match = item.screening.safeguarding.matches[0]
    feedback = await handlers.give_screening_feedback(
        db.uow(),
        GiveScreeningFeedback(story_id, "mod-alice", Verdict.WRONG, match=0, note="a figure"),
        now=T0,
    )
    assert feedback.category is match.category
    assert (feedback.field, feedback.match_start, feedback.text) == (
        "body",
        match.start,
        match.text,
    )
    assert db.state.audit[-1].action == "screening_feedback"
    assert db.state.audit[-1].actor == "mod-alice"


async def test_a_missed_flag_needs_its_category_and_a_wrong_one_an_existing_flag() -> None:
    db = FakeDatabase()
    story_id = await queued(db, "My nephew keeps Gran's post office book.")
    with pytest.raises(FeedbackNotPossible):
        await handlers.give_screening_feedback(
            db.uow(), GiveScreeningFeedback(story_id, "m", Verdict.MISSED), now=T0
        )
    with pytest.raises(FeedbackNotPossible):
        await handlers.give_screening_feedback(
            db.uow(), GiveScreeningFeedback(story_id, "m", Verdict.WRONG, match=3), now=T0
        )
    assert db.state.feedback == []


async def test_export_writes_corrected_labels_and_redacted_text() -> None:
    db = FakeDatabase()
    wrong = await queued(db, SAFEKEEPING)
    missed = await queued(db, "My nephew keeps Gran's post office book. Ring 07700 900461.")
    await queued(db, "I want to kill myself.")  # no feedback: not exported
    for match in (0, 1):
        await handlers.give_screening_feedback(
            db.uow(), GiveScreeningFeedback(wrong, "m", Verdict.WRONG, match=match), now=T0
        )
    await handlers.give_screening_feedback(
        db.uow(),
        GiveScreeningFeedback(
            missed, "m", Verdict.MISSED, category=C.FINANCIAL_ABUSE, level=L.CONCERN
        ),
        now=T0,
    )
    rows = await handlers.export_labels(db.uow())
    assert rows == [
        f"none | - | {SAFEKEEPING.replace('Karen', '[name]')}",
        "concern | financial_abuse | My nephew keeps Gran's post office book. Ring [phone number].",
    ]
    # The rows are corpus rows: the corpus reads them back.
    stories = parse("\n".join(rows))
    assert [s.level for s in stories] == [L.NONE, L.CONCERN]


async def test_withdrawal_erases_the_feedback_that_quotes_the_author() -> None:
    db = FakeDatabase()
    story_id = await queued(db, SAFEKEEPING)
    await handlers.give_screening_feedback(
        db.uow(), GiveScreeningFeedback(story_id, "m", Verdict.WRONG, match=0), now=T0
    )
    await handlers.withdraw_story(
        db.uow(),
        StoryWithdrawn(story_id=story_id, withdrawn_at=T0, organisation_id="TAD"),
        now=T0,
    )
    assert db.state.feedback == []
    assert await handlers.export_labels(db.uow()) == []
    with pytest.raises(FeedbackNotPossible):
        await handlers.give_screening_feedback(
            db.uow(), GiveScreeningFeedback(story_id, "m", Verdict.WRONG, match=0), now=T0
        )
