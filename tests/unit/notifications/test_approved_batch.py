"""story.approved under a backlog: the batch handler (`handlers.alert_stories_approved`,
set-based) ends exactly where handling each approval on its own ends."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from datetime import UTC, datetime

from candour_common.consumer import Delivered
from candour_common.events import (
    OrganisationRef,
    PublicAuthor,
    Relationship,
    ServiceRef,
    StoryApproved,
    StoryWithdrawn,
    Tags,
)
from candour_common.topics import Topic
from candour_notifications.domain import (
    Delivery,
    DeliveryKind,
    Frequency,
    Subscribe,
    SubscriptionKind,
)
from candour_notifications.entrypoints.consumers import subscriptions
from candour_notifications.service_layer import handlers
from tests.unit.notifications.fakes import FakeDatabase, FakeState
from tests.unit.notifications.test_handlers import (
    LINKS,
    MATERNITY,
    OPERATOR,
    ORG,
    _envelope,
    settings,
    submitted,
)

OTHER_ORG = OrganisationRef(id="RXB", name="Oakwood Community Trust")
EMERGENCY = ServiceRef(id="RXA-AE", name="Emergency")
NAMES = ("plain", "withdrawn", "twice", "already", "elsewhere", "author", "quiet", "early")


def approval(
    story_id: uuid.UUID,
    *,
    revision: int = 1,
    organisation: OrganisationRef = ORG,
    service: ServiceRef = MATERNITY,
    criticality: int = 1,
) -> StoryApproved:
    return StoryApproved(
        story_id=story_id,
        published_at=datetime.now(UTC),
        revision=revision,
        title=f"A story, revision {revision}",
        body="Something happened at the hospital.",
        organisation=organisation,
        service=service,
        author=PublicAuthor(display_name="A patient", relationship=Relationship.PATIENT),
        tags=Tags(good=["kindness"]),
        criticality=criticality,
    )


async def _subscribe(
    db: FakeDatabase,
    email: str,
    *,
    organisation_id: str = ORG.id,
    kind: SubscriptionKind = SubscriptionKind.STORIES,
    frequency: Frequency = Frequency.IMMEDIATE,
    service_ids: tuple[str, ...] = (),
    min_criticality: int | None = None,
) -> None:
    command = Subscribe(
        email=email,
        organisation_id=organisation_id,
        frequency=frequency,
        kind=kind,
        service_ids=list(service_ids),
        min_criticality=min_criticality,
    )
    await handlers.subscribe(db.uow(), OPERATOR, command)


async def _history(ids: dict[str, uuid.UUID]) -> FakeDatabase:
    """Subscribers of every kind, and what came before the batch."""
    db = FakeDatabase()
    await _subscribe(db, "all@riverside.example")
    await _subscribe(db, "emergency@riverside.example", service_ids=("RXA-AE",))
    await _subscribe(db, "critical@riverside.example", min_criticality=3)
    await _subscribe(
        db, "daily@riverside.example", frequency=Frequency.DAILY, service_ids=("RXA-MAT",)
    )
    await _subscribe(db, "responses@riverside.example", kind=SubscriptionKind.RESPONSES)
    await _subscribe(db, "other@oakwood.example", organisation_id=OTHER_ORG.id)
    await handlers.forget_withdrawn_story(
        db.uow(),
        StoryWithdrawn(
            story_id=ids["withdrawn"], withdrawn_at=datetime.now(UTC), organisation_id=ORG.id
        ),
    )
    # Alerted (and kept for a digest) at revision 1; its edit in the batch moves it.
    await handlers.alert_story_approved(
        db.uow(), approval(ids["already"]), event_id=uuid.uuid4(), links=LINKS
    )
    for name, email, notify in (
        ("author", "author@home.example", True),
        ("quiet", "quiet@home.example", False),
        ("twice", "twice@home.example", True),
    ):
        await handlers.store_author_contact(
            db.uow(), submitted(ids[name], email, notify=notify), links=LINKS
        )
    return db


def _batch(ids: dict[str, uuid.UUID]) -> list[tuple[StoryApproved, uuid.UUID]]:
    events = [
        approval(ids["plain"]),
        approval(ids["withdrawn"]),
        approval(ids["twice"]),
        approval(ids["already"], revision=2, service=EMERGENCY, criticality=4),
        approval(
            ids["elsewhere"], organisation=OTHER_ORG, service=ServiceRef(id="RXB-GP", name="GP")
        ),
        approval(ids["twice"], revision=2, service=EMERGENCY, criticality=3),
        approval(ids["author"]),
        approval(ids["quiet"]),
        approval(ids["early"]),  # its story.submitted comes after
    ]
    return [(event, uuid.uuid4()) for event in events]


ZERO = uuid.UUID(int=0)


def _deliveries(state: FakeState) -> list[Delivery]:
    """The emails owed, without their random row ids (and in a stable order)."""
    return sorted(
        (dataclasses.replace(d, id=ZERO) for d in state.deliveries),
        key=lambda d: (str(d.event_id), d.kind.value, d.recipient),
    )


def _alerted(state: FakeState, story_id: uuid.UUID) -> list[str]:
    return sorted(
        d.recipient
        for d in state.deliveries
        if d.story_id == story_id and d.kind is DeliveryKind.STORY_ALERT
    )


async def test_a_mixed_batch_of_approvals_ends_exactly_where_one_by_one_ends() -> None:
    ids = {name: uuid.uuid4() for name in NAMES}
    one_by_one = await _history(ids)
    together = FakeDatabase()
    together.state = copy.deepcopy(one_by_one.state)
    batch = _batch(ids)

    owed_alone = 0
    for event, event_id in batch:
        owed_alone += await handlers.alert_story_approved(
            one_by_one.uow(), event, event_id=event_id, links=LINKS
        )
    owed_together = await handlers.alert_stories_approved(together.uow(), batch, links=LINKS)

    # The story's submission after its publication is told "published" either way, once.
    for db in (one_by_one, together):
        await handlers.store_author_contact(
            db.uow(), submitted(ids["early"], "early@home.example"), links=LINKS
        )
    assert owed_together == owed_alone
    assert _deliveries(together.state) == _deliveries(one_by_one.state)
    for name in ("published", "authors", "waiting", "organisations", "tags", "withdrawn"):
        assert getattr(together.state, name) == getattr(one_by_one.state, name), name

    state = together.state
    assert _alerted(state, ids["withdrawn"]) == []
    assert _alerted(state, ids["plain"]) == ["all@riverside.example"]
    assert _alerted(state, ids["elsewhere"]) == ["other@oakwood.example"]
    # The edit tells only who was not told about revision 1; the digest no longer keeps it.
    assert _alerted(state, ids["already"]) == [
        "all@riverside.example",
        "critical@riverside.example",
        "emergency@riverside.example",
    ]
    assert _alerted(state, ids["twice"]) == _alerted(state, ids["already"])
    assert {w.story_id for w in state.waiting} == {
        ids["plain"],
        ids["author"],
        ids["quiet"],
        ids["early"],
    }
    assert state.published[ids["twice"]].revision == 2
    assert ids["withdrawn"] not in state.published
    published_to = sorted(
        d.recipient for d in state.deliveries if d.kind is DeliveryKind.AUTHOR_PUBLISHED
    )
    assert published_to == [
        "author@home.example",
        "early@home.example",
        "quiet@home.example",
        "twice@home.example",
    ]
    assert set(state.authors) == {ids["author"], ids["twice"], ids["early"]}  # quiet: gone
    assert all(state.authors[s].told_published for s in state.authors)


async def test_the_consumer_hands_a_batch_of_approvals_to_the_batch_handler_and_wakes_once() -> (
    None
):
    ids = {name: uuid.uuid4() for name in NAMES}
    db = await _history(ids)
    woken: list[str] = []
    subs = subscriptions(settings(), wake_worker=lambda: woken.append("woken"))
    handle_batch = subs.get(Topic.STORY_APPROVED).handle_batch
    assert handle_batch is not None
    batch = [approval(ids["plain"]), approval(ids["elsewhere"], organisation=OTHER_ORG)]
    uow = db.uow()
    async with uow:  # as the consumer holds it open around a batch
        await handle_batch(uow, [Delivered(e, _envelope(e)) for e in batch])
        assert woken == []  # not committed yet
    assert woken == ["woken"]
    assert _alerted(db.state, ids["plain"]) == ["all@riverside.example"]
    assert _alerted(db.state, ids["elsewhere"]) == ["other@oakwood.example"]
