"""The "about you" answers stay private, with the four services as real processes.

Stories with answers go in through the API and the share page, are auto-approved and
indexed, and intake publishes the voices summary. Then:
- no answer is on any Kafka topic (every topic of the deployment is read, dead letters
  too): the story topics carry none of the questions or answers, and insight.voices
  only counts in the 5 high-level groups, no story id, small counts suppressed;
- no answer is in any log line of any service;
- no per-story answer (intake's status, search's story API, page and results) holds one;
- a withdrawal erases the story's answers from intake's database.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from candour_cli import demo
from candour_cli.voices import publish_now
from candour_common.topics import DLQ_SUFFIX, Topic, TopicNames
from candour_intake.adapters import repository
from candour_intake.domain import Organisation, Service
from tests.faults.platform import CLEAN_BODY, Platform, eventually, platform_setup, start
from tests.security.test_sessions_and_author_token import Browser, csrf_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PROGRAMME = "mental-health"
TRUST = Organisation(
    id="RGD",
    name="Leeds and York Partnership NHS Foundation Trust",
    type="nhs_trust",
    services=(Service(id="RGD-CMHT", name="Community mental health team", programme=PROGRAMME),),
)
# Answers no other text of the platform contains, so finding one anywhere is a leak.
API_ANSWERS = {
    "age_band": "85_plus",
    "sex": "female",
    "ethnic_group": "white_gypsy_irish_traveller",
    "disability": "yes",
}
FORM_ANSWERS = {
    "about_age_band": "75_84",
    "about_sex": "prefer_not_to_say",
    "about_ethnic_group": "mixed_white_black_caribbean",
    "about_disability": "yes",
}
# What would give an answer away: the codes as asked, and their labels on a page.
SECRETS = (
    "85_plus",
    "75_84",
    "white_gypsy_irish_traveller",
    "mixed_white_black_caribbean",
    "Gypsy or Irish Traveller",
    "White and Black Caribbean",
    "85 or over",
    "75 to 84",
)
# The questions' names: no story topic and no log line names them.
QUESTIONS = ("about_you", "age_band", "ethnic_group", "disability")


@pytest.fixture
async def platform(
    create_database, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> AsyncIterator[Platform]:
    async with platform_setup(create_database, kafka_bootstrap, topics, tmp_path) as (p, _):
        conn = await asyncpg.connect(p.databases["story-intake"])
        try:
            await repository.PostgresDirectory(conn).upsert(TRUST)
        finally:
            await conn.close()
        p.env["search"]["CANDOUR_POPULATION_FILE"] = demo.population_csv_path()
        p.env["story-intake"]["CANDOUR_VOICES_SUMMARY_EVERY_HOURS"] = "0"  # published below
        await start(p)
        yield p


async def read_every_topic(bootstrap: str, names: list[str], settle: float) -> dict[str, list]:
    """Every record of `names`, from the beginning, until nothing new came for `settle` s."""
    consumer = AIOKafkaConsumer(
        *names, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: dict[str, list] = {name: [] for name in names}
    try:
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while loop.time() - quiet_since < settle:
            batch = await consumer.getmany(timeout_ms=300)
            for partition, records in batch.items():
                found[partition.topic].extend(records)
                quiet_since = loop.time()
    finally:
        await consumer.stop()
    return found


async def test_about_you_answers_stay_private_and_go_with_the_story(platform: Platform) -> None:
    intake = platform.one("story-intake").url
    search = platform.one("search").url
    stories: list[dict[str, str]] = []
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(5):
            created = await http.post(
                f"{intake}/v1/stories",
                json={
                    "title": f"Story {platform.run_tag} number {'abcde'[i]}",
                    "body": CLEAN_BODY,
                    "organisation_id": TRUST.id,
                    "service_id": "RGD-CMHT",
                    "author": {"display_name": "Sam", "relationship": "patient"},
                    "about_you": API_ANSWERS,
                },
            )
            assert created.status_code == 201, created.text
            assert set(created.json()) == {"story_id", "status", "author_token"}
            stories.append(created.json())

        browser = Browser(http, intake)
        form = await browser.get("/share")
        key = re.search(r'name="submission_key" value="([^"]+)"', form.text)
        assert key is not None
        sent = await browser.post(
            "/share",
            {
                "csrf_token": csrf_of(form.text),
                "submission_key": key.group(1),
                "place": f"{TRUST.id}|RGD-CMHT",
                "title": f"Story {platform.run_tag} from the form",
                "body": CLEAN_BODY,
                "display_name": "Sam",
                "relationship": "patient",
                **FORM_ANSWERS,
            },
        )
        assert sent.status_code == 303, sent.text[:500]
        done = await browser.get("/share/sent")
        assert done.status_code == 200
        shared_id = re.search(r'id="story-reference" readonly value="([^"]+)"', done.text)
        shared_code = re.search(r'id="private-code" readonly value="([^"]+)"', done.text)
        assert shared_id and shared_code
        stories.append({"story_id": shared_id.group(1), "author_token": shared_code.group(1)})
        per_story = [done.text]

        async def all_published() -> bool:
            for story in stories:
                if (await http.get(f"{search}/v1/stories/{story['story_id']}")).status_code != 200:
                    return False
            return True

        await eventually(all_published, timeout=90, what="the stories to be published")
        for story in stories:
            auth = {"Authorization": f"Bearer {story['author_token']}"}
            per_story += [
                (
                    await http.get(f"{intake}/v1/stories/{story['story_id']}/status", headers=auth)
                ).text,
                (await http.get(f"{search}/v1/stories/{story['story_id']}")).text,
                (await http.get(f"{search}/stories/{story['story_id']}")).text,
            ]
        per_story.append(
            (await http.get(f"{search}/v1/search", params={"q": platform.run_tag})).text
        )
        per_story.append((await http.get(f"{search}/search", params={"q": platform.run_tag})).text)
        for text in per_story:
            for secret in SECRETS:
                assert secret not in text

        # Intake counts them and search shows the mix.
        assert await publish_now(platform.databases["story-intake"]) == [PROGRAMME]

        async def counted() -> dict | None:
            answer = await http.get(f"{search}/v1/insight/voices", params={"programme": PROGRAMME})
            body = answer.json()
            return body if body["summarised_at"] else None

        voices = await eventually(counted, timeout=60, what="the voices summary in search")
        by = {c["characteristic"]: c for c in voices["characteristics"]}
        assert by["disability"]["answered"] == 6
        assert {c["category"]: c["count"] for c in by["ethnic_group"]["categories"]}["white"] == 5
        assert by["sex"]["answered"] == 5 and by["sex"]["prefer_not_to_say"] is None
        page = await http.get(f"{search}/insight/{PROGRAMME}")
        assert "Whose voices are missing" in page.text and "fewer than 5" in page.text

        # Withdrawal erases the answers with the story.
        gone = stories[0]
        withdrawn = await http.delete(
            f"{intake}/v1/stories/{gone['story_id']}",
            headers={"Authorization": f"Bearer {gone['author_token']}"},
        )
        assert withdrawn.status_code == 202

    conn = await asyncpg.connect(platform.databases["story-intake"])
    try:
        kept = await conn.fetch("SELECT story_id FROM about_you")
    finally:
        await conn.close()
    assert {str(r["story_id"]) for r in kept} == {s["story_id"] for s in stories[1:]}

    names = [platform.topics.name(t) for t in Topic]
    names += [f"{name}{DLQ_SUFFIX}" for name in names]
    records = await read_every_topic(platform.kafka, names, settle=3.0)
    assert records[platform.topics.name(Topic.STORY_SUBMITTED)], "the topics were read"
    voices_topic = platform.topics.name(Topic.INSIGHT_VOICES)
    for name, found in records.items():
        for record in found:
            data = (record.value or b"").decode()
            headers = str(record.headers)
            if name == voices_topic:
                # Counts only: every category is listed by its code, ethnic groups only
                # in the 5 high-level groups, no story named, the lone form answers hidden.
                for secret in SECRETS[2:]:
                    assert secret not in data and secret not in headers, (name, secret)
                for story in stories:
                    assert story["story_id"] not in data + headers
                continue
            for secret in (*SECRETS, *QUESTIONS):
                assert secret not in data and secret not in headers, (name, secret)
    [summary] = records[voices_topic]
    mixes = {m["characteristic"]: m for m in json.loads(summary.value)["characteristics"]}
    ages = {c["category"]: c["count"] for c in mixes["age_band"]["categories"]}
    assert ages["85_plus"] == 5 and ages["75_84"] is None
    ethnic = {c["category"]: c["count"] for c in mixes["ethnic_group"]["categories"]}
    assert ethnic["white"] == 5 and ethnic["mixed"] is None

    logs = platform.all_logs()
    assert "event handled" in logs  # the logs were captured
    for secret in (*SECRETS, "about_you", "prefer_not_to_say"):
        assert secret not in logs, secret
    assert uuid.UUID(stories[0]["story_id"])
