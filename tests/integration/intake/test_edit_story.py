"""`PUT /v1/stories/{id}`, the author's edit and resubmission (issue 20), against real
PostgreSQL and Kafka: the next version on story.submitted, who may edit and when, the
same 422s and rate limit as sending, and two edits at once made one after the other."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from candour_common.events import OrganisationRef, RejectionReason, StoryRejected
from candour_common.topics import Topic, TopicNames
from candour_intake.bootstrap import create_app
from tests.infra import read_topic, serving
from tests.integration.intake.conftest import STORY, MakeIntake
from tests.integration.intake.test_lifecycle import approved, bearer, publish, wait_status

pytestmark = pytest.mark.integration

EDIT: dict[str, Any] = {
    "title": "Kind nurses, long wait",
    "body": "The staff listened to me, but I waited six hours to be seen.",
    "organisation_id": "TAD",
    "tags": {"good": ["kindness"], "improve": ["waiting times"], "feelings": []},
}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


async def test_an_edit_is_sent_again_as_the_next_version(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        created = (await client.post("/v1/stories", json=STORY)).json()
        story_id, token = created["story_id"], created["author_token"]
        answer = await client.put(f"/v1/stories/{story_id}", json=EDIT, headers=bearer(token))
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"story_id": story_id, "status": "submitted", "version": 2}
        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.STORY_SUBMITTED), at_least=2, settle=1.0
        )
        status = (await client.get(f"/v1/stories/{story_id}/status", headers=bearer(token))).json()
    assert status["status"] == "submitted"
    assert [r.key for r in records] == [story_id.encode()] * 2
    first, again = (json.loads(r.value) for r in records)
    assert (first["version"], again["version"]) == (1, 2)
    assert again["title"] == EDIT["title"] and again["body"] == EDIT["body"]
    assert again["service"] is None and again["tags"]["improve"] == ["waiting times"]
    # The author's contact as intake keeps it, though the edit does not carry it.
    assert again["author"] == first["author"]
    assert again["author"]["email"] == "author@example.org"
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        row = await conn.fetchrow("SELECT title, version FROM stories WHERE id = $1", story_id)
    finally:
        await conn.close()
    assert (row["title"], row["version"]) == (EDIT["title"], 2)


async def test_an_edit_after_a_rejection_is_submitted_again_and_an_old_rejection_is_ignored(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        created = (await client.post("/v1/stories", json=STORY)).json()
        story_id, token = created["story_id"], created["author_token"]

        def rejected(version: int) -> StoryRejected:
            return StoryRejected(
                story_id=uuid.UUID(story_id),
                rejected_at=datetime.now(UTC),
                organisation=OrganisationRef(id="TAD", name="Bradford"),
                reason=RejectionReason.OTHER,
                version=version,
            )

        await publish(kafka_bootstrap, topics, rejected(1))
        await wait_status(client, story_id, token, "rejected")
        answer = await client.put(f"/v1/stories/{story_id}", json=EDIT, headers=bearer(token))
        assert answer.json()["version"] == 2
        status = await wait_status(client, story_id, token, "submitted")
        assert status["rejection_reason"] is None
        # A repeat of the decision on version 1 does not undo the edit; one on 2 counts.
        await publish(kafka_bootstrap, topics, rejected(1))
        await publish(kafka_bootstrap, topics, rejected(2))
        await wait_status(client, story_id, token, "rejected")


async def test_a_published_or_withdrawn_story_cannot_be_edited(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        published = (await client.post("/v1/stories", json=STORY)).json()
        await publish(kafka_bootstrap, topics, approved(published["story_id"]))
        await wait_status(client, published["story_id"], published["author_token"], "published")
        late = await client.put(
            f"/v1/stories/{published['story_id']}",
            json=EDIT,
            headers=bearer(published["author_token"]),
        )
        assert "published" in problem(late, 409)["detail"]
        withdrawn = (await client.post("/v1/stories", json=STORY)).json()
        await client.delete(
            f"/v1/stories/{withdrawn['story_id']}", headers=bearer(withdrawn["author_token"])
        )
        gone = await client.put(
            f"/v1/stories/{withdrawn['story_id']}",
            json=EDIT,
            headers=bearer(withdrawn["author_token"]),
        )
        assert problem(gone, 409)["type"].endswith("/story-not-editable")


async def test_the_wrong_token_or_story_is_refused_as_for_the_status(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        created = (await client.post("/v1/stories", json=STORY)).json()
        story_id, token = created["story_id"], created["author_token"]
        path = f"/v1/stories/{story_id}"
        for headers in ({}, bearer("not-the-token")):
            put = await client.put(path, json=EDIT, headers=headers)
            got = await client.get(f"{path}/status", headers=headers)
            assert put.status_code == got.status_code == 401
            assert put.headers["www-authenticate"] == "Bearer"
        nowhere = f"/v1/stories/{uuid.uuid4()}"
        put = await client.put(nowhere, json=EDIT, headers=bearer(token))
        got = await client.get(f"{nowhere}/status", headers=bearer(token))
        assert put.status_code == got.status_code == 404
        problem(put, 404)
        status = (await client.get(f"{path}/status", headers=bearer(token))).json()
        assert status["status"] == "submitted"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"body": "word " * 1001}, "body"),
        ({"organisation_id": "NOPE"}, "organisation_id"),
        ({"service_id": "NOPE"}, "service_id"),
        ({"experienced_at": "1999-01"}, "experienced_at"),
        ({"author": STORY["author"]}, "author"),
        ({"source": "healthwatch"}, "source"),
    ],
)
async def test_bad_input_names_the_field_and_changes_nothing(
    make_intake: MakeIntake, change: dict[str, Any], field: str
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        created = (await client.post("/v1/stories", json=STORY)).json()
        story_id, token = created["story_id"], created["author_token"]
        answer = await client.put(
            f"/v1/stories/{story_id}", json={**EDIT, **change}, headers=bearer(token)
        )
        body = problem(answer, 422)
        assert any(error["field"].split(".")[-1] == field for error in body["errors"]), body
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        row = await conn.fetchrow("SELECT title, version FROM stories WHERE id = $1", story_id)
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await conn.close()
    assert (row["title"], row["version"], outbox) == (STORY["title"], 1, 1)


async def test_edits_share_the_rate_limit_of_sending(make_intake: MakeIntake) -> None:
    settings = await make_intake(submission_rate_limit=2)
    async with serving(create_app(settings)) as client:
        created = (await client.post("/v1/stories", json=STORY)).json()
        path = f"/v1/stories/{created['story_id']}"
        headers = bearer(created["author_token"])
        first = await client.put(path, json=EDIT, headers=headers)
        limited = await client.put(path, json=EDIT, headers=headers)
    assert first.status_code == 202
    problem(limited, 429)
    assert int(limited.headers["Retry-After"]) >= 1


async def test_two_edits_at_once_are_made_one_after_the_other(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        created = (await client.post("/v1/stories", json=STORY)).json()
        path = f"/v1/stories/{created['story_id']}"
        headers = bearer(created["author_token"])
        answers = await asyncio.gather(
            *(
                client.put(path, json={**EDIT, "title": f"Edit {n}"}, headers=headers)
                for n in range(4)
            )
        )
        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.STORY_SUBMITTED), at_least=5, settle=1.0
        )
    assert sorted(a.json()["version"] for a in answers) == [2, 3, 4, 5]
    assert sorted(json.loads(r.value)["version"] for r in records) == [1, 2, 3, 4, 5]
