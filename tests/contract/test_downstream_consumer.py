"""A downstream consumer written only from docs/consuming.md reads the real story.approved,
and a withdrawal reaches it as tombstones.

The consumer is the Python example in docs/consuming.md itself (plain aiokafka,
nothing of Candour's code), run against the moderation service started for real;
each value is validated against the committed JSON Schema and its headers are
checked as the document describes them. Candour's own code is used only to play
story-intake (publishing a story.submitted, a response.posted keyed
`<story id>/<response id>`, and at the withdrawal story.withdrawn plus the
response's tombstone, as its outbox does) and to run moderation, which writes the
story.approved tombstone itself when it handles the withdrawal.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from aiokafka import AIOKafkaProducer

from candour_common.auth import Role, issue_token
from candour_common.cloudevents import Envelope
from candour_common.events import (
    AuthorContact,
    Event,
    OrganisationRef,
    Relationship,
    Responder,
    ResponsePosted,
    ServiceRef,
    StorySubmitted,
    StoryWithdrawn,
    Tags,
)
from candour_common.keys import story_partitioner
from candour_common.topics import Topic, TopicNames
from candour_moderation.bootstrap import create_app
from candour_moderation.settings import ModerationSettings
from tests.infra import serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
CONSUMING_MD = ROOT / "docs" / "consuming.md"
APPROVED_SCHEMA = ROOT / "docs" / "events" / "schemas" / "story.approved.v1.json"
RESPONSE_SCHEMA = ROOT / "docs" / "events" / "schemas" / "response.posted.v1.json"
SECRET = "downstream-contract-test-secret-0123456789"
AUTHOR_EMAIL = "sam.private@example.org"


def documented_consumer() -> dict[str, Any]:
    """Run the Python example of docs/consuming.md and return what it defines."""
    blocks = re.findall(r"```python\n(.*?)```", CONSUMING_MD.read_text("utf-8"), re.DOTALL)
    assert len(blocks) == 1, "docs/consuming.md should have exactly one Python example"
    namespace: dict[str, Any] = {"__name__": "downstream_example"}
    assert not re.search(r"^\s*(from|import)\s+candour", blocks[0], re.MULTILINE), (
        "the documented consumer must not need Candour's code"
    )
    exec(compile(blocks[0], str(CONSUMING_MD), "exec"), namespace)
    return namespace


async def publish_as_intake(bootstrap: str, topics: TopicNames, *events: Event | str) -> None:
    """Play story-intake: each event with its key and CloudEvents headers on the story's
    partition; a string is the key of a response.posted tombstone."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", partitioner=story_partitioner
    )
    await producer.start()
    try:
        for event in events:
            if isinstance(event, str):
                story_id = uuid.UUID(event.split("/")[0])
                envelope = Envelope.tombstone(
                    Topic.RESPONSE_POSTED, story_id, service="story-intake"
                )
                await producer.send_and_wait(
                    topics.name(Topic.RESPONSE_POSTED),
                    None,
                    key=event.encode(),
                    headers=[(k, v.encode()) for k, v in envelope.headers(with_data=False).items()],
                )
                continue
            headers = Envelope.new(event, service="story-intake").headers()
            await producer.send_and_wait(
                topics.name(event.topic),
                event.model_dump_json().encode(),
                key=event.kafka_key().encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
    finally:
        await producer.stop()


async def approve_when_queued(client: httpx.AsyncClient, story_id: uuid.UUID) -> str:
    """Approve the story as a moderator once it reached the queue; return the event id."""
    token = issue_token(SECRET, role=Role.MODERATOR, subject="mod-contract")
    auth = {"Authorization": f"Bearer {token}"}
    decision = {"decision": "approve", "criticality": 1, "apply_suggested": True}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 45
    while True:
        response = await client.post(f"/v1/queue/{story_id}/decision", headers=auth, json=decision)
        if response.status_code == 200:
            return str(response.json()["event_id"])
        assert response.status_code == 404, response.text  # not consumed yet
        if loop.time() > deadline:
            raise AssertionError("moderation never queued the story")
        await asyncio.sleep(0.2)


async def test_a_consumer_built_from_the_docs_reads_and_validates_story_approved(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    example = documented_consumer()
    schema = json.loads(APPROVED_SCHEMA.read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    settings = ModerationSettings(
        database_url=await create_database("contract"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topics.prefix,
        jwt_secret=SECRET,
        outbox_poll_interval=0.2,
    )
    story = StorySubmitted(
        story_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        title="Thank you Nurse Jane",
        body=f"Nurse Jane Brown was wonderful. Write to me at {AUTHOR_EMAIL}.",
        organisation=OrganisationRef(id="TAD", name="Bradford District Care NHS Foundation Trust"),
        service=ServiceRef(id="TAD-CMHT", name="Community mental health team"),
        author=AuthorContact(
            display_name="Sam",
            relationship=Relationship.CARER,
            email=AUTHOR_EMAIL,
            notify_on_response=True,
        ),
        tags=Tags(good=["kindness"]),
    )

    received: asyncio.Queue[tuple[str, dict[str, str], dict[str, Any]]] = asyncio.Queue()
    erased: list[tuple[str, str]] = []

    async def handle(topic: str, headers: dict[str, str], event: dict[str, Any]) -> None:
        await received.put((topic, headers, event))

    async def erase(topic: str, key: str) -> None:
        erased.append((topic, key))

    response = ResponsePosted(
        story_id=story.story_id,
        response_id=uuid.uuid4(),
        posted_at=datetime.now(UTC),
        organisation=story.organisation,
        responder=Responder(display_name="Priya Shah", role="Ward manager"),
        body="Thank you for telling us.",
    )
    response_key = f"{story.story_id}/{response.response_id}"
    consuming = asyncio.create_task(
        example["consume"](
            kafka_bootstrap,
            f"{topics.prefix}downstream-insight",
            handle,
            erase,
            prefix=topics.prefix,
        )
    )
    try:
        async with serving(create_app(settings)) as client:
            assert isinstance(client, httpx.AsyncClient)
            await publish_as_intake(kafka_bootstrap, topics, story)
            event_id = await approve_when_queued(client, story.story_id)

            loop = asyncio.get_running_loop()
            deadline = loop.time() + 45
            while True:
                if consuming.done():
                    consuming.result()  # the documented consumer rejected a message: show why
                    raise AssertionError("the documented consumer stopped")
                try:
                    topic, headers, value = await asyncio.wait_for(received.get(), timeout=0.5)
                except TimeoutError:
                    if loop.time() > deadline:
                        raise AssertionError("no story.approved reached the consumer") from None
                    continue
                if topic == "story.approved" and value.get("story_id") == str(story.story_id):
                    break

            # The organisation responds; then the author withdraws the story.
            await publish_as_intake(kafka_bootstrap, topics, response)
            await publish_as_intake(
                kafka_bootstrap,
                topics,
                StoryWithdrawn(
                    story_id=story.story_id,
                    withdrawn_at=datetime.now(UTC),
                    organisation_id=story.organisation.id,
                ),
                response_key,
            )
            expected = {("story.approved", str(story.story_id)), ("response.posted", response_key)}
            while not expected <= set(erased):
                if consuming.done():
                    consuming.result()
                    raise AssertionError("the documented consumer stopped")
                if loop.time() > deadline + 45:
                    raise AssertionError(f"tombstones never reached erase(): {erased}")
                await asyncio.sleep(0.2)
    finally:
        consuming.cancel()
        await asyncio.gather(consuming, return_exceptions=True)
    later = []
    while not received.empty():
        later.append(received.get_nowait())
    assert [t for t, _, _ in later] == ["response.posted", "story.withdrawn"]
    response_headers, response_value = later[0][1], later[0][2]
    assert response_headers["ce_subject"] == str(story.story_id)
    jsonschema.Draft202012Validator(
        json.loads(RESPONSE_SCHEMA.read_text("utf-8")),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    ).validate(response_value)

    # The value, against the committed schema (unknown fields would be allowed).
    validator.validate(value)
    assert value["story_id"] == str(story.story_id)
    assert value["criticality"] == 1
    assert value["author"] == {"display_name": "Sam", "relationship": "carer"}
    assert "@" not in json.dumps(value), "no contact details are published"

    # The headers, as docs/consuming.md describes them (read_envelope checked the key too).
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_id"] == event_id
    assert uuid.UUID(headers["ce_id"])
    assert headers["ce_source"] == "/candour/moderation"
    assert headers["ce_type"] == "org.candour.story.approved.v1"
    assert headers["ce_subject"] == str(story.story_id)
    assert headers["content-type"] == "application/json"
    published = datetime.fromisoformat(headers["ce_time"].replace("Z", "+00:00"))
    assert published.utcoffset() is not None
    assert abs((datetime.now(UTC) - published).total_seconds()) < 300
    if "ce_correlationid" in headers:
        assert headers["ce_correlationid"]
