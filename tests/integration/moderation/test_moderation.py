"""moderation against real Kafka and PostgreSQL: queue, decisions, events, withdrawal, auth."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from candour_common.auth import Role, issue_token
from candour_common.cloudevents import Envelope
from candour_common.events import (
    AuthorContact,
    Event,
    OrganisationRef,
    Relationship,
    ServiceRef,
    StorySubmitted,
    StoryWithdrawn,
    Tags,
)
from candour_common.topics import Topic, TopicNames
from candour_moderation.bootstrap import create_app
from candour_moderation.settings import ModerationSettings
from tests.infra import admin_get, read_topic, serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SECRET = "moderation-test-secret-0123456789abcdef"
AUTHOR_EMAIL = "sam.private@example.org"
T = TypeVar("T")


def bearer(role: Role, subject: str = "mod-alice", org: str | None = None) -> dict[str, str]:
    token = issue_token(SECRET, role=role, subject=subject, organisation_id=org)
    return {"Authorization": f"Bearer {token}"}


ALICE = bearer(Role.MODERATOR, "mod-alice")
BOB = bearer(Role.MODERATOR, "mod-bob")


def story(body: str, *, title: str = "My care") -> StorySubmitted:
    return StorySubmitted(
        story_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        title=title,
        body=body,
        organisation=OrganisationRef(id="TAD", name="Bradford District Care NHS Foundation Trust"),
        service=ServiceRef(id="TAD-CMHT", name="Community mental health team"),
        author=AuthorContact(
            display_name="Sam",
            relationship=Relationship.PATIENT,
            email=AUTHOR_EMAIL,
            notify_on_response=True,
        ),
        tags=Tags(good=["kindness"]),
    )


async def publish(bootstrap: str, topics: TopicNames, *events: Event) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            headers = Envelope.new(event, service="story-intake").headers()
            await producer.send_and_wait(
                topics.name(event.topic),
                event.model_dump_json().encode(),
                key=str(event.story_id).encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
    finally:
        await producer.stop()


async def eventually(fetch: Callable[[], Awaitable[T | None]], what: str) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 45
    while True:
        result = await fetch()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def settings_for(
    create_database: Any, kafka_bootstrap: str, topics: TopicNames
) -> ModerationSettings:
    return ModerationSettings(
        database_url=await create_database("moderation"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topics.prefix,
        jwt_secret=SECRET,
        outbox_poll_interval=0.2,
    )


async def queued(client: httpx.AsyncClient, *story_ids: uuid.UUID) -> list[dict[str, Any]] | None:
    response = await client.get("/v1/queue", headers=ALICE, params={"limit": 100})
    assert response.status_code == 200, response.text
    wanted = {str(s) for s in story_ids}
    items = [i for i in response.json()["items"] if i["story_id"] in wanted]
    return items if len(items) == len(wanted) else None


async def test_submitted_stories_appear_in_the_queue_screened_and_in_priority_order(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await settings_for(create_database, kafka_bootstrap, topics)
    calm = story("Dr Patel explained everything. Email me at sam.t@example.org.")
    concern = story("Mum developed pressure sores on the ward.")
    serious = story("Since discharge I want to kill myself.")
    app = create_app(settings)
    async with serving(app) as client:
        assert isinstance(client, httpx.AsyncClient)
        await publish(kafka_bootstrap, topics, calm, concern, serious)
        items = await eventually(
            lambda: queued(client, calm.story_id, concern.story_id, serious.story_id),
            "three stories in the queue",
        )
        assert [i["story_id"] for i in items] == [
            str(serious.story_id),
            str(concern.story_id),
            str(calm.story_id),
        ]
        first = items[0]
        assert first["status"] == "pending"
        assert first["screening"]["safeguarding"]["level"] == "serious"
        assert first["screening"]["safeguarding"]["matches"][0]["text"] == "kill myself"
        assert items[1]["screening"]["safeguarding"]["level"] == "concern"
        calm_item = items[2]
        assert calm_item["organisation"] == {"id": "TAD", "name": calm.organisation.name}
        assert calm_item["service"]["id"] == "TAD-CMHT"
        assert calm_item["claimed_by"] is None
        redactions = {(r["text"], r["kind"]) for r in calm_item["screening"]["redactions"]}
        assert redactions == {("Patel", "person_name"), ("sam.t@example.org", "email")}
        for r in calm_item["screening"]["redactions"]:
            assert calm.body[r["start"] : r["end"]] == r["text"]
            assert r["replacement"]
        assert calm_item["suggested"]["body"] == (
            "Dr [name] explained everything. Email me at [email address]."
        )
        assert "author" in calm_item
        assert "email" not in json.dumps(calm_item["author"])

        page_one = (await client.get("/v1/queue", headers=ALICE, params={"limit": 2})).json()
        assert len(page_one["items"]) == 2
        assert page_one["next_cursor"]
        page_two = (
            await client.get(
                "/v1/queue", headers=ALICE, params={"limit": 2, "cursor": page_one["next_cursor"]}
            )
        ).json()
        assert [i["story_id"] for i in page_two["items"]] == [str(calm.story_id)]
        assert page_two["next_cursor"] is None

        detail = await client.get(f"/v1/queue/{calm.story_id}", headers=ALICE)
        assert detail.status_code == 200
        assert [a["action"] for a in detail.json()["audit"]] == ["received"]

        scrape = (await admin_get(app, "/metrics")).text
        for priority in ("serious", "concern", "none"):
            assert f'candour_moderation_queue_depth{{priority="{priority}"}} 1.0' in scrape

        bad_cursor = await client.get("/v1/queue", headers=ALICE, params={"cursor": "nope"})
        assert bad_cursor.status_code == 422
        assert bad_cursor.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in bad_cursor.json()["errors"]] == ["query.cursor"]

    # The author's contact was never stored.
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        rows = await conn.fetch("SELECT * FROM queue_items")
        audit = await conn.fetch("SELECT detail::text FROM audit_log")
    finally:
        await conn.close()
    dumped = json.dumps([{k: str(v) for k, v in r.items()} for r in rows]) + str(audit)
    assert AUTHOR_EMAIL not in dumped


async def test_approval_emits_exactly_one_redacted_story_approved_even_when_retried(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await settings_for(create_database, kafka_bootstrap, topics)
    submitted = story(
        "Nurse Jane Brown was wonderful. Write to me at sam.taylor@example.org or 07911 123456.",
        title="Thank you Nurse Jane",
    )
    decision = {"decision": "approve", "criticality": 2, "apply_suggested": True}
    app = create_app(settings)
    async with serving(app) as client:
        assert isinstance(client, httpx.AsyncClient)
        await publish(kafka_bootstrap, topics, submitted)
        await eventually(lambda: queued(client, submitted.story_id), "the story in the queue")

        claim = await client.post(f"/v1/queue/{submitted.story_id}/claim", headers=ALICE)
        assert claim.status_code == 200, claim.text
        assert claim.json()["claimed_by"] == "mod-alice"
        taken = await client.post(f"/v1/queue/{submitted.story_id}/claim", headers=BOB)
        assert taken.status_code == 409
        assert taken.headers["content-type"] == "application/problem+json"
        by_bob = await client.post(
            f"/v1/queue/{submitted.story_id}/decision", headers=BOB, json=decision
        )
        assert by_bob.status_code == 409

        url = f"/v1/queue/{submitted.story_id}/decision"
        first, second = await asyncio.gather(
            client.post(url, headers=ALICE, json=decision),
            client.post(url, headers=ALICE, json=decision),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 409], (
            first.text,
            second.text,
        )
        ok = first if first.status_code == 200 else second
        assert ok.json()["status"] == "approved"
        retried = await client.post(url, headers=ALICE, json=decision)
        assert retried.status_code == 409

        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.STORY_APPROVED), at_least=1, settle=2.0
        )
        detail = (await client.get(f"/v1/queue/{submitted.story_id}", headers=ALICE)).json()
        scrape = (await admin_get(app, "/metrics")).text

    assert len(records) == 1
    record = records[0]
    story_id = str(submitted.story_id)
    assert record.key == story_id.encode()
    assert record.headers["ce_type"] == "org.candour.story.approved.v1"
    assert record.headers["ce_subject"] == story_id
    assert record.headers["ce_source"] == "/candour/moderation"
    assert record.headers["ce_specversion"] == "1.0"
    assert record.headers["content-type"] == "application/json"
    assert record.headers["ce_id"] == ok.json()["event_id"]
    assert record.value is not None
    raw = record.value.decode()
    assert "@" not in raw  # no email address of any kind, the author's or in the text
    assert "07911" not in raw
    assert "Jane" not in raw
    data = json.loads(raw)
    assert data["title"] == "Thank you Nurse [name]"
    assert data["body"] == (
        "Nurse [name] was wonderful. Write to me at [email address] or [phone number]."
    )
    assert data["criticality"] == 2
    assert data["author"] == {"display_name": "Sam", "relationship": "patient"}
    assert data["organisation"]["id"] == "TAD"

    assert detail["status"] == "approved"
    assert detail["decided_by"] == "mod-alice"
    actions = [a["action"] for a in detail["audit"]]
    assert actions == ["received", "claimed", "edited", "approved"]
    received, _, edited, approved = detail["audit"]
    assert received["detail"]["body"] == submitted.body  # the original is kept
    assert received["detail"]["title"] == submitted.title
    assert edited["actor"] == "mod-alice"
    assert not edited["automatic"]
    assert [(e["field"], e["source"]) for e in edited["detail"]["edits"]] == [
        ("title", "suggested_redactions"),
        ("body", "suggested_redactions"),
    ]
    body_changes = edited["detail"]["edits"][1]["changes"]
    assert [(c["before"], c["after"]) for c in body_changes] == [
        ("Jane Brown", "[name]"),
        ("sam.taylor@example.org", "[email address]"),
        ("07911 123456", "[phone number]"),
    ]
    for change in body_changes:
        assert submitted.body[change["start"] : change["end"]] == change["before"]
    assert approved["actor"] == "mod-alice"
    assert approved["detail"]["changed"] == ["title", "body"]
    assert approved["detail"]["published"]["body"] == data["body"]
    assert (
        'candour_moderation_time_to_decision_seconds_count{automatic="false",decision="approved"}'
        " 1.0" in scrape
    )
    assert 'candour_moderation_queue_depth{priority="none"} 0.0' in scrape


async def test_rejection_emits_story_rejected_with_the_reason(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await settings_for(create_database, kafka_bootstrap, topics)
    submitted = story("Buy cheap supplements at my shop!")
    async with serving(create_app(settings)) as client:
        assert isinstance(client, httpx.AsyncClient)
        await publish(kafka_bootstrap, topics, submitted)
        await eventually(lambda: queued(client, submitted.story_id), "the story in the queue")
        response = await client.post(
            f"/v1/queue/{submitted.story_id}/decision",
            headers=BOB,
            json={"decision": "reject", "reason": "commercial", "note": "advert"},
        )
        assert response.status_code == 200, response.text
        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.STORY_REJECTED), at_least=1, settle=1.0
        )
    assert len(records) == 1
    assert records[0].headers["ce_type"] == "org.candour.story.rejected.v1"
    assert records[0].value is not None
    data = json.loads(records[0].value)
    assert data["reason"] == "commercial"
    assert "note" not in data
    assert "advert" not in records[0].value.decode()


async def test_two_moderators_racing_to_claim_exactly_one_wins(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await settings_for(create_database, kafka_bootstrap, topics)
    submitted = story("All good.")
    async with serving(create_app(settings)) as client:
        assert isinstance(client, httpx.AsyncClient)
        await publish(kafka_bootstrap, topics, submitted)
        await eventually(lambda: queued(client, submitted.story_id), "the story in the queue")
        url = f"/v1/queue/{submitted.story_id}/claim"
        responses = await asyncio.gather(
            *(client.post(url, headers=bearer(Role.MODERATOR, f"mod-{n}")) for n in range(6))
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [200] + [409] * 5
        winner = next(r for r in responses if r.status_code == 200).json()["claimed_by"]
        items = await queued(client, submitted.story_id)
        assert items is not None
        assert items[0]["claimed_by"] == winner
        released = await client.delete(url, headers=bearer(Role.MODERATOR, winner))
        assert released.status_code == 200
        assert (await client.post(url, headers=ALICE)).status_code == 200


async def test_a_withdrawn_story_leaves_the_queue_and_its_text_is_erased(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await settings_for(create_database, kafka_bootstrap, topics)
    submitted = story("Dr Patel was kind to me.")
    async with serving(create_app(settings)) as client:
        assert isinstance(client, httpx.AsyncClient)
        await publish(kafka_bootstrap, topics, submitted)
        await eventually(lambda: queued(client, submitted.story_id), "the story in the queue")
        await publish(
            kafka_bootstrap,
            topics,
            StoryWithdrawn(
                story_id=submitted.story_id, withdrawn_at=datetime.now(UTC), organisation_id="TAD"
            ),
        )

        async def withdrawn() -> dict[str, Any] | None:
            body = (await client.get(f"/v1/queue/{submitted.story_id}", headers=ALICE)).json()
            return body if body["status"] == "withdrawn" else None

        detail = await eventually(withdrawn, "the withdrawal")
        assert await queued(client, submitted.story_id) is None
        decision = await client.post(
            f"/v1/queue/{submitted.story_id}/decision",
            headers=ALICE,
            json={"decision": "approve", "criticality": 0},
        )
        assert decision.status_code == 409
    assert detail["title"] is None
    assert detail["body"] is None
    assert detail["screening"] is None
    assert [a["action"] for a in detail["audit"]] == ["received", "withdrawn"]
    assert all(a["detail"] is None for a in detail["audit"])
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        dump = str(await conn.fetch("SELECT * FROM queue_items")) + str(
            await conn.fetch("SELECT * FROM audit_log")
        )
    finally:
        await conn.close()
    assert "Patel" not in dump


def unreachable_kafka() -> str:
    """An address where no broker listens (a port just freed), so a relay cannot publish."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"127.0.0.1:{port}"


async def unsent(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT event_id FROM outbox WHERE sent_at IS NULL")
    finally:
        await conn.close()
    return [str(r["event_id"]) for r in rows]


async def test_a_decision_committed_before_a_restart_is_published_exactly_once(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await settings_for(create_database, kafka_bootstrap, topics)
    dsn = settings.database_url.get_secret_value()
    submitted = story("The physio was great.")
    async with serving(create_app(settings)) as client:
        assert isinstance(client, httpx.AsyncClient)
        await publish(kafka_bootstrap, topics, submitted)
        await eventually(lambda: queued(client, submitted.story_id), "the story in the queue")

    # The same service on the same database, but its broker is gone: the decision
    # commits (state, audit and outbox row) and the process stops before any
    # publish; its drain at shutdown fails too, as a crash would.
    cut_off = settings.model_copy(update={"kafka_bootstrap": unreachable_kafka()})
    async with serving(create_app(cut_off)) as client:
        assert isinstance(client, httpx.AsyncClient)
        decided = await client.post(
            f"/v1/queue/{submitted.story_id}/decision",
            headers=ALICE,
            json={"decision": "approve", "criticality": 1},
        )
        assert decided.status_code == 200, decided.text
    event_id = decided.json()["event_id"]
    assert await unsent(dsn) == [event_id]
    nothing = await read_topic(
        kafka_bootstrap, topics.name(Topic.STORY_APPROVED), at_least=1, timeout=2
    )
    assert nothing == []

    # A fresh start publishes it; another start does not publish it again.
    async with serving(create_app(settings)):
        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.STORY_APPROVED), at_least=1, settle=1.5
        )
        await eventually(lambda: _none_unsent(dsn), "the outbox row marked sent")
    async with serving(create_app(settings)):
        await asyncio.sleep(1.0)  # time for a (wrong) second publish to happen
    again = await read_topic(
        kafka_bootstrap, topics.name(Topic.STORY_APPROVED), at_least=1, settle=1.0
    )
    assert len(records) == 1
    assert len(again) == 1
    assert records[0].headers["ce_id"] == event_id
    assert records[0].headers["ce_subject"] == str(submitted.story_id)


async def _none_unsent(dsn: str) -> bool:
    return not await unsent(dsn)


async def test_auto_approval_publishes_clean_stories_and_queues_flagged_ones(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = (await settings_for(create_database, kafka_bootstrap, topics)).model_copy(
        update={"auto_approve": True}
    )
    clean = story("The staff were patient and explained every step.", title="Good care")
    named = story("Dr Patel explained every step.")
    concern = story("Mum developed pressure sores on the ward.")
    app = create_app(settings)
    async with serving(app) as client:
        assert isinstance(client, httpx.AsyncClient)
        await publish(kafka_bootstrap, topics, clean, named, concern)
        await eventually(
            lambda: queued(client, named.story_id, concern.story_id), "flagged stories queued"
        )
        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.STORY_APPROVED), at_least=1, settle=1.5
        )
        detail = (await client.get(f"/v1/queue/{clean.story_id}", headers=ALICE)).json()
        pending = (await client.get("/v1/queue", headers=ALICE)).json()["items"]
        scrape = (await admin_get(app, "/metrics")).text

    assert len(records) == 1
    assert records[0].headers["ce_subject"] == str(clean.story_id)
    assert records[0].value is not None
    data = json.loads(records[0].value)
    assert data["criticality"] is None
    assert (data["title"], data["body"]) == (clean.title, clean.body)
    assert AUTHOR_EMAIL not in records[0].value.decode()

    assert detail["status"] == "approved"
    assert detail["decided_by"] == "system"
    assert [(a["action"], a["actor"], a["automatic"]) for a in detail["audit"]] == [
        ("received", "screening", False),
        ("approved", "system", True),
    ]
    assert detail["audit"][1]["detail"]["event_id"] == records[0].headers["ce_id"]
    assert {i["story_id"] for i in pending} == {str(named.story_id), str(concern.story_id)}
    assert (
        'candour_moderation_time_to_decision_seconds_count{automatic="true",decision="approved"}'
        " 1.0" in scrape
    )
    assert 'candour_moderation_queue_depth{priority="concern"} 1.0' in scrape
    assert 'candour_moderation_queue_depth{priority="none"} 1.0' in scrape


async def test_a_backlog_is_handled_in_batches_and_each_story_once(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    """Stories waiting before moderation starts arrive in batches (one unit of work each,
    story.submitted's batch handler): each is queued and approved exactly once, though
    the backlog holds some events twice (a redelivery: the same event id, stopped by
    the inbox) and some stories twice under new event ids (a producer's retry)."""
    settings = (await settings_for(create_database, kafka_bootstrap, topics)).model_copy(
        update={"auto_approve": True}
    )
    stories = [story(f"The staff were patient and kind, visit {n}.") for n in range(40)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for n, event in enumerate(stories):
            envelope = Envelope.new(event, service="story-intake")
            copies = [envelope, envelope] if n % 8 == 0 else [envelope]
            if n % 8 == 1:
                copies.append(Envelope.new(event, service="story-intake"))
            for sent in copies:
                await producer.send_and_wait(
                    topics.name(Topic.STORY_SUBMITTED),
                    event.model_dump_json().encode(),
                    key=str(event.story_id).encode(),
                    headers=[(k, v.encode()) for k, v in sent.headers().items()],
                )
    finally:
        await producer.stop()

    app = create_app(settings)
    async with serving(app):
        records = await read_topic(
            kafka_bootstrap,
            topics.name(Topic.STORY_APPROVED),
            at_least=len(stories),
            timeout=120,
            settle=1.5,
        )
        scrape = (await admin_get(app, "/metrics")).text
    dsn = settings.database_url.get_secret_value()
    conn = await asyncpg.connect(dsn)
    try:
        received = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'received'")
        queue_rows = await conn.fetchval("SELECT count(*) FROM queue_items")
    finally:
        await conn.close()

    assert sorted(r.headers["ce_subject"] for r in records) == sorted(
        str(s.story_id) for s in stories
    )
    assert (queue_rows, received) == (len(stories), len(stories))
    # Batches were handled together: more records than transactions.
    batches = _metric(scrape, 'candour_consumer_batch_records_count{service="moderation"}')
    handled = _metric(scrape, 'candour_consumer_batch_records_sum{service="moderation"}')
    assert handled > batches >= 1


def _metric(scrape: str, name: str) -> float:
    for line in scrape.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in the scrape")


async def test_auth_problems_and_bad_input(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await settings_for(create_database, kafka_bootstrap, topics)
    submitted = story("Fine.")
    async with serving(create_app(settings)) as client:
        assert isinstance(client, httpx.AsyncClient)
        no_token = await client.get("/v1/queue")
        assert no_token.status_code == 401
        assert no_token.headers["content-type"] == "application/problem+json"
        forged = await client.get("/v1/queue", headers={"Authorization": "Bearer not.a.jwt"})
        assert forged.status_code == 401
        staff = bearer(Role.STAFF, "staff-1", org="TAD")
        assert (await client.get("/v1/queue", headers=staff)).status_code == 403
        assert (
            await client.post(
                f"/v1/queue/{uuid.uuid4()}/decision",
                headers=staff,
                json={"decision": "reject", "reason": "other"},
            )
        ).status_code == 403
        operator = bearer(Role.OPERATOR, "op")
        assert (await client.get("/v1/queue", headers=operator)).status_code == 200

        unknown = uuid.uuid4()
        assert (await client.get(f"/v1/queue/{unknown}", headers=ALICE)).status_code == 404
        assert (await client.post(f"/v1/queue/{unknown}/claim", headers=ALICE)).status_code == 404
        missing = await client.post(
            f"/v1/queue/{unknown}/decision",
            headers=ALICE,
            json={"decision": "approve", "criticality": 1},
        )
        assert missing.status_code == 404
        assert (await client.get("/v1/queue/not-a-uuid", headers=ALICE)).status_code == 422

        await publish(kafka_bootstrap, topics, submitted)
        await eventually(lambda: queued(client, submitted.story_id), "the story in the queue")
        url = f"/v1/queue/{submitted.story_id}/decision"
        for body, field in [
            ({"decision": "approve", "criticality": 9}, "body.criticality"),
            ({"decision": "approve"}, "body.criticality"),
            ({"decision": "reject", "reason": "boring"}, "body.reason"),
            ({"decision": "maybe"}, "body.decision"),
            ({"criticality": 1}, "body.decision"),
            ({"decision": "approve", "criticality": 1, "title": ""}, "body.title"),
            ({"decision": "approve", "criticality": 1, "oops": 1}, "body.oops"),
        ]:
            response = await client.post(url, headers=ALICE, json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert field in [e["field"] for e in response.json()["errors"]], response.json()
        malformed = await client.post(
            url, headers={**ALICE, "content-type": "application/json"}, content=b"{nope"
        )
        assert malformed.status_code == 400
        bad_status = await client.get("/v1/queue", headers=ALICE, params={"status": "lost"})
        assert bad_status.status_code == 422
        openapi = (await client.get("/openapi.json")).json()
        assert "/v1/queue/{story_id}/decision" in openapi["paths"]


async def test_an_anonymous_story_keeps_its_author_through_moderation(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    """A story without a display name is still told by someone: the queue item keeps the
    author's relationship and story.approved carries it, with no name."""
    settings = await settings_for(create_database, kafka_bootstrap, topics)
    anonymous = story("The ward was calm and the staff were kind.").model_copy(
        update={"author": AuthorContact(relationship=Relationship.CARER)}
    )
    decision = {"decision": "approve", "criticality": 1, "apply_suggested": True}
    async with serving(create_app(settings)) as client:
        await publish(kafka_bootstrap, topics, anonymous)
        await eventually(lambda: queued(client, anonymous.story_id), "the story in the queue")
        detail = (await client.get(f"/v1/queue/{anonymous.story_id}", headers=ALICE)).json()
        await client.post(f"/v1/queue/{anonymous.story_id}/claim", headers=ALICE)
        url = f"/v1/queue/{anonymous.story_id}/decision"
        assert (await client.post(url, headers=ALICE, json=decision)).status_code == 200
        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.STORY_APPROVED), at_least=1, settle=1.0
        )
    assert detail["author"] == {"display_name": None, "relationship": "carer"}
    [record] = records
    assert record.value is not None
    assert json.loads(record.value)["author"] == {"display_name": None, "relationship": "carer"}
