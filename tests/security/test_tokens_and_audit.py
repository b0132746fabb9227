"""`candour token issue` names one person per token, and the audit says who decided.

The CLI runs as an operator runs it. Every token gets its own subject (given with
--subject, or generated and printed) and its own id (`jti`); moderator and operator
tokens last 12 hours unless asked otherwise. Then, with story-intake and moderation
as real processes, two moderators holding such tokens decide two stories and a staff
member answers one: the moderation audit and intake's responses record each person.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from candour_common.auth import ALGORITHM
from candour_common.topics import TopicNames
from tests.faults.platform import CLEAN_BODY, SECRET, TRUST, eventually, platform_setup

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CANDOUR = str(Path(sys.executable).parent / "candour")


def issue(*args: str, secret: str | None = SECRET) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
    env["CANDOUR_DEV_DIR"] = "/nonexistent"  # no dev secret to fall back on
    if secret is not None:
        env["CANDOUR_JWT_SECRET"] = secret
    return subprocess.run(
        [CANDOUR, "token", "issue", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def claims_of(answer: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert answer.returncode == 0, answer.stderr
    token = answer.stdout.strip().splitlines()[-1]
    return dict(jwt.decode(token, SECRET, algorithms=[ALGORITHM], issuer="candour"))


def test_every_token_has_its_own_subject_and_id() -> None:
    first, second = issue("--role", "moderator"), issue("--role", "moderator")
    a, b = claims_of(first), claims_of(second)
    assert a["sub"] != b["sub"], "two people's tokens share a subject"
    assert a["jti"] != b["jti"] and len(a["jti"]) >= 16
    for answer, claims in ((first, a), (second, b)):
        assert claims["sub"] in answer.stderr, "a generated subject must be printed"
        assert "record" in answer.stderr
    named = claims_of(issue("--role", "staff", "--org", "TAD", "--subject", "ann@tad.nhs.uk"))
    assert named["sub"] == "ann@tad.nhs.uk" and named["org"] == "TAD"


@pytest.mark.parametrize(
    ("role", "lifetime"),
    [("moderator", timedelta(hours=12)), ("operator", timedelta(hours=12))],
)
def test_moderator_and_operator_tokens_last_twelve_hours_by_default(
    role: str, lifetime: timedelta
) -> None:
    claims = claims_of(issue("--role", role, "--subject", "someone"))
    assert claims["exp"] - claims["iat"] == lifetime.total_seconds()
    longer = claims_of(issue("--role", role, "--subject", "someone", "--ttl", "2d"))
    assert longer["exp"] - longer["iat"] == timedelta(days=2).total_seconds()


@pytest.mark.parametrize("secret", [None, "too-short", "change-me-to-48-random-bytes"])
def test_no_token_is_signed_with_a_missing_or_weak_key(secret: str | None) -> None:
    answer = issue("--role", "operator", "--subject", "op", secret=secret)
    assert answer.returncode != 0
    assert "CANDOUR_JWT_SECRET" in answer.stderr
    assert answer.stdout.strip() == ""


async def test_the_audit_and_the_responses_name_who_decided(
    create_database, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    moderator_a = issue("--role", "moderator")
    moderator_b = issue("--role", "moderator")
    staff = issue("--role", "staff", "--org", TRUST.id)
    who = {
        name: claims_of(answer)["sub"]
        for name, answer in (("a", moderator_a), ("b", moderator_b), ("staff", staff))
    }
    token = {
        name: answer.stdout.strip().splitlines()[-1]
        for name, answer in (("a", moderator_a), ("b", moderator_b), ("staff", staff))
    }

    async with platform_setup(create_database, kafka_bootstrap, topics, tmp_path) as (
        platform,
        _smtp,
    ):
        intake = platform.spawn("story-intake")
        moderation = platform.spawn("moderation", CANDOUR_AUTO_APPROVE="false")
        await intake.wait_ready()
        await moderation.wait_ready()
        async with httpx.AsyncClient(timeout=30) as http:
            stories = []
            for n in range(2):
                created = await http.post(
                    f"{intake.url}/v1/stories",
                    json={
                        "title": f"Story {platform.run_tag} audit {n}",
                        "body": CLEAN_BODY,
                        "organisation_id": TRUST.id,
                        "service_id": "TAD-CMHT",
                        "author": {"display_name": "Sam", "relationship": "patient"},
                    },
                )
                assert created.status_code == 201, created.text
                stories.append(created.json())

            def as_(name: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {token[name]}"}

            for story in stories:

                async def queued(story_id: str = story["story_id"]) -> bool:
                    answer = await http.get(
                        f"{moderation.url}/v1/queue/{story_id}", headers=as_("a")
                    )
                    return answer.status_code == 200

                await eventually(queued, timeout=60, what="the story in the moderation queue")

            approved, rejected = (s["story_id"] for s in stories)
            decided = await http.post(
                f"{moderation.url}/v1/queue/{approved}/decision",
                headers=as_("a"),
                json={"decision": "approve", "criticality": 1},
            )
            assert decided.status_code in (200, 201), decided.text
            decided = await http.post(
                f"{moderation.url}/v1/queue/{rejected}/decision",
                headers=as_("b"),
                json={"decision": "reject", "reason": "not_about_care"},
            )
            assert decided.status_code in (200, 201), decided.text

            def decision_actors(audit: list[dict[str, Any]]) -> set[str]:
                return {
                    line["actor"] for line in audit if line["action"] in ("approved", "rejected")
                }

            # Two people, two names in the audit: not one shared "moderator".
            assert len({who["a"], who["b"], who["staff"]}) == 3, who
            for story_id, name in ((approved, "a"), (rejected, "b")):
                detail = await http.get(f"{moderation.url}/v1/queue/{story_id}", headers=as_("a"))
                assert decision_actors(detail.json()["audit"]) == {who[name]}

            author = {"Authorization": f"Bearer {stories[0]['author_token']}"}

            async def published() -> bool:
                answer = await http.get(
                    f"{intake.url}/v1/stories/{approved}/status", headers=author
                )
                return answer.json().get("status") == "published"

            await eventually(published, timeout=60, what="intake to hear of the approval")
            response = await http.post(
                f"{intake.url}/v1/stories/{approved}/responses",
                headers=as_("staff"),
                json={
                    "body": "Thank you for telling us.",
                    "responder": {"display_name": "Ann", "role": "Ward manager"},
                },
            )
            assert response.status_code == 201, response.text

        conn = await asyncpg.connect(platform.databases["story-intake"])
        try:
            recorded = await conn.fetchval(
                "SELECT responder_subject FROM responses WHERE story_id = $1",
                uuid.UUID(approved),
            )
        finally:
            await conn.close()
        assert recorded == who["staff"]
