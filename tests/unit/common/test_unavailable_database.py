"""A connection that broke under the caller is an outage, not a bad message or a bug.

When PostgreSQL shuts down, a pooled connection can be left half way through the
protocol and asyncpg raises `InternalClientError` on its next use. A consumer must
wait and retry that record (never count it towards dead-lettering), and an HTTP
request must get 503 problem+json (never 500).
"""

from __future__ import annotations

import asyncpg
import httpx
from fastapi import FastAPI

from candour_common.http.problems import install_problem_handlers
from candour_common.messaging import PERMANENT_ERRORS, TRANSIENT_ERRORS

BROKEN = asyncpg.exceptions.InternalClientError(
    "cannot switch to state 11; another operation (2) is in progress"
)


def test_a_broken_connection_is_an_outage_to_the_consumer_never_a_bad_message() -> None:
    # EventConsumer waits out and retries TRANSIENT_ERRORS (never dead-lettering them);
    # only PERMANENT_ERRORS count towards the DLQ.
    assert isinstance(BROKEN, TRANSIENT_ERRORS)
    assert not isinstance(BROKEN, PERMANENT_ERRORS)


async def test_http_answers_503_problem_for_a_broken_connection() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/broken")
    async def broken() -> None:
        raise BROKEN

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.get("/broken")

    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["status"] == 503
