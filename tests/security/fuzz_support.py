"""Run one service as a real process for schemathesis, with a fresh database and topics."""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import schemathesis

from candour_common.auth import Role, issue_token
from candour_common.kafka_admin import ensure_topics
from candour_common.topics import TopicNames
from tests import infra
from tests.conftest import free_port
from tests.integration.intake.conftest import seed_intake_database
from tests.processes import ServiceProcess

SECRET = "fuzz-secret-0123456789abcdef0123456789abcdef"
UNSUBSCRIBE_SECRET = "fuzz-unsubscribe-0123456789abcdef0123456789a"

# Authorise the calls that need it, so the fuzzer reaches validation, not just 401s.
TOKENS: dict[str, dict[str, str]] = {
    "story-intake": {"role": Role.STAFF, "org": "TAD"},
    "moderation": {"role": Role.MODERATOR},
    "notifications": {"role": Role.OPERATOR},
    "search": {},
}


def _run(coro: Any) -> Any:
    # Fixtures here are synchronous; run the async set-up on a loop of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _prepare(server_url: str, name: str, bootstrap: str, topics: TopicNames) -> str:
    db = infra.fresh_name(f"fuzz_{name.replace('-', '_')}")
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{db}"')
    finally:
        await conn.close()
    url = infra.database_url(server_url, db)
    if name == "story-intake":
        await seed_intake_database(url)
    await ensure_topics(bootstrap, topics)
    return url


@contextmanager
def running_service(
    name: str, *, server_url: str, bootstrap: str, log_dir: Path
) -> Iterator[tuple[ServiceProcess, dict[str, str]]]:
    topics = TopicNames(f"fuzz{uuid.uuid4().hex[:8]}.")
    url = _run(_prepare(server_url, name, bootstrap, topics))
    service = ServiceProcess(
        name=name,
        port=free_port(),
        env={
            "CANDOUR_DATABASE_URL": url,
            "CANDOUR_KAFKA_BOOTSTRAP": bootstrap,
            "CANDOUR_TOPIC_PREFIX": topics.prefix,
            "CANDOUR_JWT_SECRET": SECRET,
            "CANDOUR_UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
            "CANDOUR_SUBMISSION_RATE_LIMIT": "100000",
            "CANDOUR_SMTP_PORT": "1",  # nothing is mailed in these tests
        },
        log_path=log_dir / f"{name}.log",
    )
    service.start()
    try:
        _run(service.wait_ready())
        token = TOKENS[name]
        headers = (
            {
                "Authorization": "Bearer "
                + issue_token(
                    SECRET, role=token["role"], subject="fuzz", organisation_id=token.get("org")
                )  # type: ignore[arg-type]
            }
            if token
            else {}
        )
        yield service, headers
    finally:
        service.stop()
        if "Traceback" in service.logs():
            print(service.logs()[-5000:])


@schemathesis.check
def errors_are_problem_json(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx answer is RFC 9457 problem+json."""
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])
        value = content_type[0] if isinstance(content_type, list) else content_type
        if not value.startswith("application/problem+json"):
            raise AssertionError(
                f"{response.status_code} answered with {value!r}, not problem+json"
            )
    return None


def fuzz_every_operation(
    base_url: str, headers: dict[str, str], *, examples: int = 25
) -> list[str]:
    """Generate inputs for every operation; return the failures (empty when all is well)."""
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            case.call_and_validate(
                base_url=base_url,
                headers=headers,
                checks=[not_a_server_error, errors_are_problem_json],
                timeout=10,
            )

        try:
            exercise()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}"[:3000])
    assert operations > 0, "the schema lists no operations"
    return failures
