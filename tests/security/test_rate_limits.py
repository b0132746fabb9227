"""The submission rate limit, against real story-intake processes and PostgreSQL.

- A client is who connected, unless that peer is a trusted proxy
  (CANDOUR_TRUSTED_PROXIES, empty by default): then the address it forwarded.
  Anyone else's X-Forwarded-For (and X-Forwarded-Proto) is ignored.
- The count holds across copies of the service: two copies share one limit.
- Idle clients are forgotten, and the process keeps nothing per client: memory
  stays flat under 100,000 distinct clients (counted against the real database).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from candour_common.topics import TopicNames
from tests.conftest import free_port
from tests.integration.intake.conftest import SECRET, STORY, seed_intake_database
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

CreateDatabase = Callable[[str], Awaitable[str]]
StartIntake = Callable[..., Awaitable[ServiceProcess]]


@pytest.fixture
async def intake_database(create_database: CreateDatabase) -> str:
    url = await create_database("intake")
    await seed_intake_database(url)
    return url


@pytest.fixture
async def start_intake(
    intake_database: str, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> AsyncIterator[StartIntake]:
    """Start copies of story-intake on one database (limit 3 stories a minute)."""
    started: list[ServiceProcess] = []

    async def start(**env: str) -> ServiceProcess:
        process = ServiceProcess(
            name="story-intake",
            port=free_port(),
            env={
                "CANDOUR_DATABASE_URL": intake_database,
                "CANDOUR_KAFKA_BOOTSTRAP": kafka_bootstrap,
                "CANDOUR_TOPIC_PREFIX": topics.prefix,
                "CANDOUR_JWT_SECRET": SECRET,
                "CANDOUR_SUBMISSION_RATE_LIMIT": "3",
                "CANDOUR_SUBMISSION_RATE_WINDOW": "60",
                **env,
            },
            log_path=tmp_path / f"intake-{len(started)}.log",
        )
        process.start()
        started.append(process)
        await process.wait_ready()
        return process

    yield start
    for process in started:
        process.stop()


async def submit(http: httpx.AsyncClient, intake: ServiceProcess, **headers: str) -> int:
    answer = await http.post(f"{intake.url}/v1/stories", json=STORY, headers=headers)
    assert answer.status_code in (201, 429), answer.text
    return answer.status_code


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(start_intake: StartIntake) -> None:
    intake = await start_intake()  # CANDOUR_TRUSTED_PROXIES unset: trust no one
    async with httpx.AsyncClient(timeout=30) as http:
        codes = [
            await submit(http, intake, **{"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(4)
        ]
        assert codes == [201, 201, 201, 429], "a made-up X-Forwarded-For dodged the limit"
        claims_https = await http.get(f"{intake.url}/share", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in claims_https.headers


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    start_intake: StartIntake,
) -> None:
    intake = await start_intake(CANDOUR_TRUSTED_PROXIES="10.0.0.0/8, 127.0.0.1/32")
    alice, bob = "198.51.100.7", "198.51.100.8"
    async with httpx.AsyncClient(timeout=30) as http:
        alice_codes = [await submit(http, intake, **{"X-Forwarded-For": alice}) for _ in range(4)]
        assert alice_codes == [201, 201, 201, 429]
        assert await submit(http, intake, **{"X-Forwarded-For": bob}) == 201
        # Alice cannot pass as someone else by putting an address before her own: the
        # proxy appends who connected to it, and that is the address that counts.
        spoofed = await submit(http, intake, **{"X-Forwarded-For": f"192.0.2.1, {alice}"})
        assert spoofed == 429
        # Through two trusted proxies (10.1.2.3 forwarded to 127.0.0.1): still Alice.
        chained = await submit(http, intake, **{"X-Forwarded-For": f"{alice}, 10.1.2.3"})
        assert chained == 429


async def test_two_copies_share_one_limit(start_intake: StartIntake) -> None:
    first, second = await start_intake(), await start_intake()
    async with httpx.AsyncClient(timeout=30) as http:
        codes = [await submit(http, copy) for copy in (first, second, first, second, first)]
    assert codes == [201, 201, 201, 429, 429], "each copy counted on its own"


async def test_idle_clients_are_forgotten_and_memory_stays_flat(intake_database: str) -> None:
    from candour_common.http.limits import RateLimiter  # here: the other tests run without it

    pool = await asyncpg.create_pool(intake_database, min_size=8, max_size=8)
    assert pool is not None
    limiter = RateLimiter("memory-test", 5, 2.0, key=b"k" * 32)

    async def clients(first: int, count: int) -> None:
        queue = iter(range(first, first + count))

        async def worker() -> None:
            for n in queue:
                address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
                assert await limiter.check(pool, address) is None

        await asyncio.gather(*(worker() for _ in range(8)))

    try:
        await clients(0, 5_000)  # warm: the pool, prepared statements, caches
        gc.collect()
        process = psutil.Process()
        baseline = process.memory_info().rss
        started = time.monotonic()
        await clients(5_000, 100_000)
        took = time.monotonic() - started
        gc.collect()
        grown = process.memory_info().rss - baseline
        print(f"100,000 distinct clients in {took:.1f}s; RSS grew {grown / 2**20:.1f} MiB")
        # The in-process limiter this replaced kept a deque per client: 85 MiB more
        # for 100,000 of them. Now nothing per client stays in the process; the bound
        # leaves room for allocator noise only.
        assert grown < 4 * 2**20, f"RSS grew {grown / 2**20:.1f} MiB over 100,000 clients"

        # Idle clients are forgotten: two windows later, the next check clears them out.
        await asyncio.sleep(2 * limiter.window + 0.5)
        assert await limiter.check(pool, "192.0.2.200") is None
        async with pool.acquire() as conn:
            left = await conn.fetchval(
                "SELECT count(*) FROM rate_limit_hits WHERE bucket = 'memory-test'"
            )
        assert left == 1, f"{left} idle clients still counted"
    finally:
        await pool.close()
