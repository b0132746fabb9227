"""A story's language (issue 20) travels from story.submitted to story.approved, by a
moderator's decision and by automatic approval, over the fakes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from candour_common.events import StoryApproved, StoryLanguage
from candour_moderation.domain.model import ApproveStory
from candour_moderation.service_layer import handlers
from tests.unit.moderation.fakes import FakeDatabase, screen_in_process
from tests.unit.moderation.test_queue import submitted

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
WELSH = "Roedd y nyrsys ar y ward yn garedig iawn ac fe wnaethon nhw esbonio popeth."


def _approved(db: FakeDatabase) -> list[StoryApproved]:
    return [e for _, e in db.state.outbox if isinstance(e, StoryApproved)]


async def test_a_welsh_story_is_queued_as_welsh_and_published_as_welsh() -> None:
    db = FakeDatabase()
    welsh = submitted(WELSH, title="Nyrsys caredig").model_copy(
        update={"language": StoryLanguage.WELSH}
    )
    english = submitted("The staff were kind.")
    await handlers.receive_stories(
        db.uow(), [welsh, english], now=T0, screen=screen_in_process, auto_approve=False
    )
    assert db.state.items[welsh.story_id].language is StoryLanguage.WELSH
    assert db.state.items[english.story_id].language is StoryLanguage.ENGLISH

    for event in (welsh, english):
        await handlers.decide(db.uow(), ApproveStory(event.story_id, "mo", criticality=1), now=T0)
    languages = {e.story_id: e.language for e in _approved(db)}
    assert languages == {
        welsh.story_id: StoryLanguage.WELSH,
        english.story_id: StoryLanguage.ENGLISH,
    }


async def test_an_automatically_approved_welsh_story_stays_welsh() -> None:
    db = FakeDatabase()
    welsh = submitted(WELSH, title="Nyrsys caredig").model_copy(
        update={"language": StoryLanguage.WELSH}
    )
    await handlers.receive_stories(
        db.uow(), [welsh], now=T0, screen=screen_in_process, auto_approve=True
    )
    [approved] = _approved(db)
    assert approved.story_id == welsh.story_id
    assert approved.language is StoryLanguage.WELSH
