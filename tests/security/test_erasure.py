"""Erasure: a withdrawn story is gone from every copy Candour controls.

The four services run as real processes on Apache Kafka and PostgreSQL, with the
topics provisioned as in production (story.submitted, story.approved and
response.posted compacted) except that compaction is made to run within seconds. Two
stories travel the whole pipeline: one shared on the public API by an author who left a
name and an email address (with an Idempotency-Key), one imported with provenance
(source, external id, who entered it). Each is auto-approved, gets a staff response (so
the author is emailed) and is withdrawn. Then:

- no table of any service's database (outbox, inbox, idempotency keys, notifications'
  deliveries and digests included) holds the stories' text, the author's name or
  email, or the imported story's provenance;
- the Idempotency-Key's stored answer is gone, and retrying that request gets 410
  instead of making the story again;
- once the broker has compacted them, reading story.submitted, story.approved and
  response.posted from the beginning returns no record with any of that;
- nothing was dead-lettered on the way (every consumer took the tombstones).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from candour_common.auth import Role
from candour_common.db.pool import create_pool
from candour_common.events import AuthorContact, Reach, Relationship, Source, Tags
from candour_common.topics import Topic, TopicNames
from candour_intake.bootstrap import units_of_work
from candour_intake.domain import SubmitStory
from candour_intake.service_layer import handlers as intake
from tests import infra
from tests.compaction import create_compacted_topics, wait_for_compaction
from tests.faults.platform import (
    CLEAN_BODY,
    SERVICES,
    TRUST,
    Platform,
    bearer,
    eventually,
    platform_setup,
    start,
)
from tests.security.test_privacy_and_inert_input import _tables_holding

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]

# Letters only: digits could read as a phone number and hold the story for a moderator.
_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def _token(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].translate(_LETTERS)}"


MARKER = _token("marmot")  # in the stories' text and the responses
# Not in the text: a name that is would (rightly) be suggested for redaction.
AUTHOR_NAME = f"Robin {_token('wren').capitalize()}"
AUTHOR_EMAIL = f"{_token('robin.')}@private.example"
EXTERNAL_ID = f"HW-{_token('entry')}"
ASSISTED_BY = f"Volunteer {_token('kestrel').capitalize()}"
SECRETS = [MARKER, AUTHOR_EMAIL, AUTHOR_NAME, EXTERNAL_ID, ASSISTED_BY]


@pytest.fixture
async def platform(
    create_database, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[Platform]:
    topics = TopicNames(prefix=f"t{uuid.uuid4().hex[:10]}.")
    await create_compacted_topics(kafka_bootstrap, topics)
    try:
        async with platform_setup(create_database, kafka_bootstrap, topics, tmp_path) as both:
            await start(both[0])
            yield both[0]
    finally:
        await infra.delete_topics(kafka_bootstrap, topics.prefix)


async def _rows_holding(platform: Platform, service: str) -> list[str]:
    return await _tables_holding(platform, service, SECRETS)


async def _import_with_provenance(platform: Platform) -> tuple[str, str]:
    """What `candour import feedback` does for one entry (the handler it calls), keeping
    the author token a test needs to withdraw it."""
    pool = await create_pool(platform.databases["story-intake"], max_size=1)
    try:
        story, token = await intake.submit_story(
            units_of_work(pool)(),
            SubmitStory(
                title=f"Imported {MARKER}",
                body=f"{CLEAN_BODY} {MARKER}",
                organisation_id=TRUST.id,
                service_id="TAD-CMHT",
                author=AuthorContact(display_name="Anonymous", relationship=Relationship.CARER),
                tags=Tags(),
                experienced_at=None,
                source=Source.HEALTHWATCH,
                external_id=EXTERNAL_ID,
                assisted_by=ASSISTED_BY,
                represents=Reach(individuals=3, carers=3),
            ),
        )
    finally:
        await pool.close()
    return str(story.id), token


async def test_a_withdrawn_story_is_gone_from_every_database_and_topic(
    platform: Platform,
) -> None:
    intake_url = platform.one("story-intake").url
    search_url = platform.one("search").url
    await platform.subscribe_trust()
    shared = {
        "title": f"Shared {MARKER}",
        "body": f"{CLEAN_BODY} {MARKER}",
        "organisation_id": TRUST.id,
        "service_id": "TAD-CMHT",
        "author": {
            "display_name": AUTHOR_NAME,
            "relationship": "patient",
            "email": AUTHOR_EMAIL,
            "notify_on_response": True,
        },
    }
    retry_key = {"Idempotency-Key": f"erasure-{uuid.uuid4()}"}
    async with httpx.AsyncClient(timeout=15) as http:
        created = await http.post(f"{intake_url}/v1/stories", json=shared, headers=retry_key)
        assert created.status_code == 201, created.text
        stories = {created.json()["story_id"]: created.json()["author_token"]}
        imported_id, imported_token = await _import_with_provenance(platform)
        stories[imported_id] = imported_token

        for story_id in stories:

            async def published(story_id: str = story_id) -> bool:
                return (await http.get(f"{search_url}/v1/stories/{story_id}")).status_code == 200

            await eventually(published, timeout=90, what=f"story {story_id} in search")

            async def responded(story_id: str = story_id) -> bool:
                answer = await http.post(
                    f"{intake_url}/v1/stories/{story_id}/responses",
                    headers=bearer(Role.STAFF, organisation_id=TRUST.id),
                    json={
                        "body": f"Thank you for telling us, {MARKER}.",
                        "responder": {"display_name": "Jo", "role": "Ward lead"},
                    },
                )
                assert answer.status_code in (201, 409), answer.text
                return answer.status_code == 201

            await eventually(responded, timeout=60, what="intake to take a response")

            async def response_indexed(story_id: str = story_id) -> bool:
                page = (await http.get(f"{search_url}/v1/stories/{story_id}")).json()
                return bool(page.get("responses"))

            await eventually(response_indexed, timeout=60, what="the response in search")
        await platform.smtp.wait_for(AUTHOR_EMAIL, timeout=60)

        # Before the withdrawal the secrets really were in the databases and on the topics.
        assert await _rows_holding(platform, "story-intake")
        for story_id, token in stories.items():
            withdrawn = await http.delete(
                f"{intake_url}/v1/stories/{story_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert withdrawn.status_code == 202, withdrawn.text

            async def gone(story_id: str = story_id) -> bool:
                return (await http.get(f"{search_url}/v1/stories/{story_id}")).status_code == 404

            await eventually(gone, timeout=60, what=f"story {story_id} to leave search")

    async def erased_everywhere() -> list[str] | None:
        left: list[str] = []
        for service in SERVICES:
            left += await _rows_holding(platform, service)
        return None if left else ["clean"]

    try:
        await eventually(erased_everywhere, timeout=60, what="every database to be erased")
    except AssertionError:
        left = [row for service in SERVICES for row in await _rows_holding(platform, service)]
        raise AssertionError(f"withdrawn stories left behind: {left}") from None
    keys = await platform.fetch(
        "story-intake", "SELECT count(*) AS n FROM idempotency_keys WHERE response IS NOT NULL"
    )
    assert keys[0]["n"] == 0
    # The request that created the story cannot bring it back, nor read its answer.
    async with httpx.AsyncClient(timeout=15) as http:
        again = await http.post(f"{intake_url}/v1/stories", json=shared, headers=retry_key)
    assert again.status_code == 410, again.text
    assert again.headers["content-type"].startswith("application/problem+json")

    def holds_a_secret(record: infra.Record) -> bool:
        value = record.value or b""
        return any(needle.encode() in value for needle in SECRETS)

    for topic in (Topic.STORY_SUBMITTED, Topic.STORY_APPROVED, Topic.RESPONSE_POSTED):
        left = await wait_for_compaction(
            platform.kafka, platform.topics, topic, erased=holds_a_secret
        )
        tombstones = [
            r for r in left if r.value is None and r.key and r.key.decode()[:36] in stories
        ]
        assert tombstones, f"no tombstone of the withdrawn stories on {topic.value}"
    assert await platform.dead_letters() == {}
