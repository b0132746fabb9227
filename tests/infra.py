"""Where the tests' Kafka, PostgreSQL and SMTP come from.

Order of preference: addresses named in the environment (`CANDOUR_TEST_KAFKA`,
`CANDOUR_TEST_DATABASE_URL`), then testcontainers when a Docker engine answers,
then the local servers from `deploy/local` (started here if not running).

The benchmarks (bench/harness) use the same databases, topics and SMTP sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from functools import cached_property
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def docker_engine_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_local(script: str) -> str:
    """Start a `deploy/local` server (kafka.sh, postgres.sh) unless it runs; its address.

    The first start downloads Apache Kafka or unpacks PostgreSQL: minutes, not seconds.
    """
    out = subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / script), "start"],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return out.stdout.strip().splitlines()[-1].strip()


@contextlib.contextmanager
def kafka_bootstrap() -> Iterator[str]:
    if env := os.environ.get("CANDOUR_TEST_KAFKA"):
        yield env
    elif docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
    else:
        yield start_local("kafka.sh")


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    if env := os.environ.get("CANDOUR_TEST_DATABASE_URL"):
        yield env
    elif docker_engine_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:17", driver=None) as pg:
            yield pg.get_connection_url()
    else:
        yield start_local("postgres.sh")


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of `server_url`."""
    base, _, query = server_url.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}" + (f"?{query}" if query else "")


def fresh_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def create_fresh_database(server_url: str, prefix: str) -> tuple[str, str]:
    """A new, empty database on the server: (its name, its URL)."""
    import asyncpg

    name = fresh_name(prefix)
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, database_url(server_url, name)


async def drop_databases(server_url: str, names: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(server_url)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# The story page (`/stories/{id}`) that emails link to; older emails linked the API.
STORY_LINK = re.compile(
    rb"/(?:v1/)?stories/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)


@dataclass
class ReceivedMail:
    envelope_from: str
    envelope_to: list[str]
    content: bytes
    received_at: float = field(default_factory=time.time)  # wall clock, as the services log

    # Parsed when first read, not as it arrives: the fan-out benchmark receives
    # thousands a second and reads only a few.
    @cached_property
    def message(self) -> Message:
        return message_from_bytes(self.content)

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def text(self) -> str:
        parts = self.message.walk() if self.message.is_multipart() else [self.message]
        out = []
        for part in parts:
            if part.get_content_maintype() == "text":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    out.append(payload.decode(part.get_content_charset() or "utf-8"))
        return "\n".join(out)

    @cached_property
    def story_id(self) -> str | None:
        """The story this email links to (its page, `/stories/{id}`), if any."""
        if match := STORY_LINK.search(self.content):
            return match.group(1).decode()
        # Quoted-printable or base64 bodies: decode the text parts and look again.
        for part in self.message.walk():
            if part.get_content_maintype() == "text":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes) and (match := STORY_LINK.search(payload)):
                    return match.group(1).decode()
        return None


@dataclass
class MailSink:
    """What a real aiosmtpd server on 127.0.0.1 received.

    aiosmtpd serves from a thread of its own: read `snapshot()` (or `to()`) while
    mail may still arrive."""

    host: str
    port: int
    messages: list[ReceivedMail] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        mail = ReceivedMail(
            envelope_from=envelope.mail_from,  # type: ignore[attr-defined]
            envelope_to=list(envelope.rcpt_tos),  # type: ignore[attr-defined]
            content=envelope.content,  # type: ignore[attr-defined]
        )
        with self._lock:
            self.messages.append(mail)
        return "250 Message accepted for delivery"

    def snapshot(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self.messages)

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.snapshot() if address in m.envelope_to]

    async def wait_for(
        self, address: str, *, count: int = 1, timeout: float = 30
    ) -> list[ReceivedMail]:
        async with asyncio.timeout(timeout):
            while len(self.to(address)) < count:
                await asyncio.sleep(0.1)
        return self.to(address)


@contextlib.contextmanager
def smtp_server(sink: MailSink | None = None) -> Iterator[MailSink]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives in `sink`."""
    from aiosmtpd.controller import Controller

    sink = sink or MailSink(host="127.0.0.1", port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    partition: int
    offset: int


async def read_topic(
    bootstrap: str, topic: str, *, at_least: int, timeout: float = 30, settle: float = 0.0
) -> list[Record]:
    """Read a topic from the beginning until `at_least` records arrived (then `settle` s more)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Record] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        settle_until: float | None = None
        while loop.time() < deadline:
            if len(records) >= at_least:
                settle_until = settle_until or loop.time() + settle
                if loop.time() >= settle_until:
                    break
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                records.extend(
                    Record(
                        key=m.key,
                        value=m.value,
                        headers={k: v.decode() for k, v in m.headers},
                        partition=m.partition,
                        offset=m.offset,
                    )
                    for m in msgs
                )
    finally:
        await consumer.stop()
    return records


@contextlib.asynccontextmanager
async def serving(app: object) -> AsyncIterator[object]:
    """Run an ASGI app's lifespan (real pool, broker, relay) and yield an httpx client.

    The client speaks as a browser reaching production over https does, so the
    Secure cookies (sessions, CSRF) come back to the app as they would there.
    """
    import httpx
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
            yield client


async def admin_get(app: object, path: str) -> Any:
    """GET `path` (`/readyz`, `/metrics`) from the admin app `build_app` made beside `app`:
    those are served on the admin port only, never by the public app."""
    import httpx

    from candour_common.runtime import admin_app

    transport = httpx.ASGITransport(app=admin_app(app))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        return await client.get(path)


@dataclass
class PrivateKafka:
    """An Apache Kafka broker of one test's own, which that test may stop and start.

    `env`: more of kafka.sh's settings (e.g. a SASL_SSL listener)."""

    state_dir: Path
    port: int
    controller_port: int
    env: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, action: str) -> str:
        env = {
            **os.environ,
            "CANDOUR_LOCAL_DIR": str(self.state_dir),
            "CANDOUR_KAFKA_PORT": str(self.port),
            "CANDOUR_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            **self.env,
        }
        out = subprocess.run(
            ["bash", str(ROOT / "deploy" / "local" / "kafka.sh"), action],
            check=True,
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
        )
        return out.stdout

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")


@dataclass
class KafkaCluster:
    """Three Apache Kafka nodes (KRaft, each broker and controller) of the tests' own, from
    `deploy/local/kafka.sh cluster`, whose brokers a test may kill and start again."""

    state_dir: Path
    ports: tuple[int, int, int]
    controller_ports: tuple[int, int, int]

    @property
    def bootstrap(self) -> str:
        return ",".join(self.address(node) for node in self.nodes)

    @property
    def nodes(self) -> tuple[int, int, int]:
        return (1, 2, 3)

    def address(self, node: int) -> str:
        return f"127.0.0.1:{self.ports[node - 1]}"

    def _run(self, *args: str) -> str:
        env = {
            **os.environ,
            "CANDOUR_LOCAL_DIR": str(self.state_dir),
            "CANDOUR_KAFKA_CLUSTER_PORTS": ",".join(map(str, self.ports)),
            "CANDOUR_KAFKA_CLUSTER_CONTROLLER_PORTS": ",".join(map(str, self.controller_ports)),
        }
        # Output to a file, not a pipe: see tests.faults.private_postgres.
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = self.state_dir / f"kafka-{'-'.join(args)}.out"
        with log.open("w") as out:
            done = subprocess.run(
                ["bash", str(ROOT / "deploy" / "local" / "kafka.sh"), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=240,
                env=env,
            )
        text = log.read_text()
        if done.returncode != 0:
            raise RuntimeError(f"kafka.sh {' '.join(args)} failed ({done.returncode}):\n{text}")
        return text

    def start(self) -> None:
        self._run("cluster", "start")

    def stop(self) -> None:
        self._run("cluster", "stop")

    def kill(self, node: int) -> None:
        """SIGKILL one broker: a crash, no controlled shutdown."""
        self._run("broker", "kill", str(node))

    def start_broker(self, node: int) -> None:
        """Start one broker again; returns once the cluster lists it."""
        self._run("broker", "start", str(node))

    def log(self, node: int) -> Path:
        return self.state_dir / "kafka-cluster" / f"node-{node}" / "logs" / "server.log"


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """Delete every topic under `prefix` (best effort).

    Each test gets its own prefix; left behind, their partitions pile up on a
    long-lived local broker until it runs out of file descriptors.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    except Exception:  # clean-up must never fail a test
        pass
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
