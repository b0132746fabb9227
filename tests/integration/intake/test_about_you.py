"""The "about you" answers in story-intake, against real PostgreSQL and Kafka: kept in
their own table (never in the story's row or its event), refused by name when unknown,
erased on withdrawal, and counted per programme on insight.voices with small counts
suppressed, on the schedule or at the operator's command."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from candour_common.db.pool import create_pool
from candour_common.topics import Topic, TopicNames
from candour_intake.adapters import repository
from candour_intake.bootstrap import create_app, units_of_work
from candour_intake.domain import Organisation, Service
from candour_intake.service_layer.voices import publish_voices
from candour_intake.settings import IntakeSettings
from tests.infra import read_topic, serving
from tests.integration.intake.conftest import STORY, MakeIntake
from tests.integration.intake.test_pages import csrf_of, share, submission_key_of

pytestmark = pytest.mark.integration

PROGRAMME = "mental-health"
TRUST = Organisation(
    id="RGD",
    name="Leeds and York Partnership NHS Foundation Trust",
    type="nhs_trust",
    services=(
        Service(id="RGD-CMHT", name="Community mental health team", programme=PROGRAMME),
        Service(id="RGD-MAT", name="Perinatal team", programme="maternity"),
    ),
)
ANSWERS = {
    "age_band": "85_plus",
    "sex": "female",
    "ethnic_group": "white_gypsy_irish_traveller",
    "disability": "yes",
}
MH_STORY = {**STORY, "organisation_id": TRUST.id, "service_id": "RGD-CMHT"}


def candour(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "candour_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )


def db(settings: IntakeSettings) -> str:
    return settings.database_url.get_secret_value()


async def _intake(make_intake: MakeIntake) -> IntakeSettings:
    # No schedule: these tests publish when they choose to.
    settings = await make_intake(voices_summary_every_hours=0)
    conn = await asyncpg.connect(db(settings))
    try:
        await repository.PostgresDirectory(conn).upsert(TRUST)
    finally:
        await conn.close()
    return settings


async def _fetch(settings: IntakeSettings, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db(settings))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _submit(client: httpx.AsyncClient, answers: dict[str, str]) -> dict[str, str]:
    answer = await client.post("/v1/stories", json={**MH_STORY, "about_you": answers})
    assert answer.status_code == 201, answer.text
    created: dict[str, str] = answer.json()
    return created


async def test_answers_are_kept_apart_and_erased_with_the_story(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await _intake(make_intake)
    async with serving(create_app(settings)) as client:
        created = await _submit(client, ANSWERS)
        assert set(created) == {"story_id", "status", "author_token"}
        story_id = uuid.UUID(created["story_id"])
        status = await client.get(
            f"/v1/stories/{story_id}/status",
            headers={"Authorization": f"Bearer {created['author_token']}"},
        )
        assert status.status_code == 200
        for answer in ANSWERS.values():
            assert answer not in status.text
        [record] = await read_topic(
            kafka_bootstrap, topics.name(Topic.STORY_SUBMITTED), at_least=1, settle=0.5
        )
        [kept] = await _fetch(settings, "SELECT * FROM about_you WHERE story_id = $1", story_id)
        assert {k: kept[k] for k in ANSWERS} == ANSWERS
        [story_row] = await _fetch(settings, "SELECT s::text AS row FROM stories s")
        for answer in ("85_plus", "white_gypsy_irish_traveller"):
            assert answer.encode() not in (record.value or b"")
            assert answer not in story_row["row"]
        assert b"about_you" not in (record.value or b"")

        withdrawn = await client.delete(
            f"/v1/stories/{story_id}",
            headers={"Authorization": f"Bearer {created['author_token']}"},
        )
        assert withdrawn.status_code == 202
    assert await _fetch(settings, "SELECT * FROM about_you") == []


async def test_an_unknown_category_is_a_422_naming_the_field_and_stores_nothing(
    make_intake: MakeIntake,
) -> None:
    settings = await _intake(make_intake)
    async with serving(create_app(settings)) as client:
        refused = await client.post(
            "/v1/stories", json={**MH_STORY, "about_you": {**ANSWERS, "sex": "sometimes"}}
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")
        [error] = refused.json()["errors"]
        assert error["field"] == "body.about_you.sex"
        assert "sometimes" not in refused.text
        unknown = await client.post(
            "/v1/stories", json={**MH_STORY, "about_you": {"religion": "none"}}
        )
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "body.about_you.religion"

        # The share page: the same rule, shown beside the question.
        page = await client.get("/share")
        assert 'id="about-you"' in page.text and "Prefer not to say" in page.text
        form = {
            "place": f"{TRUST.id}|RGD-CMHT",
            "title": "Seen quickly",
            "body": "The team came the same day.",
            "display_name": "Sam",
            "relationship": "patient",
            "about_ethnic_group": "martian",
            "csrf_token": csrf_of(page.text),
            "submission_key": submission_key_of(page.text),
        }
        shown = await client.post("/share", data=form)
        assert shown.status_code == 422
        assert 'id="about_ethnic_group-error"' in shown.text or "about_ethnic_group" in shown.text
        assert "Choose one of the listed answers" in shown.text
    assert await _fetch(settings, "SELECT id FROM stories") == []
    assert await _fetch(settings, "SELECT * FROM about_you") == []


async def test_the_share_page_keeps_answers_apart(make_intake: MakeIntake) -> None:
    settings = await _intake(make_intake)
    async with serving(create_app(settings)) as client:
        done = await share(
            client,
            {
                "place": f"{TRUST.id}|RGD-CMHT",
                "title": "Seen quickly",
                "body": "The team came the same day.",
                "display_name": "Sam",
                "relationship": "patient",
                "about_age_band": "85_plus",
                "about_sex": "prefer_not_to_say",
                "about_ethnic_group": "",
                "about_disability": "yes",
            },
        )
        assert done.status_code == 200, done.text
        assert "85_plus" not in done.text and "85 or over" not in done.text
    [kept] = await _fetch(settings, "SELECT age_band, sex, ethnic_group, disability FROM about_you")
    assert dict(kept) == {
        "age_band": "85_plus",
        "sex": "prefer_not_to_say",
        "ethnic_group": None,
        "disability": "yes",
    }


async def test_counts_per_programme_are_published_with_small_counts_suppressed(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await _intake(make_intake)
    async with serving(create_app(settings)) as client:
        kept = [await _submit(client, ANSWERS) for _ in range(6)]
        await _submit(client, {"sex": "male", "disability": "no"})
        await _submit(client, {"sex": "prefer_not_to_say"})
        # Another programme's story, and one withdrawn: neither counts here.
        other = await client.post(
            "/v1/stories",
            json={**MH_STORY, "service_id": "RGD-MAT", "about_you": {"sex": "male"}},
        )
        assert other.status_code == 201
        gone = await _submit(client, {"sex": "male"})
        assert (
            await client.delete(
                f"/v1/stories/{gone['story_id']}",
                headers={"Authorization": f"Bearer {gone['author_token']}"},
            )
        ).status_code == 202

        pool = await create_pool(db(settings), max_size=1)
        try:
            new_uow = units_of_work(pool)
            published = await publish_voices(new_uow())
            # The schedule does not publish again within its interval; the command does.
            assert await publish_voices(new_uow(), unless_within=timedelta(hours=24)) == []
        finally:
            await pool.close()
        assert published == ["maternity", PROGRAMME]

        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.INSIGHT_VOICES), at_least=2, settle=0.5
        )
    by_key = {r.key.decode(): json.loads(r.value or b"") for r in records}
    assert set(by_key) == {"maternity", PROGRAMME}
    [record] = [r for r in records if r.key == PROGRAMME.encode()]
    assert record.headers["ce_type"] == "org.candour.insight.voices.v1"
    assert record.headers["ce_subject"] == PROGRAMME
    mix = {c["characteristic"]: c for c in by_key[PROGRAMME]["characteristics"]}
    # 6 female, 1 male: male suppressed; with `answered` (7) published, female would give
    # it away, so female is hidden too.
    assert mix["sex"]["answered"] == 7
    assert {c["category"]: c["count"] for c in mix["sex"]["categories"]} == {
        "female": None,
        "male": None,
    }
    assert mix["sex"]["prefer_not_to_say"] is None  # 1
    assert {c["category"]: c["count"] for c in mix["ethnic_group"]["categories"]} == {
        "asian": None,
        "black": None,
        "mixed": None,
        "white": 6,
        "other": None,
    }
    assert mix["age_band"]["answered"] == 6
    text = record.value or b""
    for story in kept:
        assert story["story_id"].encode() not in text
    assert b"white_gypsy_irish_traveller" not in text  # only the 5 high-level groups
    assert all(c["answered"] is None for c in by_key["maternity"]["characteristics"])


async def test_the_operator_command_publishes_now(make_intake: MakeIntake) -> None:
    settings = await _intake(make_intake)
    result = candour("insight", "voices", "publish", "--database-url", db(settings))
    assert result.returncode == 0, result.stderr
    assert "published the voices summary of 2 programme(s) (maternity, mental-health)" in (
        result.stdout
    )
    rows = await _fetch(settings, "SELECT topic, key FROM outbox WHERE topic = 'insight.voices'")
    assert sorted(r["key"] for r in rows) == ["maternity", PROGRAMME]


async def test_the_schedule_publishes_at_start_and_then_waits(make_intake: MakeIntake) -> None:
    settings = await make_intake(voices_summary_every_hours=24)
    conn = await asyncpg.connect(db(settings))
    try:
        await repository.PostgresDirectory(conn).upsert(TRUST)
    finally:
        await conn.close()
    started = datetime.now(UTC)
    async with serving(create_app(settings)):

        async def published() -> list[asyncpg.Record]:
            return await _fetch(settings, "SELECT * FROM voices_publications")

        for _ in range(100):
            if rows := await published():
                break
            await asyncio.sleep(0.1)
        assert rows and all(r["published_at"] >= started for r in rows)
    first = {r["programme"]: r["published_at"] for r in rows}
    # A restart within the interval publishes nothing more.
    async with serving(create_app(settings)):
        pass
    again = {r["programme"]: r["published_at"] for r in await published()}
    assert again == first


async def test_the_import_keeps_answers_from_its_columns(
    make_intake: MakeIntake, tmp_path: Path
) -> None:
    settings = await _intake(make_intake)
    csv_file = tmp_path / "feedback.csv"
    csv_file.write_text(
        "external_id,organisation_id,service_id,title,body,age_band,sex,ethnic_group,disability\n"
        "HW-1,RGD,RGD-CMHT,Group session,We talked about waiting.,16_24,male,black_african,no\n"
        "HW-2,RGD,RGD-CMHT,Survey,Staff were kind.,,,,\n",
        encoding="utf-8",
    )
    result = candour(
        *("import", "feedback", str(csv_file), "--source", "healthwatch"),
        *("--database-url", db(settings), "--no-progress"),
    )
    assert result.returncode == 0, result.stderr
    assert "black_african" not in result.stdout + result.stderr
    rows = await _fetch(settings, "SELECT age_band, sex, ethnic_group, disability FROM about_you")
    assert [dict(r) for r in rows] == [
        {"age_band": "16_24", "sex": "male", "ethnic_group": "black_african", "disability": "no"}
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_file.read_text().replace("black_african", "purple"), encoding="utf-8")
    refused = candour(
        *("import", "feedback", str(bad), "--source", "local_group"),
        *("--database-url", db(settings), "--no-progress"),
    )
    assert refused.returncode == 1
    assert f"{bad}:2: ethnic_group: " in refused.stderr
