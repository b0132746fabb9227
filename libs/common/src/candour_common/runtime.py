"""The life of one service process: pool, migrations, broker, outbox relay, HTTP apps.

Each service's `bootstrap` calls `build_app` with its routers and a function that
registers its subscribers; nothing here knows what a service does. A service serves
two apps: the public one, and an admin one (`/readyz`, `/metrics`) on its own port.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from types import FrameType
from typing import Any

import asyncpg
import structlog
from fastapi import APIRouter, Depends, FastAPI
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from candour_common.consumer import EventConsumer, Subscriptions
from candour_common.db.migrations import apply_migrations, pending_migrations, service_migrations
from candour_common.db.outbox import OutboxRelay, OutgoingMessage, backlog
from candour_common.db.pool import create_pool, ping
from candour_common.db.retention import RetentionRule, platform_rules, run_retention
from candour_common.db.uow import UnitOfWork, UnitOfWorkFactory
from candour_common.http.correlation import CorrelationIdMiddleware
from candour_common.http.docs import docs_router
from candour_common.http.headers import SecurityHeadersMiddleware
from candour_common.http.health import admin_router, liveness_router
from candour_common.http.limits import BodySizeLimitMiddleware
from candour_common.http.problems import install_problem_handlers
from candour_common.kafka_connection import KafkaConnection
from candour_common.kafka_probe import (
    KafkaLoginRefused,
    KafkaTlsRefused,
    KafkaUnreachable,
    check_connection,
)
from candour_common.messaging import (
    ConsumerPolicy,
    create_broker,
    outbox_sender,
)
from candour_common.metrics import HttpMetricsMiddleware, PlatformMetrics
from candour_common.settings import ServiceSettings
from candour_common.startup import require_keys
from candour_common.topics import TopicNames
from candour_common.web.sessions import load_session

log = structlog.get_logger(__name__)


@dataclass
class Platform:
    """The started dependencies of one service process, shared by its entrypoints."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    broker: KafkaBroker
    metrics: PlatformMetrics
    unit_of_work: Callable[[], UnitOfWork]
    consumer: EventConsumer[Any] | None = None
    relay: OutboxRelay | None = None
    background: list[asyncio.Task[None]] = field(default_factory=list)
    # Why Kafka refuses this process (login, TLS), which waiting will not fix; for /readyz.
    kafka_refusal: ConnectionError | None = None


# A service's own retention rules, beyond the outbox and inbox every service has.
RetentionRules = Callable[[ServiceSettings], Sequence[RetentionRule]]


class PlatformRef:
    """Lets subscribers registered before start reach the platform once it runs."""

    def __init__(self) -> None:
        self._platform: Platform | None = None

    def set(self, platform: Platform) -> None:
        self._platform = platform

    @property
    def get(self) -> Platform:
        if self._platform is None:
            raise RuntimeError("platform not started")
        return self._platform


async def migrate_database(dsn: str, migrations_package: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await apply_migrations(conn, service_migrations(migrations_package))
    finally:
        await conn.close()


def build_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    migrations_package: str,
    service: str | None = None,
    unit_of_work: type[UnitOfWork] = UnitOfWork,
    routers: Sequence[APIRouter] = (),
    subscriptions: Subscriptions[Any] | None = None,
    relay_outbox: bool = False,
    on_started: Callable[[Platform], Sequence[asyncio.Task[None]]] | None = None,
    retention_rules: RetentionRules | None = None,
    readiness_checks: Mapping[str, Callable[[], Awaitable[None]]] | None = None,
) -> FastAPI:
    """The app of one service.

    `service` names it in the inbox and in `ce_source` (default: the settings'
    service name); `unit_of_work` is its unit of work, which every handler gets;
    `subscriptions` are its event handlers, read by one consumer for all topics;
    `readiness_checks` are the service's own conditions for `/readyz` beside the
    database, Kafka and migrations (each raises while not ready).
    """
    require_keys(settings)  # no key, no service: before anything is connected
    ref = PlatformRef()
    metrics = PlatformMetrics(settings.service_name)
    migrations = service_migrations(migrations_package)
    service_name = service or settings.service_name

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dsn = settings.database_url.get_secret_value()
        if settings.migrate_on_start:
            applied = await migrate_database(dsn, migrations_package)
            if applied:
                log.info("migrations applied", count=len(applied))
        pool = await create_pool(dsn, max_size=settings.database_pool_size)
        kafka = settings.kafka_connection()
        broker = create_broker(kafka, client_id=f"candour-{settings.service_name}")
        policy = ConsumerPolicy(group_id=settings.group_id, metrics=metrics)
        platform = Platform(
            settings=settings,
            pool=pool,
            broker=broker,
            metrics=metrics,
            unit_of_work=UnitOfWorkFactory(pool, unit_of_work, service_name),
        )
        if subscriptions:
            platform.consumer = EventConsumer(
                subscriptions,
                platform.unit_of_work,
                broker=broker,
                topics=settings.topics,
                policy=policy,
                client_id=f"candour-{settings.service_name}",
                max_batch=settings.consumer_max_batch,
                session_timeout=settings.consumer_session_timeout_seconds,
            )
        ref.set(platform)
        app.state.platform = platform
        if (retrying := await _start_broker(platform, kafka)) is not None:
            platform.background.append(retrying)
        if relay_outbox:
            platform.relay = OutboxRelay(
                pool,
                outbox_sender(broker),
                settings.topics,
                poll_interval=settings.outbox_poll_interval,
                on_published=lambda sent: _count_published(metrics, settings.topics, sent),
                on_retry=metrics.count_transient,
            )
            platform.background.append(asyncio.create_task(platform.relay.run(), name="outbox"))
        platform.background.append(
            asyncio.create_task(_retention(platform, retention_rules), name="retention")
        )
        if on_started is not None:
            platform.background.extend(on_started(platform))
        log.info("service started", port=settings.http_port)
        try:
            yield
        finally:
            log.info("service stopping")
            if platform.consumer is not None:
                # Finish the batch in hand and commit its offsets before leaving the group.
                await platform.consumer.stop(grace=settings.shutdown_grace_seconds)
            await broker.stop()  # no new messages; in-flight handlers finish, offsets commit
            if platform.relay is not None:
                await platform.relay.stop(drain=True)
            for task in platform.background:
                task.cancel()
            if platform.background:
                await asyncio.wait(platform.background, timeout=5)
            try:
                await asyncio.wait_for(pool.close(), timeout=5)
            except TimeoutError:
                log.warning("database pool did not close in time; terminating it")
                pool.terminate()
            log.info("service stopped")

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    app.add_middleware(CorrelationIdMiddleware)

    async def database_ready() -> None:
        await ping(ref.get.pool)

    async def kafka_ready() -> None:
        platform = ref.get
        if not await platform.broker.ping(timeout=2):
            raise platform.kafka_refusal or ConnectionError("Kafka did not answer")

    async def migrations_applied() -> None:
        async with ref.get.pool.acquire() as conn:
            pending = await pending_migrations(conn, migrations)
        if pending:
            raise RuntimeError(f"pending migrations: {', '.join(pending)}")

    async def refresh_gauges() -> None:
        await _refresh_gauges(ref.get)

    app.include_router(liveness_router())
    app.include_router(docs_router(title))
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    for router in routers:
        # Every route knows who is signed in to the pages (a session cookie, if any).
        app.include_router(router, dependencies=[Depends(load_session)])
    # Outermost: a body over the limit is refused before any route, form parser or
    # token check sees a byte of it.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.trusted_proxy_networks:
        # Only a trusted proxy may say who the client is and that it came over https.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_networks)

    admin = FastAPI(title=f"{title} (admin)", openapi_url=None, docs_url=None, redoc_url=None)
    admin.include_router(
        admin_router(
            {
                "postgres": database_ready,
                "kafka": kafka_ready,
                "migrations": migrations_applied,
                **(readiness_checks or {}),
            },
            registries=(metrics.registry, REGISTRY),
            before_scrape=refresh_gauges,
        )
    )
    app.state.admin_app = admin
    return app


def admin_app(app: FastAPI) -> FastAPI:
    """The admin app (`/readyz`, `/metrics`, `/healthz`) that `build_app` made beside `app`."""
    admin: FastAPI = app.state.admin_app
    return admin


async def _start_broker(platform: Platform, kafka: KafkaConnection) -> asyncio.Task[None] | None:
    """Start the broker (and the event consumer); if Kafka is down, keep serving HTTP
    and keep trying in the background.

    A service must come up while Kafka is away (intake keeps taking stories into
    its outbox); `/readyz` says Kafka is unavailable until it connects. Only the
    connection has a deadline: once Kafka answers, joining the consumer group may
    take as long as the broker needs, and it is never abandoned half-way and
    started again.

    A broker that refuses this service (wrong password, untrusted certificate) is
    logged as an error naming the settings, and tried again too: the credentials
    may be being rotated.
    """
    broker = platform.broker

    async def start() -> None:
        await broker.start()
        if platform.consumer is not None:
            await platform.consumer.start()

    try:
        await asyncio.wait_for(broker.connect(), timeout=10)
    except Exception as exc:
        await _explain_kafka_failure(platform, kafka, exc, "Kafka unavailable at start")
    else:
        await start()
        return None

    async def keep_trying() -> None:
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            try:
                await asyncio.wait_for(broker.connect(), timeout=10)
            except Exception as exc:
                delay = min(delay * 2, 30.0)
                await _explain_kafka_failure(platform, kafka, exc, "Kafka still unavailable")
                continue
            platform.kafka_refusal = None
            await start()
            log.info("Kafka connected")
            return

    return asyncio.create_task(keep_trying(), name="broker-start")


async def _explain_kafka_failure(
    platform: Platform, kafka: KafkaConnection, error: Exception, event: str
) -> None:
    """Log why the broker could not connect: refused (an error to fix) or away (a warning)."""
    try:
        await check_connection(kafka, seconds=5)
    except (KafkaLoginRefused, KafkaTlsRefused) as refused:
        platform.kafka_refusal = refused
        log.error(
            "Kafka refused this service; retrying in the background",
            reason=str(refused),
            kafka=kafka.describe(),
        )
        return
    except KafkaUnreachable as unreachable:
        error = unreachable
    platform.kafka_refusal = None
    log.warning(f"{event}; retrying in the background", error=repr(error), kafka=kafka.describe())


async def _retention(platform: Platform, own_rules: RetentionRules | None) -> None:
    settings, m = platform.settings, platform.metrics
    rules = platform_rules(
        outbox_max_age=timedelta(days=settings.outbox_retention_days),
        inbox_max_age=timedelta(days=settings.inbox_retention_days),
    )
    rules += own_rules(settings) if own_rules is not None else []

    def purged(counts: Mapping[str, int]) -> None:
        for table, count in counts.items():
            m.retention_purged.labels(m.service, table).inc(count)

    await run_retention(
        platform.pool,
        rules,
        interval=settings.retention_interval_seconds,
        on_purged=purged,
        on_retry=m.count_transient,
    )


def _count_published(
    metrics: PlatformMetrics, topics: TopicNames, sent: Sequence[OutgoingMessage]
) -> None:
    for message in sent:
        metrics.events_published.labels(metrics.service, topics.logical(message.topic).value).inc()


async def _refresh_gauges(platform: Platform) -> None:
    """Outbox backlog and consumer lag, computed when Prometheus scrapes."""
    m = platform.metrics
    if platform.relay is not None:
        count, age = await backlog(platform.pool)
        m.outbox_backlog.labels(m.service).set(count)
        m.outbox_oldest_age.labels(m.service).set(age or 0.0)
    consumers = [getattr(s, "consumer", None) for s in platform.broker.subscribers]
    if platform.consumer is not None:
        consumers.append(platform.consumer.consumer)
    for consumer in consumers:
        if consumer is None:
            continue
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            position = await consumer.position(tp)
            lag = max(0, highwater - position)
            m.consumer_lag.labels(m.service, tp.topic, str(tp.partition)).set(lag)


def run(app: FastAPI, settings: ServiceSettings) -> None:
    """Serve `app` and its admin app until SIGINT/SIGTERM, then drain and exit 0."""
    import uvicorn

    class GracefulServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            # uvicorn re-raises the signal after shutting down, so the process would
            # die "by SIGTERM" even after a clean drain; a finished shutdown exits 0.
            self._captured_signals.clear()

    class AdminServer(uvicorn.Server):
        # The public server owns the signals; this one stops when it has stopped.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    # Forwarded headers are applied by the app itself, from trusted proxies only
    # (uvicorn's own default would trust any local peer).
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )
    admin_config = uvicorn.Config(
        admin_app(app),
        host=settings.admin_host,
        port=settings.admin_port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    admin_socket = admin_config.bind_socket()  # a taken admin port stops the start here

    async def serve_both() -> None:
        public, admin = GracefulServer(config), AdminServer(admin_config)
        public_task = asyncio.create_task(public.serve(), name="public")
        admin_task: asyncio.Task[None] | None = None
        try:
            # The admin port answers only once the public one listens: a ready /readyz
            # means the service takes requests.
            while not public.started and not public_task.done():  # noqa: ASYNC110 - uvicorn has no event for it
                await asyncio.sleep(0.05)
            if public.started:
                admin_task = asyncio.create_task(admin.serve(sockets=[admin_socket]), name="admin")
            await public_task
        finally:
            admin.should_exit = True
            if admin_task is not None:
                await admin_task

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(serve_both())
