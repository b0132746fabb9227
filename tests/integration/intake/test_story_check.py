"""POST /v1/stories/check against real PostgreSQL and Kafka: the author's own check
before sending. Same body, validation and rate limit as POST /v1/stories; stores nothing."""

from __future__ import annotations

import json

import asyncpg
import pytest

from candour_intake.bootstrap import create_app
from candour_intake.settings import IntakeSettings
from tests.infra import serving
from tests.integration.intake.conftest import STORY, MakeIntake

pytestmark = pytest.mark.integration

IDENTIFYING = {
    **STORY,
    "title": "Dr Patel was kind",
    "body": (
        "Dr Patel on the ward gave me her direct line, 07700 900123, and said I could "
        "email her at j.patel@example.org if the pain came back."
    ),
}
DISTRESS = {
    **STORY,
    "title": "Nobody listened",
    "body": "I told the crisis team I don't want to be here any more and nobody called back.",
}
# What nothing in POST /v1/stories/check may write (the rate limiter's own counts aside).
TABLES = ("stories", "outbox", "idempotency_keys", "about_you")


def db(settings: IntakeSettings) -> str:
    return settings.database_url.get_secret_value()


async def row_counts(settings: IntakeSettings) -> dict[str, int]:
    conn = await asyncpg.connect(db(settings))
    try:
        return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in TABLES}
    finally:
        await conn.close()


async def test_check_returns_each_identifying_detail_with_its_replacement_and_stores_nothing(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        before = await row_counts(settings)
        response = await client.post("/v1/stories/check", json=IDENTIFYING)
        after = await row_counts(settings)
    assert response.status_code == 200, response.text
    checked = response.json()
    assert set(checked) == {"redactions", "safeguarding", "support"}
    assert "story_id" not in response.text and "author_token" not in response.text
    assert checked["safeguarding"] == {"level": "none", "categories": []}
    assert checked["support"] is None
    kinds = {(r["field"], r["kind"]) for r in checked["redactions"]}
    assert {("title", "person_name"), ("body", "phone"), ("body", "email")} <= kinds
    for r in checked["redactions"]:
        assert set(r) == {"field", "start", "end", "text", "kind", "replacement"}
        assert IDENTIFYING[r["field"]][r["start"] : r["end"]] == r["text"]
        assert r["replacement"].startswith("[")
    assert before == after == dict.fromkeys(TABLES, 0)


async def test_check_of_a_story_at_risk_carries_support_signposting(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        response = await client.post("/v1/stories/check", json=DISTRESS)
    assert response.status_code == 200, response.text
    checked = response.json()
    assert checked["safeguarding"]["level"] != "none"
    assert checked["safeguarding"]["categories"]
    support = checked["support"]
    assert support is not None
    phones = {c["name"]: c for c in support["contacts"]}
    assert phones["Samaritans"]["phone"] == "116 123"
    assert "free" in phones["Samaritans"]["when"].lower()
    assert phones["NHS 111"]["phone"] == "111" and "option 2" in phones["NHS 111"]["when"]
    assert phones["999"]["phone"] == "999" and "emergency" in phones["999"]["when"].lower()
    assert await row_counts(settings) == dict.fromkeys(TABLES, 0)


@pytest.mark.parametrize(
    "change",
    [
        {"organisation_id": "NOPE"},
        {"service_id": "OTHER"},
        {"title": "x" * 121},
        {"title": "   "},
        {"surprise": 1},
        {"author": {"display_name": "A", "relationship": "alien"}},
        {"author": {"display_name": "", "relationship": "patient"}},
        {"body": "word " * 1001},
        {"experienced_at": "2999-01"},
        {"source": "paper_form"},
        {"about_you": {"age_band": "ancient"}},
    ],
)
async def test_check_refuses_bad_input_exactly_as_sending_does(
    make_intake: MakeIntake, change: dict[str, object]
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        checked = await client.post("/v1/stories/check", json={**STORY, **change})
        sent = await client.post("/v1/stories", json={**STORY, **change})
    assert checked.status_code == sent.status_code == 422, checked.text
    assert checked.headers["content-type"] == "application/problem+json"
    assert checked.json()["errors"] == sent.json()["errors"]
    assert checked.json()["detail"] == sent.json()["detail"]
    assert await row_counts(settings) == dict.fromkeys(TABLES, 0)


async def test_check_and_send_share_one_rate_limit(make_intake: MakeIntake) -> None:
    settings = await make_intake(submission_rate_limit=2)
    async with serving(create_app(settings)) as client:
        assert (await client.post("/v1/stories/check", json=STORY)).status_code == 200
        assert (await client.post("/v1/stories", json=STORY)).status_code == 201
        refused_check = await client.post("/v1/stories/check", json=STORY)
        refused_send = await client.post("/v1/stories", json=STORY)
    for refused in (refused_check, refused_send):
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1


async def test_a_story_without_a_display_name_is_accepted(make_intake: MakeIntake) -> None:
    anonymous = {**STORY, "author": {"relationship": "carer"}}
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        checked = await client.post("/v1/stories/check", json=anonymous)
        sent = await client.post("/v1/stories", json=anonymous)
    assert checked.status_code == 200, checked.text
    assert sent.status_code == 201, sent.text
    conn = await asyncpg.connect(db(settings))
    try:
        name = await conn.fetchval("SELECT author_name FROM stories")
        author = await conn.fetchval("SELECT payload->'author' FROM outbox")
    finally:
        await conn.close()
    assert name is None
    assert json.loads(author).get("display_name") is None
