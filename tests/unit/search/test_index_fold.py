"""The in-memory fold a rebuild loads from: the rules of the live handlers, in order.

(tests/integration/search/test_bulk_rebuild.py compares it with the live handlers
table by table; these name the rules one by one.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from candour_common.events import (
    OrganisationRef,
    PublicAuthor,
    Relationship,
    Responder,
    ResponsePosted,
    StoryApproved,
    StoryWithdrawn,
)
from candour_common.topics import Topic
from candour_search.index_fold import IndexFold

AT = datetime(2025, 3, 1, 12, tzinfo=UTC)
ORG = OrganisationRef(id="RXA", name="Riverside")


def story(story_id: uuid.UUID, revision: int = 1, title: str = "A story") -> StoryApproved:
    return StoryApproved(
        story_id=story_id,
        published_at=AT,
        revision=revision,
        title=title,
        body="Body.",
        organisation=ORG,
        author=PublicAuthor(display_name="A patient", relationship=Relationship.PATIENT),
    )


def reply(
    story_id: uuid.UUID,
    response_id: uuid.UUID,
    *,
    version: int = 1,
    body: str = "Thank you.",
    posted_at: datetime = AT,
    deleted: bool = False,
    change: str | None = None,
) -> ResponsePosted:
    return ResponsePosted.model_validate(
        {
            "story_id": story_id,
            "response_id": response_id,
            "posted_at": posted_at,
            "organisation": ORG,
            "responder": Responder(display_name="Sam", role="Lead"),
            "body": "" if deleted else body,
            "version": version,
            "deleted": deleted,
            "change": change,
        }
    )


def withdrawal(story_id: uuid.UUID, at: datetime = AT) -> StoryWithdrawn:
    return StoryWithdrawn(story_id=story_id, withdrawn_at=at, organisation_id=ORG.id)


def apply(fold: IndexFold, *events: StoryApproved | ResponsePosted | StoryWithdrawn) -> None:
    for event in events:
        fold.apply(event, event_id=uuid.uuid4())


def kept(fold: IndexFold) -> dict[int, tuple[object, ...]]:
    return dict(fold.kept_stories())


def test_only_a_newer_revision_replaces_a_story_and_ties_keep_the_first() -> None:
    fold = IndexFold(consumer="search")
    s = uuid.uuid4()
    apply(fold, story(s, 2, "second"), story(s, 1, "first, late"), story(s, 2, "tie"))
    staged = fold.take_staged()
    assert [x.event.title for x in staged] == ["second"]
    assert list(kept(fold)) == [staged[0].number]
    apply(fold, story(s, 3, "third"))
    [third] = fold.take_staged()
    assert list(kept(fold)) == [third.number]


def test_a_revision_superseded_before_it_is_staged_is_never_staged() -> None:
    """Each staged revision costs PostgreSQL its document: one that a later revision (or
    a withdrawal) replaced before the batch was written is left out, and the story ends
    with its last revision."""
    fold = IndexFold(consumer="search")
    edited, gone = uuid.uuid4(), uuid.uuid4()
    apply(fold, story(edited, 1, "first"), story(gone, 1, "withdrawn soon"))
    apply(fold, story(edited, 2, "second"), story(edited, 3, "third"), withdrawal(gone))
    staged = fold.take_staged()
    assert [(x.event.story_id, x.event.title) for x in staged] == [(edited, "third")]
    assert list(kept(fold)) == [staged[0].number]


def test_a_revision_staged_earlier_stays_until_a_later_one_replaces_it() -> None:
    fold = IndexFold(consumer="search")
    s = uuid.uuid4()
    apply(fold, story(s, 1, "first"))
    [first] = fold.take_staged()
    apply(fold, story(s, 2, "second"))
    [second] = fold.take_staged()
    assert second.event.title == "second"
    assert list(kept(fold)) == [second.number] != [first.number]


def test_the_inbox_applies_an_event_id_once() -> None:
    fold = IndexFold(consumer="search")
    s, event_id = uuid.uuid4(), uuid.uuid4()
    fold.apply(story(s, 1), event_id=event_id)
    fold.apply(story(s, 2), event_id=event_id)  # a redelivery: ignored
    assert [x.event.revision for x in fold.take_staged()] == [1]
    assert list(fold.inbox.items()) == [(event_id, "story.approved")]


def test_a_withdrawal_keeps_a_story_out_for_good_and_the_first_time_stays() -> None:
    fold = IndexFold(consumer="search")
    s, r = uuid.uuid4(), uuid.uuid4()
    apply(fold, withdrawal(s), story(s), reply(s, r))  # withdrawn before it arrived
    later = uuid.uuid4()
    apply(fold, story(later), reply(later, r := uuid.uuid4()), withdrawal(later, AT))
    apply(fold, withdrawal(later, AT + timedelta(days=1)), story(later, 5))
    assert kept(fold) == {}
    assert fold.responses == {} and fold.versions == {}
    assert fold.withdrawn == {s: AT, later: AT}
    assert fold.forgotten == {s, later}
    assert len(fold.inbox) == 8


def test_responses_aggregate_in_posting_order_with_versions_and_deletions() -> None:
    fold = IndexFold(consumer="search")
    s, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    apply(
        fold,
        reply(s, second, body="Later reply.", posted_at=AT + timedelta(hours=2), change="made"),
        story(s),
        reply(s, first, body="First reply.", posted_at=AT + timedelta(hours=1)),
        reply(s, first, version=3, body="Corrected.", posted_at=AT, change="planned"),
        reply(s, first, version=2, body="Older correction, late."),
    )
    [(number, aggregates)] = kept(fold).items()
    # The correction keeps the first posting time (as the upsert does).
    assert aggregates == (2, AT + timedelta(hours=1), True, True, "Corrected.\nLater reply.")
    apply(fold, reply(s, second, version=2, deleted=True))
    assert kept(fold)[number] == (1, AT + timedelta(hours=1), True, False, "Corrected.")
    apply(fold, reply(s, second, version=1, body="Back from the dead?"))  # older: ignored
    assert kept(fold)[number][0] == 1
    assert fold.versions[second].deleted


def test_tombstones_remove_a_response_all_of_a_story_s_or_the_story() -> None:
    fold = IndexFold(consumer="search")
    s, r1, r2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    apply(fold, story(s), reply(s, r1), reply(s, r2))
    fold.apply_tombstone(Topic.RESPONSE_POSTED, f"{s}/{r1}", AT)
    assert set(fold.responses) == {r2}
    assert set(fold.versions) == {r1, r2}  # versions stay: an old version stays out
    fold.apply_tombstone(Topic.RESPONSE_POSTED, str(s), AT)
    assert fold.responses == {}
    [(_, aggregates)] = kept(fold).items()
    assert aggregates == (0, None, False, False, "")
    fold.apply_tombstone(Topic.STORY_APPROVED, str(s), AT)
    assert kept(fold) == {}
    assert fold.withdrawn == {s: AT}
    assert fold.forgotten == set()  # only a withdrawal event forgets themes, as live
