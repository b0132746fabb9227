"""The public API takes no operator-only fields.

`source`, `external_id`, `assisted_by` and `represents` say where an entry came from,
who entered it and how many people it speaks for: only `candour import feedback` may
set them. POST /v1/stories and the share page refuse each with 422 problem+json naming
it, and store nothing. An imported entry reaches moderation with its provenance, and
moderators see it on the queue item (API) and in the console.

story-intake and moderation run in this process on real PostgreSQL and Kafka; the
import is the real CLI.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from candour_common.auth import Role, issue_token
from candour_common.runtime import migrate_database
from candour_common.topics import TopicNames
from candour_intake.adapters import repository
from candour_intake.bootstrap import create_app as create_intake
from candour_intake.domain import Organisation, Service
from candour_intake.settings import IntakeSettings
from candour_moderation.bootstrap import create_app as create_moderation
from candour_moderation.settings import ModerationSettings
from tests.infra import serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SECRET = "operator-fields-secret-0123456789abcdef"
TRUST = Organisation(
    id="TAD",
    name="Bradford District Care NHS Foundation Trust",
    type="nhs_trust",
    services=(Service(id="TAD-CMHT", name="Community mental health team"),),
)
STORY = {
    "title": "Kind nurses on ward 4",
    "body": "The staff listened to me and explained everything.",
    "organisation_id": "TAD",
    "author": {"display_name": "A patient", "relationship": "patient"},
}
OPERATOR_ONLY: dict[str, Any] = {
    "source": "healthwatch",
    "external_id": "HW-77",
    "assisted_by": "A volunteer",
    "represents": {"individuals": 40, "patients": 40},
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _count(url: str, sql: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def _intake_settings(create_database: Any, kafka: str, topics: TopicNames) -> IntakeSettings:
    url = await create_database("intake")
    await migrate_database(url, "candour_intake.migrations")
    conn = await asyncpg.connect(url)
    try:
        await repository.PostgresDirectory(conn).upsert(TRUST)
    finally:
        await conn.close()
    return IntakeSettings(
        database_url=url,
        kafka_bootstrap=kafka,
        topic_prefix=topics.prefix,
        outbox_poll_interval=0.2,
        jwt_secret=SECRET,
    )


@pytest.mark.parametrize("field", list(OPERATOR_ONLY))
async def test_the_api_and_the_share_page_refuse_each_operator_field_by_name(
    field: str, create_database: Any, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await _intake_settings(create_database, kafka_bootstrap, topics)
    url = settings.database_url.get_secret_value()
    async with serving(create_intake(settings)) as client:
        assert isinstance(client, httpx.AsyncClient)
        api = await client.post("/v1/stories", json={**STORY, field: OPERATOR_ONLY[field]})
        assert api.status_code == 422, api.text
        assert api.headers["content-type"].startswith("application/problem+json")
        [error] = api.json()["errors"]
        assert error["field"] == f"body.{field}"
        assert "candour import feedback" in error["message"]

        page = await client.get("/share")
        found = CSRF.search(page.text)
        assert found, page.text
        form = {
            "place": "TAD|TAD-CMHT",
            "title": STORY["title"],
            "body": STORY["body"],
            "display_name": "A patient",
            "relationship": "patient",
            "csrf_token": found.group(1),
            field: str(OPERATOR_ONLY[field]),
        }
        shared = await client.post("/share", data=form)
        assert shared.status_code == 422, shared.text
        assert shared.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in shared.json()["errors"]] == [f"form.{field}"]

        # Without the field, the same requests are fine: the refusal is about the field.
        assert (await client.post("/v1/stories", json=STORY)).status_code == 201
    assert await _count(url, "SELECT count(*) FROM stories") == 1
    assert await _count(url, "SELECT count(*) FROM stories WHERE source <> 'web'") == 0


async def test_only_the_import_sets_provenance_and_moderators_see_it(
    create_database: Any, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    intake_settings = await _intake_settings(create_database, kafka_bootstrap, topics)
    moderation_settings = ModerationSettings(
        database_url=await create_database("moderation"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topics.prefix,
        jwt_secret=SECRET,
        outbox_poll_interval=0.2,
    )
    csv = tmp_path / "healthwatch.csv"
    csv.write_text(
        "external_id,organisation_id,service_id,title,body,relationship,individuals,"
        "patients,carers,staff,assisted_by\n"
        "HW-77,TAD,TAD-CMHT,Group session,We talked about waiting times.,patient,"
        "40,40,0,0,Healthwatch volunteer\n"
    )
    moderator = {
        "Authorization": "Bearer "
        + issue_token(SECRET, role=Role.MODERATOR, subject="mod-provenance")
    }
    async with (
        serving(create_intake(intake_settings)),
        serving(create_moderation(moderation_settings)) as moderation,
    ):
        assert isinstance(moderation, httpx.AsyncClient)
        imported = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "candour_cli",
                "import",
                "feedback",
                str(csv),
                "--source",
                "healthwatch",
                "--database-url",
                intake_settings.database_url.get_secret_value(),
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ},
        )
        assert imported.returncode == 0, imported.stderr

        item: dict[str, Any] = {}
        for _ in range(150):
            page = await moderation.get("/v1/queue", headers=moderator)
            assert page.status_code == 200, page.text
            if page.json()["items"]:
                item = page.json()["items"][0]
                break
            await asyncio.sleep(0.2)
        assert item, "the imported story never reached the queue"
        assert item["provenance"] == {
            "source": "healthwatch",
            "external_id": "HW-77",
            "assisted_by": "Healthwatch volunteer",
            "represents": {"individuals": 40, "patients": 40, "carers": 0, "staff": 0},
        }

        sign_in = await moderation.get("/console/sign-in")
        found = CSRF.search(sign_in.text)
        assert found, sign_in.text
        signed_in = await moderation.post(
            "/console/sign-in",
            data={"csrf_token": found.group(1), "token": moderator["Authorization"][7:]},
        )
        assert signed_in.status_code == 303, signed_in.text
        console = await moderation.get(f"/console/stories/{item['story_id']}")
        assert console.status_code == 200, console.text
        # The source by its label, with the entry's id in the source system.
        assert "<dd>Healthwatch (entry HW-77)</dd>" in console.text
        for shown in ("Healthwatch volunteer", "40 people"):
            assert shown in console.text
