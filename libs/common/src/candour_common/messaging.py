"""The Kafka binding on FastStream: the broker, publishing the outbox with CloudEvents
headers, what a consumer treats as transient or permanent, its policy (retries, the
DLQ, metrics), and copying a record that cannot be processed to `<topic>.dlq`.

The consumer itself (one per service, batches under backlog, offsets after the
commit) is `candour_common.consumer.EventConsumer`.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from aiokafka.errors import KafkaConnectionError
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from candour_common.cloudevents import InvalidEnvelope
from candour_common.db.outbox import OutgoingMessage, SendBatch
from candour_common.db.pool import DATABASE_UNAVAILABLE
from candour_common.kafka_connection import KafkaConnection
from candour_common.keys import story_partitioner
from candour_common.metrics import PlatformMetrics
from candour_common.topics import TopicNames

log = structlog.get_logger(__name__)


class PoisonMessage(Exception):
    """A handler's way to say: this message can never be processed; dead-letter it."""


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
