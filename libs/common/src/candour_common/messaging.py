"""The Kafka binding on FastStream: publishing with CloudEvents headers, and a
consumer middleware that validates envelopes, binds log context, retries, and
dead-letters what cannot be processed.

Offsets: subscribers use `AckPolicy.NACK_ON_ERROR` with auto-commit off, so the
offset is committed only after the handler returned, i.e. after its database
transaction committed. A message that fails for good is copied to
`<topic>.dlq` first, then committed, so one poison message never blocks a
partition.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Annotated, Any

import asyncpg
import structlog
from aiokafka.errors import KafkaConnectionError, KafkaError
from faststream import BaseMiddleware, Depends
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import ValidationError

from candour_common.cloudevents import Envelope, InvalidEnvelope
from candour_common.db.outbox import OutgoingMessage, SendBatch
from candour_common.metrics import PlatformMetrics
from candour_common.topics import Topic, TopicNames

log = structlog.get_logger(__name__)

CONSUMER_ACK_POLICY = AckPolicy.NACK_ON_ERROR


class PoisonMessage(Exception):
    """A handler's way to say: this message can never be processed; dead-letter it."""


# Errors of the platform, not of the message: wait for the dependency to return
# and try the same message again, however long that takes.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
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


def create_broker(bootstrap: str, *, client_id: str, graceful_timeout: float = 15.0) -> KafkaBroker:
    return KafkaBroker(
        bootstrap,
        client_id=client_id,
        # acks=all without idempotence: the embedded broker has no InitProducerId,
        # and the outbox + inbox already make redelivery harmless.
        acks="all",
        enable_idempotence=False,
        graceful_timeout=graceful_timeout,
        # FastStream logs every message at this level; keep that out of INFO.
        log_level=10,
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


def event_subscriber(
    broker: KafkaBroker,
    topics: TopicNames,
    topic: Topic,
    *,
    group_id: str,
    title: str,
    description: str,
) -> Callable[[Callable[..., Awaitable[None]]], Any]:
    """A subscriber decorator with Candour's consumer settings.

    Joins the service's consumer group, starts a new group at the earliest offset
    (nothing published before a service first ran is missed) and commits only
    after the handler returned.
    """
    subscriber: Callable[[Callable[..., Awaitable[None]]], Any] = broker.subscriber(
        topics.name(topic),
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=CONSUMER_ACK_POLICY,
        # A service's subscribers share one group, so each one joining makes the
        # others rejoin at their next heartbeat: a short interval keeps start-up
        # and failover rebalances to about a second each.
        heartbeat_interval_ms=500,
        title=title,
        description=description,
    )
    return subscriber


def _current_envelope(message: KafkaMessage) -> Envelope:
    return Envelope.from_headers(
        message.headers, topic=Topic.from_ce_type(message.headers.get("ce_type", ""))
    )


CurrentEnvelope = Annotated[Envelope, Depends(_current_envelope)]


def consumer_middleware(
    broker: KafkaBroker,
    topics: TopicNames,
    *,
    group_id: str,
    max_attempts: int = 3,
    retry_delay: float = 0.5,
    transient_backoff_max: float = 10.0,
    metrics: PlatformMetrics | None = None,
) -> type[BaseMiddleware]:
    """Build the middleware class for `broker.add_middleware`."""

    class CandourConsumerMiddleware(BaseMiddleware):
        async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
            record = msg.raw_message
            topic = topics.logical(record.topic)
            envelope = Envelope.from_headers(msg.headers, topic=topic)
            started = time.perf_counter()
            with structlog.contextvars.bound_contextvars(
                topic=topic.value,
                event_id=str(envelope.id),
                story_id=envelope.subject,
                correlation_id=envelope.correlation_id,
            ):
                attempt = 0
                transient_delay = retry_delay
                while True:
                    try:
                        result = await call_next(msg)
                    except PERMANENT_ERRORS:
                        raise
                    except TRANSIENT_ERRORS as exc:
                        log.warning(
                            "dependency unavailable; will retry",
                            error=repr(exc),
                            retry_in=transient_delay,
                        )
                        await asyncio.sleep(transient_delay)
                        transient_delay = min(transient_delay * 2, transient_backoff_max)
                    except Exception as exc:
                        attempt += 1
                        if attempt >= max_attempts:
                            raise
                        log.warning("handler failed; retrying", error=repr(exc), attempt=attempt)
                        await asyncio.sleep(retry_delay * attempt)
                    else:
                        log.info("event handled", partition=record.partition, offset=record.offset)
                        if metrics is not None:
                            metrics.events_consumed.labels(
                                metrics.service, topic.value, "handled"
                            ).inc()
                            metrics.event_processing.labels(metrics.service, topic.value).observe(
                                time.perf_counter() - started
                            )
                        return result

        async def after_processed(
            self,
            exc_type: type[BaseException] | None = None,
            exc_val: BaseException | None = None,
            exc_tb: TracebackType | None = None,
        ) -> bool | None:
            if exc_val is None or isinstance(exc_val, asyncio.CancelledError):
                return False
            if not isinstance(exc_val, Exception) or isinstance(exc_val, TRANSIENT_ERRORS):
                return False  # not the message's fault: nack, so it is redelivered
            record: Any = self.msg
            try:
                await dead_letter(broker, topics, record, group_id=group_id, error=exc_val)
            except (KafkaError, OSError) as dlq_exc:
                log.error(
                    "dead-letter publish failed; message will be redelivered", error=repr(dlq_exc)
                )
                return False
            log.error(
                "message dead-lettered",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                error=repr(exc_val),
            )
            if metrics is not None:
                logical = _logical_or_raw(topics, record.topic)
                metrics.events_consumed.labels(metrics.service, logical, "dead_lettered").inc()
                metrics.dlq_messages.labels(metrics.service, logical).inc()
            return True  # handled: the ack middleware commits the offset

    return CandourConsumerMiddleware


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
        record.value if record.value is not None else b"",
        topic=f"{record.topic}.dlq",
        key=record.key,
        headers=headers,
    )
