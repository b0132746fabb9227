"""Edit and resubmit (issue 20) on story-intake's in-memory unit of work: the author's
next version, what it announces, who may make it and when, and that moderation's
decisions on an older version do not undo it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from candour_common.events import (
    OrganisationRef,
    PublicAuthor,
    RejectionReason,
    Relationship,
    StoryApproved,
    StoryLanguage,
    StoryRejected,
    StorySubmitted,
    Tags,
)
from candour_intake.domain import (
    AboutYou,
    EditStory,
    NotTheAuthor,
    StoryNotEditable,
    StoryNotFound,
    StoryStatus,
    UnknownService,
)
from candour_intake.entrypoints.schemas import StoryEditIn
from candour_intake.entrypoints.submission import edit_command
from candour_intake.service_layer import handlers
from tests.unit.intake.fakes import FakeDatabase
from tests.unit.intake.test_handlers import TRUST, command, database, events, published_story


def edit(story_id: uuid.UUID, token: str, **changes: object) -> EditStory:
    fields: dict[str, object] = {
        "story_id": story_id,
        "author_token": token,
        "title": "Kind nurses, and a long wait",
        "body": "They listened, but I waited six hours first.",
        "organisation_id": TRUST.id,
        "service_id": None,
        "tags": Tags(improve=["waiting times"]),
        "experienced_at": None,
    }
    fields.update(changes)
    return EditStory(**fields)  # type: ignore[arg-type]


def rejected(story_id: uuid.UUID, version: int = 1) -> StoryRejected:
    return StoryRejected(
        story_id=story_id,
        rejected_at=datetime.now(UTC),
        organisation=OrganisationRef(id=TRUST.id, name=TRUST.name),
        reason=RejectionReason.NOT_ABOUT_CARE,
        version=version,
    )


async def sent(db: FakeDatabase) -> tuple[uuid.UUID, str]:
    story, token = await handlers.submit_story(
        db.uow(), command(about_you=AboutYou(age_band="25_34"))
    )
    return story.id, token


async def test_an_edit_is_the_next_version_announced_with_the_authors_contact() -> None:
    db = await database()
    story_id, token = await sent(db)
    edited = await handlers.edit_story(db.uow(), edit(story_id, token), safeguarding_level="none")
    assert edited.version == 2
    first, again = events(db, StorySubmitted)
    assert again.story_id == first.story_id == story_id
    assert (first.version, again.version) == (1, 2)
    assert again.title == "Kind nurses, and a long wait"
    assert again.service is None and again.tags.improve == ["waiting times"]
    # The contact and name intake keeps for the story, though the edit did not send them.
    assert again.author == first.author and again.author.email == "a@example.org"
    # Its place in the queue: when it was first sent.
    assert again.submitted_at == first.submitted_at
    stored = db.state.stories[story_id].story
    assert (stored.body, stored.version, stored.safeguarding_level) == (
        "They listened, but I waited six hours first.",
        2,
        "none",
    )
    # No "about you" answers in the edit: the ones given stay.
    assert db.state.about_you == {story_id: AboutYou(age_band="25_34")}


async def test_an_edit_after_a_rejection_is_submitted_again() -> None:
    db = await database()
    story_id, token = await sent(db)
    await handlers.record_rejected(db.uow(), rejected(story_id))
    assert (await handlers.story_state(db.uow(), story_id)).status is StoryStatus.REJECTED
    await handlers.edit_story(db.uow(), edit(story_id, token))
    state = await handlers.authored_story(db.uow(), story_id, token)
    assert (state.status, state.rejection_reason, state.version) == (
        StoryStatus.SUBMITTED,
        None,
        2,
    )
    # Moderation's decision on the new version shows as it comes.
    await handlers.record_rejected(db.uow(), rejected(story_id, version=2))
    assert (await handlers.story_state(db.uow(), story_id)).status is StoryStatus.REJECTED


async def test_a_rejection_of_an_older_version_does_not_undo_an_edit() -> None:
    db = await database()
    story_id, token = await sent(db)
    # The author edits while version 1 waits; a moderator rejects version 1 meanwhile.
    await handlers.edit_story(db.uow(), edit(story_id, token))
    await handlers.record_rejected(db.uow(), rejected(story_id, version=1))
    assert (await handlers.story_state(db.uow(), story_id)).status is StoryStatus.SUBMITTED


async def test_an_edit_may_replace_the_about_you_answers() -> None:
    db = await database()
    story_id, token = await sent(db)
    await handlers.edit_story(db.uow(), edit(story_id, token, about_you=AboutYou(sex="female")))
    assert db.state.about_you == {story_id: AboutYou(sex="female")}
    await handlers.edit_story(db.uow(), edit(story_id, token, about_you=AboutYou()))
    assert db.state.about_you == {}


async def test_a_published_or_withdrawn_story_cannot_be_edited() -> None:
    db = await database()
    published_id, published_token = await published_story(db)
    with pytest.raises(StoryNotEditable) as refused:
        await handlers.edit_story(db.uow(), edit(published_id, published_token))
    assert refused.value.status is StoryStatus.PUBLISHED
    withdrawn_id, withdrawn_token = await sent(db)
    await handlers.withdraw_story(db.uow(), withdrawn_id, withdrawn_token)
    with pytest.raises(StoryNotEditable):
        await handlers.edit_story(db.uow(), edit(withdrawn_id, withdrawn_token))
    assert not [e for e in events(db, StorySubmitted) if e.version > 1]


@pytest.mark.parametrize(
    ("target", "changes", "error"),
    [
        ("other", {}, StoryNotFound),
        ("token", {}, NotTheAuthor),
        ("story", {"service_id": "NOPE"}, UnknownService),
    ],
)
async def test_a_refused_edit_writes_nothing(
    target: str, changes: dict[str, object], error: type[Exception]
) -> None:
    db = await database()
    story_id, token = await sent(db)
    before = db.state.stories[story_id].story
    wrong = edit(
        uuid.uuid4() if target == "other" else story_id,
        "not-the-token" if target == "token" else token,
        **changes,
    )
    with pytest.raises(error):
        await handlers.edit_story(db.uow(), wrong)
    assert db.state.stories[story_id].story == before
    assert len(events(db, StorySubmitted)) == 1


async def test_two_edits_at_once_make_two_versions_one_after_the_other() -> None:
    db = await database()
    story_id, token = await sent(db)
    await asyncio.gather(
        handlers.edit_story(db.uow(), edit(story_id, token, title="First")),
        handlers.edit_story(db.uow(), edit(story_id, token, title="Second")),
    )
    versions = sorted(e.version for e in events(db, StorySubmitted))
    assert versions == [1, 2, 3]
    assert db.state.stories[story_id].story.version == 3


def test_the_edit_body_is_the_submission_body_without_the_author() -> None:
    body = {
        "title": "Kind nurses",
        "body": "They listened.",
        "organisation_id": TRUST.id,
        "tags": {"good": ["kindness"]},
    }
    story = StoryEditIn.model_validate(body)
    made = edit_command(uuid.uuid4(), "token", story)
    assert (made.title, made.organisation_id, made.tags.good) == (
        "Kind nurses",
        TRUST.id,
        ["kindness"],
    )
    assert "author" not in StoryEditIn.model_json_schema()["properties"]
    with pytest.raises(ValueError, match="author cannot be changed"):
        StoryEditIn.model_validate(
            {**body, "author": {"relationship": "patient", "display_name": "Someone"}}
        )
    # Every rule of a submission applies (the words limit, the operator-only fields...).
    with pytest.raises(ValueError, match="operator"):
        StoryEditIn.model_validate({**body, "source": "healthwatch"})


async def test_an_approval_after_an_edit_shows_published_and_ends_editing() -> None:
    """The race: intake accepted an edit, then learnt moderation had already published
    the version before it. The author's page shows what is public: published."""
    db = await database()
    story_id, token = await sent(db)
    await handlers.edit_story(db.uow(), edit(story_id, token))
    story = db.state.stories[story_id].story
    await handlers.record_approved(
        db.uow(),
        [
            StoryApproved(
                story_id=story_id,
                published_at=datetime.now(UTC),
                title="Kind nurses",
                body="They listened.",
                organisation=story.organisation,
                author=PublicAuthor(display_name="A patient", relationship=Relationship.PATIENT),
            )
        ],
    )
    assert (await handlers.story_state(db.uow(), story_id)).status is StoryStatus.PUBLISHED
    with pytest.raises(StoryNotEditable):
        await handlers.edit_story(db.uow(), edit(story_id, token, title="Again"))
    # A rejection of either version cannot undo the publication.
    await handlers.record_rejected(db.uow(), rejected(story_id, version=2))
    assert (await handlers.story_state(db.uow(), story_id)).status is StoryStatus.PUBLISHED


async def test_an_edit_carries_the_language_it_is_written_in() -> None:
    db = await database()
    story_id, token = await sent(db)
    await handlers.edit_story(db.uow(), edit(story_id, token, language=StoryLanguage.WELSH))
    again = events(db, StorySubmitted)[-1]
    assert (again.language, again.version) == (StoryLanguage.WELSH, 2)
    assert db.state.stories[story_id].story.language is StoryLanguage.WELSH
    made = edit_command(
        story_id,
        token,
        StoryEditIn.model_validate(
            {"title": "t", "body": "b", "organisation_id": TRUST.id, "language": "cy"}
        ),
    )
    assert made.language is StoryLanguage.WELSH
