"""The platform a benchmark measures: fresh databases and topics, the four services as
separate OS processes (optionally each under cProfile), a staff subscription per
organisation, and each process's CPU seconds and peak memory."""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from candour_common.auth import Role, issue_token
from candour_common.kafka_admin import ensure_topics
from candour_common.runtime import migrate_database
from candour_common.topics import TopicNames
from candour_intake.adapters import repository
from candour_intake.domain import Organisation as IntakeOrganisation
from candour_intake.domain import Service
from harness.servers import Infra
from harness.stories import Organisation
from harness.usage import ProcessUsage, infrastructure_cpu_seconds, own_cpu_seconds, own_rss
from tests.infra import create_fresh_database, delete_topics, drop_databases, free_port
from tests.processes import MODULES, ServiceProcess

JWT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef"  # noqa: S105 - signs tokens for throwaway services
UNSUBSCRIBE_SECRET = "bench-unsubscribe-0123456789abcdef0123456789"  # noqa: S105 - likewise


@dataclass
class Platform:
    """Fresh databases and topics, four service processes, one subscription per organisation."""

    infra: Infra
    orgs: list[Organisation]
    smtp_port: int
    work_dir: Path
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    profile: bool = False
    subscribe_staff: bool = True
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    usage: dict[str, ProcessUsage] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)  # service -> URL
    _database_names: list[str] = field(default_factory=list)
    _sampler: asyncio.Task[None] | None = None
    _bench_cpu_at_mark: float = 0.0
    _infra_cpu_at_mark: dict[str, float] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"bench{self.run_id}."

    def url(self, service: str) -> str:
        return self.services[service].url

    def operator_headers(self) -> dict[str, str]:
        token = issue_token(JWT_SECRET, role=Role.OPERATOR, subject="bench")
        return {"Authorization": f"Bearer {token}"}

    async def _create_databases(self) -> None:
        for service in MODULES:
            name, url = await create_fresh_database(
                self.infra.postgres_url, f"bench_{service.replace('-', '_')}"
            )
            self._database_names.append(name)
            self.databases[service] = url

    async def _seed_directory(self) -> None:
        await migrate_database(self.databases["story-intake"], "candour_intake.migrations")
        conn = await asyncpg.connect(self.databases["story-intake"])
        try:
            for org in self.orgs:
                await repository.PostgresDirectory(conn).upsert(
                    IntakeOrganisation(
                        id=org.id,
                        name=org.name,
                        type="nhs_trust",
                        services=tuple(Service(id=i, name=n) for i, n in org.services),
                    ),
                )
        finally:
            await conn.close()

    def _environments(self, ports: dict[str, int]) -> dict[str, dict[str, str]]:
        common = {
            "CANDOUR_KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
            "CANDOUR_TOPIC_PREFIX": self.prefix,
            "CANDOUR_JWT_SECRET": JWT_SECRET,
            "CANDOUR_UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
            "CANDOUR_LOG_LEVEL": "WARNING",
        }
        specific = {
            "story-intake": {"CANDOUR_SUBMISSION_RATE_LIMIT": "1000000000"},
            "moderation": {"CANDOUR_AUTO_APPROVE": "true"},
            "notifications": {
                "CANDOUR_SMTP_HOST": "127.0.0.1",
                "CANDOUR_SMTP_PORT": str(self.smtp_port),
                "CANDOUR_SEARCH_PUBLIC_URL": f"http://127.0.0.1:{ports['search']}",
            },
            "search": {},
        }
        return {
            name: {
                **common,
                "CANDOUR_DATABASE_URL": self.databases[name],
                **specific[name],
                **self.service_env.get(name, {}),
            }
            for name in MODULES
        }

    async def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        await self._create_databases()
        await ensure_topics(self.infra.kafka_bootstrap, TopicNames(self.prefix), partitions=3)
        await self._seed_directory()
        ports = {name: free_port() for name in MODULES}
        for name, env in self._environments(ports).items():
            service = ServiceProcess(
                name=name,
                port=ports[name],
                env=env,
                log_path=self.work_dir / f"{name}.log",
                profile_path=self.work_dir / f"{name}.prof" if self.profile else None,
            )
            service.start()
            self.services[name] = service
            self.usage[name] = ProcessUsage(service)
        timeout = 240 if self.infra.broker_kind == "tansu" else 90
        await asyncio.gather(*(s.wait_ready(timeout) for s in self.services.values()))
        if self.subscribe_staff:
            async with httpx.AsyncClient(timeout=30) as http:
                for org in self.orgs:
                    await self.subscribe(http, org.staff_email, org.id)
        await asyncio.sleep(1.0)  # let start-up settle before reading idle memory
        for usage in self.usage.values():
            usage.idle_rss = usage.peak_rss = usage.rss()
        self._sampler = asyncio.create_task(self._sample_rss())

    async def subscribe(self, http: httpx.AsyncClient, email: str, org_id: str) -> None:
        response = await http.post(
            f"{self.url('notifications')}/v1/subscriptions",
            headers=self.operator_headers(),
            json={
                "email": email,
                "organisation_id": org_id,
                "frequency": "immediate",
                "kind": "stories",
            },
        )
        if response.status_code != 201:
            raise RuntimeError(f"subscription refused: {response.status_code} {response.text}")

    async def _sample_rss(self) -> None:
        while True:
            for usage in self.usage.values():
                usage.peak_rss = max(usage.peak_rss, usage.rss())
            await asyncio.sleep(0.5)

    def mark_cpu(self) -> None:
        """Start of the measured window: CPU seconds are counted from here."""
        for usage in self.usage.values():
            usage.cpu_at_mark = usage.cpu_seconds()
        self._infra_cpu_at_mark = infrastructure_cpu_seconds()
        self._bench_cpu_at_mark = own_cpu_seconds()

    def process_report(self) -> dict[str, dict[str, float]]:
        report = {
            name: {
                "cpu_seconds": round(u.cpu_seconds() - u.cpu_at_mark, 2),
                "peak_rss_mb": round(u.peak_rss / 2**20, 1),
                "idle_rss_mb": round(u.idle_rss / 2**20, 1),
            }
            for name, u in self.usage.items()
        }
        report["bench (load generator)"] = {
            "cpu_seconds": round(own_cpu_seconds() - self._bench_cpu_at_mark, 2),
            "peak_rss_mb": round(own_rss() / 2**20, 1),
            "idle_rss_mb": math.nan,
        }
        for name, seconds in infrastructure_cpu_seconds().items():
            report[name] = {
                "cpu_seconds": round(seconds - self._infra_cpu_at_mark.get(name, 0.0), 2),
                "peak_rss_mb": math.nan,
                "idle_rss_mb": math.nan,
            }
        return report

    async def indexed_at(self, story_ids: Iterable[str] | None = None) -> dict[str, float]:
        """When search committed each story (its `indexed_at`), as Unix seconds."""
        conn = await asyncpg.connect(self.databases["search"])
        try:
            rows = await conn.fetch(
                "SELECT story_id::text AS id, extract(epoch FROM indexed_at)::float8 AS at "
                "FROM search_stories"
            )
        finally:
            await conn.close()
        wanted = set(story_ids) if story_ids is not None else None
        return {r["id"]: r["at"] for r in rows if wanted is None or r["id"] in wanted}

    async def hop_times(self, story_ids: Iterable[str]) -> dict[str, dict[str, float]]:
        """When each story passed each hop, as Unix seconds: stage -> story id -> time.

        Read from the services' own rows (transaction start times, `now()`), so the
        stages of one story can be told apart without instrumenting the services:
        intake's transaction, intake's relay picking the event up, moderation's
        transaction that queued it, its decision, moderation's relay picking up
        `story.approved`, search's index commit.
        """
        wanted = set(story_ids)
        queries = {
            "intake transaction": (
                "story-intake",
                "SELECT key AS id, extract(epoch FROM created_at)::float8 AS at "
                "FROM outbox WHERE topic = 'story.submitted'",
            ),
            "intake relayed": (
                "story-intake",
                "SELECT key AS id, extract(epoch FROM sent_at)::float8 AS at "
                "FROM outbox WHERE topic = 'story.submitted' AND sent_at IS NOT NULL",
            ),
            "moderation received": (
                "moderation",
                "SELECT story_id::text AS id, extract(epoch FROM received_at)::float8 AS at "
                "FROM queue_items",
            ),
            "moderation decided": (
                "moderation",
                "SELECT story_id::text AS id, extract(epoch FROM decided_at)::float8 AS at "
                "FROM queue_items WHERE decided_at IS NOT NULL",
            ),
            "moderation relayed": (
                "moderation",
                "SELECT key AS id, extract(epoch FROM sent_at)::float8 AS at "
                "FROM outbox WHERE topic = 'story.approved' AND sent_at IS NOT NULL",
            ),
            "search indexed": (
                "search",
                "SELECT story_id::text AS id, extract(epoch FROM indexed_at)::float8 AS at "
                "FROM search_stories",
            ),
        }
        hops: dict[str, dict[str, float]] = {}
        for stage, (service, sql) in queries.items():
            conn = await asyncpg.connect(self.databases[service])
            try:
                rows = await conn.fetch(sql)
            finally:
                await conn.close()
            hops[stage] = {r["id"]: r["at"] for r in rows if r["id"] in wanted}
        return hops

    async def indexed_count(self, conn: asyncpg.Connection) -> int:
        return int(await conn.fetchval("SELECT count(*) FROM search_stories"))

    async def stop(self) -> dict[str, int | None]:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        codes = {name: s.stop(timeout=30) for name, s in self.services.items()}
        await self._drop()
        return codes

    async def _drop(self) -> None:
        with contextlib.suppress(Exception):
            await drop_databases(self.infra.postgres_url, self._database_names)
        await delete_topics(self.infra.kafka_bootstrap, self.prefix)
