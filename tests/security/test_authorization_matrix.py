"""The authorization matrix, as one table: every kind of caller against every protected call
of every service (real processes), and exactly the allowed calls get past authorization.

"Allowed" means authorization let the call through: any answer but 401/403 (a 409 because
the story is not yet published, or was just claimed by the moderator row before, is still
an authorized call). "Denied" means 401 or 403, as problem+json.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from candour_common.auth import ISSUER, Role, issue_token
from candour_common.topics import TopicNames
from tests.faults.platform import (
    CLEAN_BODY,
    OTHER_TRUST,
    SECRET,
    TRUST,
    Platform,
    RestartableSmtp,
    eventually,
    platform_setup,
    start,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def _alg_none_token(role: Role) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "mallory", "role": role.value, "iat": now, "exp": now + 600}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _jwt(role: Role, organisation_id: str | None = None, **kwargs: Any) -> str:
    secret = kwargs.pop("secret", SECRET)
    return issue_token(
        secret, role=role, subject=f"{role.value}-1", organisation_id=organisation_id, **kwargs
    )


@dataclass(frozen=True)
class Call:
    service: str
    method: str
    path: str
    allowed: frozenset[str]
    body: dict[str, Any] | None = None


# The author's own token goes last in every row: the final row withdraws the story.
CALLERS = (
    "anonymous",
    "author of another story",
    "staff of the story's organisation",
    "staff of another organisation",
    "moderator",
    "operator",
    "expired operator token",
    "operator token signed with another key",
    "operator token with alg none",
    "author",
)

MATRIX = (
    Call("story-intake", "GET", "/v1/stories/{story}/status", frozenset({"author"})),
    Call(
        "story-intake",
        "POST",
        "/v1/stories/{story}/responses",
        frozenset({"staff of the story's organisation"}),
        {"body": "Thank you for telling us.", "responder": {"display_name": "Jo", "role": "Lead"}},
    ),
    Call("moderation", "GET", "/v1/queue", frozenset({"moderator", "operator"})),
    Call("moderation", "GET", "/v1/queue/{story}", frozenset({"moderator", "operator"})),
    Call("moderation", "POST", "/v1/queue/{story}/claim", frozenset({"moderator", "operator"})),
    Call(
        "moderation",
        "POST",
        "/v1/queue/{story}/decision",
        frozenset({"moderator", "operator"}),
        {"decision": "approve", "criticality": 1},
    ),
    Call(
        "notifications",
        "POST",
        "/v1/subscriptions",
        frozenset({"staff of the story's organisation", "operator"}),
        {
            "email": "ward@trust.example",
            "organisation_id": TRUST.id,
            "frequency": "immediate",
            "kind": "stories",
        },
    ),
    Call(
        "notifications",
        "GET",
        "/v1/subscriptions",
        # Staff of another organisation see their own organisation's list, not this one's.
        frozenset(
            {"staff of the story's organisation", "staff of another organisation", "operator"}
        ),
    ),
    Call(
        "story-intake",
        "PUT",
        "/v1/stories/{story}",
        frozenset({"author"}),
        {"title": "Changed", "body": "Changed by its author.", "organisation_id": TRUST.id},
    ),
    Call("story-intake", "DELETE", "/v1/stories/{story}", frozenset({"author"})),
)


@pytest.fixture
async def platform(
    create_database, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> AsyncIterator[Platform]:
    both: tuple[Platform, RestartableSmtp]
    async with platform_setup(create_database, kafka_bootstrap, topics, tmp_path) as both:
        # A moderator decides here: the story must stay in the queue for the matrix.
        both[0].env["moderation"]["CANDOUR_AUTO_APPROVE"] = "false"
        await start(both[0])
        yield both[0]


async def test_exactly_the_allowed_callers_get_through(platform: Platform) -> None:
    story_in = {
        "title": "Seen quickly",
        "body": CLEAN_BODY,
        "organisation_id": TRUST.id,
        "author": {"display_name": "Sam", "relationship": "patient"},
    }
    async with httpx.AsyncClient(timeout=10) as http:
        intake = platform.one("story-intake").url
        mine = (await http.post(f"{intake}/v1/stories", json=story_in)).json()
        other = (await http.post(f"{intake}/v1/stories", json=story_in)).json()
        story = mine["story_id"]
        moderator_headers = {"Authorization": f"Bearer {_jwt(Role.MODERATOR)}"}

        async def queued() -> bool:
            answer = await http.get(
                f"{platform.one('moderation').url}/v1/queue/{story}", headers=moderator_headers
            )
            return answer.status_code == 200

        await eventually(queued, timeout=60, what="the story in the moderation queue")

        tokens: dict[str, str | None] = {
            "anonymous": None,
            "author": mine["author_token"],
            "author of another story": other["author_token"],
            "staff of the story's organisation": _jwt(Role.STAFF, TRUST.id),
            "staff of another organisation": _jwt(Role.STAFF, OTHER_TRUST.id),
            "moderator": _jwt(Role.MODERATOR),
            "operator": _jwt(Role.OPERATOR),
            "expired operator token": _jwt(Role.OPERATOR, ttl=timedelta(seconds=-60)),
            "operator token signed with another key": _jwt(
                Role.OPERATOR, secret="another-key-0123456789abcdef0123456789abcdef"
            ),
            "operator token with alg none": _alg_none_token(Role.OPERATOR),
        }
        wrong: list[str] = []
        for call in MATRIX:
            for caller in CALLERS:
                token = tokens[caller]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                answer = await http.request(
                    call.method,
                    platform.one(call.service).url + call.path.format(story=story),
                    headers=headers,
                    json=call.body,
                )
                row = f"{call.method} {call.service}{call.path} as {caller}: {answer.status_code}"
                if caller in call.allowed:
                    if answer.status_code in (401, 403) or answer.status_code >= 500:
                        wrong.append(f"{row} (should be allowed) {answer.text[:200]}")
                elif answer.status_code not in (401, 403):
                    wrong.append(f"{row} (should be denied) {answer.text[:200]}")
                elif not answer.headers["content-type"].startswith("application/problem+json"):
                    wrong.append(f"{row} denied without problem+json")
    assert not wrong, "authorization matrix violations:\n" + "\n".join(wrong)
