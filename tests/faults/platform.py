"""The four services as real OS processes on 127.0.0.1, with helpers to drive and check them.

Used by the fault tests (kill -9, two copies, outages) and the process-level
security tests (privacy in logs, topics and emails).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from candour_common.auth import Role, issue_token
from candour_common.dlq import read_dead_letters
from candour_common.kafka_connection import KafkaConnection
from candour_common.runtime import migrate_database
from candour_common.topics import Topic, TopicNames
from candour_intake.adapters import repository
from candour_intake.domain import Organisation, Service
from candour_notifications.settings import NotificationsSettings
from tests.conftest import free_port
from tests.infra import MailSink
from tests.processes import ServiceProcess

# Emails a killed notifications process may have had in flight: one per SMTP session.
SMTP_SESSIONS: int = NotificationsSettings.model_fields["smtp_sessions"].default

SERVICES = ("story-intake", "moderation", "notifications", "search")
CONSUMERS = ("moderation", "notifications", "search")
# Which topics each consumer reads (its DLQs are where its failures would land).
CONSUMED: dict[str, tuple[Topic, ...]] = {
    "moderation": (Topic.STORY_SUBMITTED, Topic.STORY_WITHDRAWN, Topic.SAFEGUARDING_UPDATED),
    "notifications": (
        Topic.STORY_SUBMITTED,
        Topic.STORY_APPROVED,
        Topic.RESPONSE_POSTED,
        Topic.STORY_WITHDRAWN,
        Topic.SAFEGUARDING_RAISED,
    ),
    "search": (Topic.STORY_APPROVED, Topic.RESPONSE_POSTED, Topic.STORY_WITHDRAWN),
    "story-intake": (Topic.STORY_APPROVED, Topic.STORY_REJECTED),
}

SECRET = "faults-secret-0123456789abcdef0123456789abcdef"
UNSUBSCRIBE_SECRET = "faults-unsubscribe-0123456789abcdef0123456789"
SUBSCRIBER = "alerts@trust.example"
TRUST = Organisation(
    id="TAD",
    name="Bradford District Care NHS Foundation Trust",
    type="nhs_trust",
    services=(Service(id="TAD-CMHT", name="Community mental health team"),),
)
OTHER_TRUST = Organisation(
    id="RXF",
    name="Mid Yorkshire Teaching NHS Trust",
    type="nhs_trust",
    services=(Service(id="RXF-AE", name="Emergency department"),),
)
# Text the moderation screening finds nothing in, so auto-approval publishes it.
_DIGITS_TO_LETTERS = str.maketrans("0123456789", "ghijklmnop")
CLEAN_BODY = "The team listened carefully and called me back the same day. Thank you all."


def bearer(role: Role, *, organisation_id: str | None = None, subject: str = "t") -> dict[str, str]:
    token = issue_token(SECRET, role=role, subject=subject, organisation_id=organisation_id)
    return {"Authorization": f"Bearer {token}"}


async def eventually(
    check: Callable[[], Awaitable[Any]],
    *,
    timeout: float = 60,
    what: str = "condition",
    explain: Callable[[], Awaitable[str]] | None = None,
) -> Any:
    """Poll `check` until it returns something truthy, or fail after `timeout` seconds.

    `explain` describes the state of things when the wait fails, so a timeout in CI says
    more than "timed out".
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            detail = f"\n{await explain()}" if explain is not None else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{detail}")
        await asyncio.sleep(0.3)


@dataclass
class Platform:
    # How the test itself reads Kafka (dead letters): an address, or a login on a secured one.
    kafka: KafkaConnection | str
    topics: TopicNames
    databases: dict[str, str]
    smtp: MailSink
    logs: Path
    env: dict[str, dict[str, str]]
    processes: dict[str, list[ServiceProcess]] = field(default_factory=dict)
    run_tag: str = ""

    def spawn(self, name: str, **extra_env: str) -> ServiceProcess:
        """Start one more copy of service `name` (same group, its own HTTP port)."""
        copies = self.processes.setdefault(name, [])
        process = ServiceProcess(
            name=name,
            port=free_port(),
            env={**self.env[name], **extra_env},
            log_path=self.logs / f"{name}-{len(copies)}.log",
        )
        process.start()
        copies.append(process)
        return process

    def one(self, name: str) -> ServiceProcess:
        return self.processes[name][0]

    def all_processes(self) -> list[ServiceProcess]:
        return [p for copies in self.processes.values() for p in copies]

    def all_logs(self) -> str:
        return "\n".join(p.logs() for p in self.all_processes())

    @staticmethod
    def kill9(process: ServiceProcess) -> None:
        """SIGKILL: no shutdown hooks, no offset commit, no goodbye to the group."""
        assert process.process is not None
        process.process.send_signal(signal.SIGKILL)
        process.process.wait(timeout=10)

    async def restart(self, process: ServiceProcess) -> None:
        process.start()
        await process.wait_ready()

    def stop_all(self) -> None:
        codes = {}
        for process in self.all_processes():
            code = process.stop(signal.SIGTERM)
            codes[process.log_path.stem] = code
            print(f"----- {process.log_path.name} (exit {code}) -----\n{process.logs()[-3000:]}")
        # Last, so it survives when only the tail of the output is kept.
        print(f"----- exit codes: {codes} (None: killed after ignoring SIGTERM)")

    async def describe(self) -> str:
        """Where every process and count stands: the message of a failed wait."""
        lines = []
        for process in self.all_processes():
            assert process.process is not None
            code = process.process.poll()
            state = "running" if code is None else f"exited {code}"
            last = process.logs().rstrip().rsplit("\n", 1)[-1][:300]
            lines.append(f"  {process.log_path.stem} pid {process.process.pid} {state}: {last}")
        deliveries = await self.fetch(
            "notifications", "SELECT status, count(*) AS n FROM deliveries GROUP BY status"
        )
        indexed = await self.fetch("search", "SELECT count(*) AS n FROM search_stories")
        lines.append(
            f"  search total {await self.search_total()} (rows {indexed[0]['n']}), "
            f"emails {len(self.emailed_titles())}, "
            f"deliveries { ({r['status']: r['n'] for r in deliveries}) }, "
            f"dead letters {await self.dead_letters()}"
        )
        return "\n".join(lines)

    # ---- driving ----------------------------------------------------------------------
    async def subscribe_trust(self, email: str = SUBSCRIBER) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(
                f"{self.one('notifications').url}/v1/subscriptions",
                headers=bearer(Role.OPERATOR),
                json={
                    "email": email,
                    "organisation_id": TRUST.id,
                    "frequency": "immediate",
                    "kind": "stories",
                },
            )
            assert answer.status_code == 201, answer.text

    def title(self, index: int) -> str:
        return f"Story {self.run_tag} {index:04d}"

    async def submit(
        self,
        count: int,
        *,
        first: int = 0,
        concurrency: int = 4,
        submitted: list[str] | None = None,
        author_email: str | None = None,
    ) -> list[str]:
        """Submit `count` stories through intake's HTTP API; returns their ids in order."""
        ids: list[str] = [] if submitted is None else submitted
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(first, first + count):
            queue.put_nowait(i)
        intake = self.one("story-intake")

        async def worker(http: httpx.AsyncClient) -> None:
            while not queue.empty():
                i = queue.get_nowait()
                author: dict[str, Any] = {"display_name": "Sam", "relationship": "patient"}
                if author_email:
                    author |= {"email": author_email, "notify_on_response": True}
                answer = await http.post(
                    f"{intake.url}/v1/stories",
                    json={
                        "title": self.title(i),
                        "body": CLEAN_BODY,
                        "organisation_id": TRUST.id,
                        "service_id": "TAD-CMHT",
                        "author": author,
                    },
                )
                assert answer.status_code == 201, answer.text
                ids.append(answer.json()["story_id"])

        async with httpx.AsyncClient(timeout=30) as http:
            await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return ids

    # ---- observing --------------------------------------------------------------------
    async def searchable_ids(self) -> list[str]:
        """Every story id search returns, page by page (duplicates kept, to be counted)."""
        found: list[str] = []
        cursor: str | None = None
        async with httpx.AsyncClient(timeout=10) as http:
            while True:
                params: dict[str, Any] = {"limit": 100}
                if cursor:
                    params["cursor"] = cursor
                answer = await http.get(f"{self.one('search').url}/v1/search", params=params)
                answer.raise_for_status()
                page = answer.json()
                found += [r["story_id"] for r in page["results"]]
                cursor = page["next_cursor"]
                if not cursor:
                    return found

    async def search_total(self) -> int:
        async with httpx.AsyncClient(timeout=10) as http:
            for process in self.processes["search"]:
                try:
                    answer = await http.get(f"{process.url}/v1/search", params={"limit": 1})
                except httpx.HTTPError:
                    continue  # this copy is down; ask the next
                if answer.status_code == 200:
                    return int(answer.json()["total"])
        return 0

    def emailed_titles(self, address: str = SUBSCRIBER) -> Counter[str]:
        """How many emails to `address` named each story of this run."""
        pattern = re.compile(rf"Story {re.escape(self.run_tag)} \d{{4}}")
        seen: Counter[str] = Counter()
        for mail in self.smtp.to(address):
            seen.update(set(pattern.findall(mail.subject + "\n" + mail.text())))
        return seen

    async def fetch(self, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.databases[service])
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def emails_in_flight(self) -> bool:
        """Deliveries claimed by a notifications worker and not yet marked sent."""
        rows = await self.fetch(
            "notifications", "SELECT count(*) AS n FROM deliveries WHERE status = 'sending'"
        )
        return int(rows[0]["n"]) > 0

    async def dead_letters(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for topic in Topic:
            letters = await read_dead_letters(self.kafka, self.topics, topic)
            if letters:
                counts[topic.value] = len(letters)
        return counts

    async def assert_everything_exactly_once(
        self,
        ids: list[str],
        *,
        timeout: float,
        titles: set[str] | None = None,
        interrupted_sends: int = 0,
    ) -> None:
        """Every story searchable once, every immediate email sent, no dead letters.

        `titles`: the titles of `ids` when they are not simply the first len(ids) indexes.
        `interrupted_sends`: how many emails may have been mid-send when a notifications
        worker was killed (one per SMTP session of the killed worker: each sends one at
        a time; `SMTP_SESSIONS`). Such an email
        is sent again after the lease; if the server had already taken it, the second copy
        is the same message (same Message-ID). Nothing else may arrive twice.
        """
        count = len(ids)
        titles = titles if titles is not None else {self.title(i) for i in range(count)}
        assert len(set(ids)) == count

        async def search_complete() -> bool:
            return await self.search_total() >= count

        async def mail_complete() -> bool:
            return len(self.emailed_titles()) >= count

        async def deliveries_settled() -> bool:
            rows = await self.fetch(
                "notifications",
                "SELECT count(*) AS n FROM deliveries WHERE status IN ('pending', 'sending')",
            )
            return int(rows[0]["n"]) == 0

        explain = self.describe
        await eventually(
            search_complete, timeout=timeout, what=f"{count} stories in search", explain=explain
        )
        await eventually(mail_complete, timeout=timeout, what=f"{count} emails", explain=explain)
        await eventually(
            deliveries_settled, timeout=timeout, what="every delivery settled", explain=explain
        )
        # Let anything late (a redelivered duplicate) arrive before counting.
        await asyncio.sleep(3)

        found = await self.searchable_ids()
        duplicates = {i: n for i, n in Counter(found).items() if n > 1}
        assert not duplicates, f"stories listed more than once: {duplicates}"
        assert sorted(found) == sorted(ids)

        mailed = self.emailed_titles()
        assert set(mailed) == titles
        twice = {t: n for t, n in mailed.items() if n > 1}
        assert len(twice) <= interrupted_sends, f"stories emailed more than once: {twice}"
        for title in twice:
            copies = [m for m in self.smtp.to(SUBSCRIBER) if title in m.subject + m.text()]
            message_ids = {str(m.message["Message-ID"]) for m in copies}
            assert len(copies) == 2 and len(message_ids) == 1, (
                f"{title!r} arrived as {len(copies)} different emails: {message_ids}"
            )
        assert len(self.smtp.to(SUBSCRIBER)) == count + len(twice)

        statuses = await self.fetch(
            "notifications", "SELECT status, count(*) AS n FROM deliveries GROUP BY status"
        )
        by_status = {r["status"]: r["n"] for r in statuses}
        assert by_status == {"sent": count}, f"deliveries by status: {by_status}"
        assert await self.dead_letters() == {}


async def prepare_platform(
    *,
    kafka: str,
    topics: TopicNames,
    databases: dict[str, str],
    smtp: MailSink,
    logs: Path,
    run_tag: str,
    extra_env: dict[str, str] | None = None,
) -> Platform:
    """Migrate intake's database and load its directory; the processes are not started yet."""
    await migrate_database(databases["story-intake"], "candour_intake.migrations")
    conn = await asyncpg.connect(databases["story-intake"])
    try:
        await repository.PostgresDirectory(conn).upsert(TRUST)
        await repository.PostgresDirectory(conn).upsert(OTHER_TRUST)
    finally:
        await conn.close()
    common = {
        "CANDOUR_KAFKA_BOOTSTRAP": kafka,
        "CANDOUR_TOPIC_PREFIX": topics.prefix,
        "CANDOUR_JWT_SECRET": SECRET,
        "CANDOUR_UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
        "CANDOUR_OUTBOX_POLL_INTERVAL": "0.5",
        "CANDOUR_SHUTDOWN_GRACE_SECONDS": "3",
        **(extra_env or {}),
    }
    env = {name: {**common, "CANDOUR_DATABASE_URL": databases[name]} for name in SERVICES}
    env["story-intake"]["CANDOUR_SUBMISSION_RATE_LIMIT"] = "100000"
    env["moderation"]["CANDOUR_AUTO_APPROVE"] = "true"
    env["notifications"] |= {
        "CANDOUR_SMTP_HOST": smtp.host,
        "CANDOUR_SMTP_PORT": str(smtp.port),
        "CANDOUR_DELIVERY_POLL_INTERVAL": "0.5",
        "CANDOUR_DELIVERY_BACKOFF_BASE_SECONDS": "0.5",
        "CANDOUR_DELIVERY_BACKOFF_MAX_SECONDS": "2",
        "CANDOUR_DELIVERY_MAX_ATTEMPTS": "100",
        "CANDOUR_DELIVERY_BATCH_SIZE": "50",
        # A killed worker's in-flight emails are sent again after this lease. The SMTP
        # timeout stays generous: a reply that is merely slow on a loaded machine must
        # not be mistaken for a failure (the server may have taken the message).
        "CANDOUR_DELIVERY_STALE_AFTER_SECONDS": "30",
        "CANDOUR_SMTP_TIMEOUT": "20",
        "CANDOUR_SMTP_SEND_TIMEOUT": "24",
    }
    return Platform(
        kafka=kafka,
        topics=topics,
        databases=databases,
        smtp=smtp,
        logs=logs,
        env=env,
        run_tag=run_tag,
    )


async def start(platform: Platform, copies: dict[str, int] | None = None) -> None:
    for name in SERVICES:
        for _ in range((copies or {}).get(name, 1)):
            platform.spawn(name)
    await asyncio.gather(*(p.wait_ready(timeout=90) for p in platform.all_processes()))


@dataclass
class UnhurriedSink(MailSink):
    """A mail sink that takes `delay` seconds per message, as a real relay does, so a
    crash can land while emails are being sent."""

    delay: float = 0.02

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@dataclass
class RestartableSmtp:
    """A real aiosmtpd server on a fixed 127.0.0.1 port that a test may stop and start again.

    With `password`, it offers AUTH (over plain text: this is a loopback test server) and
    accepts only that password, so a service's SMTP secret is really used.
    """

    sink: MailSink
    password: str | None = None
    controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        kwargs: dict[str, Any] = {}
        if self.password is not None:
            expected = self.password.encode()

            def authenticate(
                server: Any, session: Any, envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                ok = getattr(data, "password", None) == expected
                return AuthResult(success=ok, handled=False)

            kwargs = {
                "authenticator": authenticate,
                "auth_require_tls": False,
                "auth_required": True,
            }
        self.controller = Controller(
            self.sink, hostname=self.sink.host, port=self.sink.port, **kwargs
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@contextlib.asynccontextmanager
async def platform_setup(
    create_database: Callable[[str], Awaitable[str]],
    kafka_bootstrap: str,
    topics: TopicNames,
    logs: Path,
    *,
    smtp_password: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[tuple[Platform, RestartableSmtp]]:
    """Databases, topics, a restartable SMTP server and the services' environment.

    The test starts the processes (`start(platform)`); they are stopped afterwards.
    """
    databases = {name: await create_database(name.replace("-", "_")) for name in SERVICES}
    smtp = RestartableSmtp(
        UnhurriedSink(host="127.0.0.1", port=free_port()), password=smtp_password
    )
    smtp.start()
    env = dict(extra_env or {})
    if smtp_password is not None:
        env |= {"CANDOUR_SMTP_USERNAME": "candour", "CANDOUR_SMTP_PASSWORD": smtp_password}
    prepared = await prepare_platform(
        kafka=kafka_bootstrap,
        topics=topics,
        databases=databases,
        smtp=smtp.sink,
        logs=logs,
        # Letters only: digits next to the story number can read as a phone number,
        # and screening would (rightly) hold that story for a moderator.
        run_tag=uuid.uuid4().hex[:8].translate(_DIGITS_TO_LETTERS),
        extra_env=env,
    )
    try:
        yield prepared, smtp
    finally:
        prepared.stop_all()
        smtp.stop()
