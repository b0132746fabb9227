"""The Kafka binding on FastStream: publishing with CloudEvents headers, and
subscribers that validate envelopes, bind log context, retry, and dead-letter
what cannot be processed.

Offsets: auto-commit is off and a subscriber commits offsets itself, only ever
for records it has handled, i.e. after their database transactions committed:
at once when it has caught up with the partition, otherwise every
`COMMIT_EVERY_RECORDS` records or `COMMIT_INTERVAL_SECONDS` (`CommitPacing`). A
crash or rebalance before a commit redelivers those records; the inbox makes
the repeats harmless. A record that fails for good is copied to `<topic>.dlq`
first, so one poison message never blocks a partition. If that copy cannot be
written, the record's partition is rewound to it and it is delivered again.

Tombstones (records with a null value, on the compacted topics) are not events: a
subscriber that cares passes `on_tombstone`; the others skip them.

A dependency that is away (the database) is waited for with capped backoff, each
retry counted in `candour_transient_errors`; after `transient_retry_window` seconds
the record's partition is rewound to it and the consumer goes back to polling (and
so stays in its group: Kafka evicts a consumer that does not poll within
`max.poll.interval.ms`), which delivers the same record again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from pydantic import ValidationError

from candour_common.cloudevents import Envelope, InvalidEnvelope
from candour_common.db.outbox import OutgoingMessage, SendBatch
from candour_common.db.pool import DATABASE_UNAVAILABLE
from candour_common.events import EVENT_MODELS, BaseEvent
from candour_common.kafka_connection import KafkaConnection
from candour_common.keys import story_partitioner
from candour_common.metrics import PlatformMetrics
from candour_common.topics import Topic, TopicNames

log = structlog.get_logger(__name__)

# The subscriber commits (see `CommitPacing`) and rewinds on failure itself.
CONSUMER_ACK_POLICY = AckPolicy.MANUAL


class PoisonMessage(Exception):
    """A handler's way to say: this message can never be processed; dead-letter it."""


class DependencyUnavailable(Exception):
    """A dependency stayed away for longer than the policy's retry window."""


# Errors of the platform, not of the message: wait for the dependency to return and
# try the same message again. A serialisation failure or deadlock (SQLSTATE class 40)
# says "run the transaction again", not "this message is bad".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    *DATABASE_UNAVAILABLE,
    asyncpg.TransactionRollbackError,
    ConnectionError,
    OSError,
    TimeoutError,
    KafkaConnectionError,
)
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    PoisonMessage,
    InvalidEnvelope,
    ValidationError,
    ValueError,
    UnicodeDecodeError,
)


def create_broker(
    kafka: KafkaConnection | str, *, client_id: str, graceful_timeout: float = 15.0
) -> KafkaBroker:
    connection = KafkaConnection.of(kafka)
    return KafkaBroker(
        connection.servers,
        security=connection.faststream_security(),
        client_id=client_id,
        # acks=all without idempotence: the embedded broker has no InitProducerId,
        # and the outbox + inbox already make redelivery harmless.
        acks="all",
        enable_idempotence=False,
        graceful_timeout=graceful_timeout,
        # FastStream logs every message at this level; keep that out of INFO.
        log_level=10,
        # A response's key is `<story id>/<response id>`: keep it on the story's partition.
        partitioner=story_partitioner,
    )


def outbox_sender(broker: KafkaBroker) -> SendBatch:
    """A `SendBatch` that enqueues every message in order, then waits for all acks."""

    async def send(messages: Sequence[OutgoingMessage]) -> None:
        futures = [
            await broker.publish(
                m.value,
                topic=m.topic,
                key=m.key,
                headers=m.headers,
                correlation_id=m.headers.get("ce_correlationid"),
                no_confirm=True,
            )
            for m in messages
        ]
        await asyncio.gather(*futures)

    return send


CONSUMER_POLICY_CONTEXT = "candour_consumer_policy"

EventHandler = Callable[[Any, Envelope], Awaitable[None]]
# Receives a tombstone's key and, when its headers carry one, its envelope.
TombstoneHandler = Callable[[str, Envelope | None], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ConsumerPolicy:
    """How a service's subscribers treat each record: retries, DLQ, metrics."""

    group_id: str
    max_attempts: int = 3
    retry_delay: float = 0.5
    transient_backoff_max: float = 10.0
    # Well below Kafka's max.poll.interval.ms (5 minutes by default).
    transient_retry_window: float = 60.0
    metrics: PlatformMetrics | None = None


# Under a backlog, commit offsets every this many records or seconds, whichever first.
COMMIT_EVERY_RECORDS = 100
COMMIT_INTERVAL_SECONDS = 1.0


@dataclass(slots=True)
class CommitPacing:
    """When a subscriber commits its offsets after a handled record.

    At once when the record was the last one the broker reported for its
    partition (so a quiet consumer's offsets are always current); under a backlog
    every `every` records or `interval` seconds, which saves a broker round trip
    per record where it counts.
    """

    every: int = COMMIT_EVERY_RECORDS
    interval: float = COMMIT_INTERVAL_SECONDS
    pending: int = 0
    last: float = field(default_factory=time.monotonic)

    def due(self, record: Any, highwater: int | None) -> bool:
        self.pending += 1
        caught_up = highwater is None or record.offset + 1 >= highwater
        return (
            caught_up or self.pending >= self.every or time.monotonic() - self.last >= self.interval
        )

    def committed(self) -> None:
        self.pending = 0
        self.last = time.monotonic()


def install_consumer_policy(broker: KafkaBroker, policy: ConsumerPolicy) -> None:
    """Give the subscribers of `broker` their policy (runtime does this at start)."""
    broker.context.set_global(CONSUMER_POLICY_CONTEXT, policy)


def event_subscriber(
    broker: KafkaBroker,
    topics: TopicNames,
    topic: Topic,
    *,
    group_id: str,
    title: str,
    description: str,
    on_tombstone: TombstoneHandler | None = None,
) -> Callable[[EventHandler], EventHandler]:
    """A subscriber decorator with Candour's consumer settings.

    The handler receives one event and its envelope, in partition order; offsets
    are committed after the handler returned (so after its database transaction
    committed), paced by `CommitPacing`. The group starts at the earliest offset
    (nothing published before a service first ran is missed).

    One record per fetch (aiokafka `getone`), not FastStream's batch subscriber:
    its loop sleeps `batch_timeout_ms` whenever a poll comes back empty, which adds
    up to that much latency at every hop (bench/README.md has the numbers).
    """
    model = EVENT_MODELS[topic]

    def decorate(handler: EventHandler) -> EventHandler:
        pacing = CommitPacing()

        # No parameters: a `message: KafkaMessage` parameter would be resolved by
        # FastStream's dependency injection, which runs that sync lookup in a worker
        # thread for every record. The message is in the context either way.
        async def consume() -> None:
            policy: ConsumerPolicy = broker.context.get(CONSUMER_POLICY_CONTEXT) or ConsumerPolicy(
                group_id=group_id
            )
            message = broker.context.get_local("message")
            record = message.raw_message
            try:
                await _handle_record(broker, topics, policy, record, model, handler, on_tombstone)
            except DependencyUnavailable as exc:
                # Poll again (staying in the group) and get this record again.
                log.error(
                    "dependency still unavailable; rewinding to the record",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    error=repr(exc.__cause__),
                )
                await message.nack()
                return
            except BaseException:
                await message.nack()  # rewinds the partition to this record
                raise
            partition = TopicPartition(record.topic, record.partition)
            if pacing.due(record, message.consumer.highwater(partition)):
                await message.ack()  # commits every position this consumer reached
                pacing.committed()

        consume.__name__ = handler.__name__
        consume.__doc__ = handler.__doc__
        broker.subscriber(
            topics.name(topic),
            group_id=group_id,
            auto_offset_reset="earliest",
            ack_policy=CONSUMER_ACK_POLICY,
            # The record is validated by `_handle_record`; FastStream's own JSON
            # decoding would be thrown away.
            decoder=_undecoded,
            # A service's subscribers share one group, so each one joining makes the
            # others rejoin at their next heartbeat: a short interval keeps start-up
            # and failover rebalances to about a second each.
            heartbeat_interval_ms=500,
            title=title,
            description=description,
        )(consume)
        return handler

    return decorate


async def _undecoded(message: Any) -> None:
    return None


async def _handle_record(
    broker: KafkaBroker,
    topics: TopicNames,
    policy: ConsumerPolicy,
    record: Any,
    model: type[BaseEvent],
    handler: EventHandler,
    on_tombstone: TombstoneHandler | None = None,
) -> None:
    """Handle one record: validate, retry, wait out outages, or dead-letter it.

    Returns once the record is handled or dead-lettered. Raises `DependencyUnavailable`
    when a dependency stayed away for the whole retry window, and anything else only
    when the dead-letter copy could not be written (the record is then redelivered).
    """
    topic = topics.logical(record.topic)
    if record.value is None:
        await _handle_tombstone(broker, topics, policy, record, topic, on_tombstone)
        return
    started = time.perf_counter()
    try:
        envelope = Envelope.from_headers(record.headers or (), topic=topic)
        event = model.model_validate_json(record.value)
    except PERMANENT_ERRORS as exc:
        await _dead_letter(broker, topics, policy, record, exc)
        return
    with structlog.contextvars.bound_contextvars(
        topic=topic.value,
        event_id=str(envelope.id),
        story_id=envelope.subject,
        correlation_id=envelope.correlation_id,
    ):
        if not await _with_retries(
            broker, topics, policy, record, lambda: handler(event, envelope)
        ):
            return
        log.info("event handled", partition=record.partition, offset=record.offset)
        if (metrics := policy.metrics) is not None:
            metrics.events_consumed.labels(metrics.service, topic.value, "handled").inc()
            metrics.event_processing.labels(metrics.service, topic.value).observe(
                time.perf_counter() - started
            )


async def _handle_tombstone(
    broker: KafkaBroker,
    topics: TopicNames,
    policy: ConsumerPolicy,
    record: Any,
    topic: Topic,
    on_tombstone: TombstoneHandler | None,
) -> None:
    """A null value: the key's earlier records are erased (compacted topics)."""
    key = record.key.decode(errors="replace") if record.key is not None else ""
    envelope: Envelope | None = None
    # A tombstone written by another tool may have no envelope: the key is what counts.
    with contextlib.suppress(InvalidEnvelope):
        envelope = Envelope.from_headers(record.headers or (), topic=topic, with_data=False)
    with structlog.contextvars.bound_contextvars(
        topic=topic.value,
        key=key,
        event_id=str(envelope.id) if envelope is not None else None,
        correlation_id=envelope.correlation_id if envelope is not None else None,
    ):
        if on_tombstone is not None:
            handled = await _with_retries(
                broker, topics, policy, record, lambda: on_tombstone(key, envelope)
            )
            if not handled:
                return
        log.info(
            "tombstone handled" if on_tombstone is not None else "tombstone skipped",
            partition=record.partition,
            offset=record.offset,
        )
        if (metrics := policy.metrics) is not None:
            metrics.events_consumed.labels(metrics.service, topic.value, "tombstone").inc()


async def _with_retries(
    broker: KafkaBroker,
    topics: TopicNames,
    policy: ConsumerPolicy,
    record: Any,
    call: Callable[[], Awaitable[None]],
) -> bool:
    """Run `call` until it succeeds (True) or the record is dead-lettered (False).

    A message's own failure is retried `max_attempts` times, then dead-lettered. A
    dependency's is retried with capped backoff, each retry counted, for at most
    `transient_retry_window` seconds (then `DependencyUnavailable`).
    """
    attempt = 0
    transient_delay = policy.retry_delay
    transient_since: float | None = None
    while True:
        try:
            await call()
        except PERMANENT_ERRORS as exc:
            await _dead_letter(broker, topics, policy, record, exc)
            return False
        except TRANSIENT_ERRORS as exc:
            now = time.monotonic()
            transient_since = transient_since if transient_since is not None else now
            if (metrics := policy.metrics) is not None:
                metrics.count_transient(exc)
            if now - transient_since >= policy.transient_retry_window:
                raise DependencyUnavailable(repr(exc)) from exc
            log.warning(
                "dependency unavailable; will retry", error=repr(exc), retry_in=transient_delay
            )
            await asyncio.sleep(transient_delay)
            transient_delay = min(transient_delay * 2, policy.transient_backoff_max)
        except Exception as exc:
            attempt += 1
            if attempt >= policy.max_attempts:
                await _dead_letter(broker, topics, policy, record, exc)
                return False
            log.warning("handler failed; retrying", error=repr(exc), attempt=attempt)
            await asyncio.sleep(policy.retry_delay * attempt)
        else:
            return True


async def _dead_letter(
    broker: KafkaBroker,
    topics: TopicNames,
    policy: ConsumerPolicy,
    record: Any,
    error: BaseException,
) -> None:
    try:
        await dead_letter(broker, topics, record, group_id=policy.group_id, error=error)
    except (KafkaError, OSError) as exc:
        log.error("dead-letter publish failed; message will be redelivered", error=repr(exc))
        raise
    log.error(
        "message dead-lettered",
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        error=repr(error),
    )
    if (metrics := policy.metrics) is not None:
        logical = _logical_or_raw(topics, record.topic)
        metrics.events_consumed.labels(metrics.service, logical, "dead_lettered").inc()
        metrics.dlq_messages.labels(metrics.service, logical).inc()


def _logical_or_raw(topics: TopicNames, name: str) -> str:
    try:
        return topics.logical(name).value
    except ValueError:
        return name


DLQ_HEADER_PREFIX = "dlq_"


async def dead_letter(
    broker: KafkaBroker, topics: TopicNames, record: Any, *, group_id: str, error: BaseException
) -> None:
    """Copy a consumer record to `<topic>.dlq` with headers that say where and why."""
    original = [(k, v) for k, v in (record.headers or ()) if not k.startswith(DLQ_HEADER_PREFIX)]
    detail = "".join(traceback.format_exception_only(type(error), error)).strip()[:2000]
    headers = {k: v.decode(errors="replace") for k, v in original}
    headers.update(
        {
            "dlq_group": group_id,
            "dlq_error": detail,
            "dlq_error_type": type(error).__name__,
            "dlq_topic": record.topic,
            "dlq_partition": str(record.partition),
            "dlq_offset": str(record.offset),
        }
    )
    await broker.publish(
        record.value,  # a tombstone stays a tombstone (null value) in the DLQ
        topic=f"{record.topic}.dlq",
        key=record.key,
        headers=headers,
    )
