"""The event consumer: one Kafka consumer per service process, for all its topics.

A service declares what it does with each topic in `Subscriptions`; the runtime
starts one `EventConsumer` for them. One consumer means one consumer-group join
per process (a rebalance is one round, not one per topic), and one place where
Candour's delivery rules live:

- **Batches under backlog, one record at a time when caught up.** Each poll takes
  what the fetcher already holds, up to `max_batch` records: a consumer that keeps
  up gets one record and handles it at once; one with a backlog gets many and
  handles them in one unit of work (one transaction): one inbox statement that
  records them all and returns the ids not seen before, each record's handler (or
  the topic's batch handler), one commit.
- **A bad record never sinks the batch.** If anything in a batch fails, the
  transaction rolls back and the batch is handled again record by record, each in
  its own transaction, with bounded retries; only a record that still fails goes
  to `<topic>.dlq`. A record that cannot be parsed goes there at once.
- **Outages are waited out.** An error of the platform (database or broker away)
  retries the same work with capped backoff, however long that takes, and is
  counted; it never dead-letters a record.
- **Offsets after the database.** Offsets are committed only for records whose
  transaction committed (or which were dead-lettered): when the consumer has caught
  up with its partitions, at most every `caught_up_commit_interval` seconds (a
  quiet consumer's at its next idle poll, within half a second), otherwise every
  `commit_every` records or `commit_interval` seconds, and always before
  partitions are given up in a rebalance and at shutdown. A crash in between
  redelivers those records; the inbox makes the repeats harmless.
- **Order per key.** A partition's records are handled in offset order; one
  story's events are on one partition of each topic.
- **Tombstones** (a null value, on the compacted topics) are not events: a topic's
  `tombstone` handler gets the key (and the envelope, if the headers carry one) in
  its place in the batch; a topic without one skips them. They bypass the inbox:
  erasing is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError
from faststream.kafka import KafkaBroker

from candour_common.cloudevents import Envelope, InvalidEnvelope
from candour_common.db.inbox import InboxEntry
from candour_common.db.uow import AbstractUnitOfWork
from candour_common.events import EVENT_MODELS, BaseEvent
from candour_common.messaging import (
    PERMANENT_ERRORS,
    TRANSIENT_ERRORS,
    ConsumerPolicy,
    dead_letter,
)
from candour_common.metrics import PlatformMetrics
from candour_common.topics import Topic, TopicNames

log = structlog.get_logger(__name__)

# Any unit of work: the PostgreSQL one in a service, a fake one in unit tests.
U = TypeVar("U", bound=AbstractUnitOfWork)
E = TypeVar("E", bound=BaseEvent)


@dataclass(frozen=True, slots=True)
class Delivered(Generic[E]):
    """One event as its handler receives it, with its CloudEvents envelope."""

    event: E
    envelope: Envelope


EventHandler = Callable[[U, Any, Envelope], Awaitable[None]]
BatchHandler = Callable[[U, Sequence[Delivered[Any]]], Awaitable[None]]
# A tombstone's key, and its envelope when its headers carry one.
TombstoneHandler = Callable[[U, str, Envelope | None], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscription(Generic[U]):
    """What a service does with one topic's events (and tombstones)."""

    topic: Topic
    handle: EventHandler[U]
    description: str
    handle_batch: BatchHandler[U] | None = None
    handle_tombstone: TombstoneHandler[U] | None = None


class Subscriptions(Generic[U]):
    """A service's event handlers, one per topic it reads.

    Each handler runs in the unit of work it is given (already open, the event
    already recorded in the inbox: a redelivered event never reaches it). A topic
    may also have a batch handler, called with consecutive events of that topic
    from one batch, for set-based writes; without one, the events of a batch go
    to the handler one by one in the same transaction.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self._by_topic: dict[Topic, Subscription[U]] = {}

    def on(
        self,
        topic: Topic,
        *,
        description: str,
        batch: BatchHandler[U] | None = None,
        tombstone: TombstoneHandler[U] | None = None,
    ) -> Callable[[EventHandler[U]], EventHandler[U]]:
        def register(handler: EventHandler[U]) -> EventHandler[U]:
            if topic in self._by_topic:
                raise ValueError(f"{self.service} already handles {topic.value}")
            self._by_topic[topic] = Subscription(topic, handler, description, batch, tombstone)
            return handler

        return register

    def __iter__(self) -> Any:
        return iter(self._by_topic.values())

    def __bool__(self) -> bool:
        return bool(self._by_topic)

    def get(self, topic: Topic) -> Subscription[U]:
        return self._by_topic[topic]

    @property
    def topics(self) -> list[Topic]:
        return list(self._by_topic)


def document_subscriptions(
    subscriptions: Subscriptions[Any], broker: KafkaBroker, topics: TopicNames, *, group_id: str
) -> None:
    """Declare `subscriptions` on a broker that is never started, for the AsyncAPI
    document: one FastStream subscriber per topic, titled `<service>:<topic>`."""

    async def documented_only() -> None:  # pragma: no cover - never consumes
        raise RuntimeError("a documentation broker never consumes")

    for subscription in subscriptions:
        broker.subscriber(
            topics.name(subscription.topic),
            group_id=group_id,
            title=f"{subscriptions.service}:{subscription.topic.value}",
            description=subscription.description,
        )(documented_only)


# Defaults of the consumer's settings (ServiceSettings exposes them).
MAX_BATCH = 300
COMMIT_EVERY_RECORDS = 500
COMMIT_INTERVAL_SECONDS = 1.0
# A consumer that keeps up with a steady trickle would otherwise commit after every
# record: a broker request (an append to __consumer_offsets) per event and consumer,
# a quarter of the broker's CPU in the pipeline benchmark. Redelivery after a crash
# grows by at most this long's records, which the inbox skips.
CAUGHT_UP_COMMIT_SECONDS = 0.25
# How long a poll waits for records: a quiet consumer's pending offsets are
# committed when it returns empty.
POLL_TIMEOUT_MS = 500
SESSION_TIMEOUT_SECONDS = 10.0  # aiokafka's own default
# How long one poll's records wait out an outage before they are handed back (well
# under aiokafka's max.poll.interval.ms of 5 minutes).
GIVE_BACK_AFTER_SECONDS = 60.0


@dataclass(slots=True)
class _Item:
    """A parsed record, ready for its handler: an event, or a tombstone (no event)."""

    record: ConsumerRecord[bytes, bytes]
    subscription: Subscription[Any]
    event: BaseEvent | None
    envelope: Envelope | None

    @property
    def tombstone(self) -> bool:
        return self.event is None

    @property
    def key(self) -> str:
        return self.record.key.decode(errors="replace") if self.record.key is not None else ""

    @property
    def entry(self) -> InboxEntry:
        assert self.event is not None
        return InboxEntry(_event_id(self), self.subscription.topic.value, self.event.story())


@dataclass(slots=True)
class _Offsets:
    """Positions handled but not yet committed, and when the last commit was."""

    pending: dict[TopicPartition, int] = field(default_factory=dict)
    records: int = 0
    last_commit: float = field(default_factory=time.monotonic)

    def handled(self, record: ConsumerRecord[bytes, bytes]) -> None:
        # The furthest position counts: a poll's records are marked out of order (one
        # dead-lettered while parsing at once, the batch before it on its partition after).
        tp = TopicPartition(record.topic, record.partition)
        self.pending[tp] = max(self.pending.get(tp, 0), record.offset + 1)
        self.records += 1

    def rewind(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """`record` must be read again: commit no further than it on its partition."""
        self.pending[TopicPartition(record.topic, record.partition)] = record.offset


class _GiveBack(Exception):
    """A dependency has been away for a while: hand the records back and poll again, so
    the group does not take this consumer for dead (max.poll.interval.ms)."""


class _Redeliver(Exception):
    """A record's dead-letter copy could not be written: read its partition again from it."""

    def __init__(self, record: ConsumerRecord[bytes, bytes]) -> None:
        super().__init__(f"{record.topic}[{record.partition}]@{record.offset}")
        self.record = record


class EventConsumer(Generic[U]):
    """Reads every topic of `subscriptions` with one consumer and handles what arrives."""

    def __init__(
        self,
        subscriptions: Subscriptions[U],
        new_unit_of_work: Callable[[], U],
        *,
        broker: KafkaBroker,
        topics: TopicNames,
        policy: ConsumerPolicy,
        client_id: str,
        max_batch: int = MAX_BATCH,
        commit_every: int = COMMIT_EVERY_RECORDS,
        commit_interval: float = COMMIT_INTERVAL_SECONDS,
        caught_up_commit_interval: float = CAUGHT_UP_COMMIT_SECONDS,
        give_back_after: float = GIVE_BACK_AFTER_SECONDS,
        session_timeout: float = SESSION_TIMEOUT_SECONDS,
    ) -> None:
        self._subscriptions = subscriptions
        self._new_uow = new_unit_of_work
        self._broker = broker
        self._topics = topics
        self._policy = policy
        self._client_id = client_id
        self._max_batch = max_batch
        self._commit_every = commit_every
        self._commit_interval = commit_interval
        self._caught_up_commit_interval = caught_up_commit_interval
        self._give_back_after = give_back_after
        self._session_timeout_ms = int(session_timeout * 1000)
        self._offsets = _Offsets()
        self._busy = asyncio.Lock()  # held while a batch is handled and its offsets committed
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.consumer: AIOKafkaConsumer | None = None

    @property
    def _metrics(self) -> PlatformMetrics | None:
        return self._policy.metrics

    # -- life ----------------------------------------------------------------------

    async def start(self) -> None:
        """Join the consumer group (the broker must be connected), then consume."""
        builder = self._broker.config.broker_config.builder
        consumer: AIOKafkaConsumer = builder(
            group_id=self._policy.group_id,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._max_batch,
            # The join waits on the session timeout (Tansu: about half of it), so a
            # shorter one starts `candour dev` sooner; heartbeats must come well within it.
            session_timeout_ms=self._session_timeout_ms,
            heartbeat_interval_ms=min(3000, self._session_timeout_ms // 3),
        )
        consumer.subscribe(
            [self._topics.name(t) for t in self._subscriptions.topics],
            listener=_CommitBeforeRevoke(self),
        )
        await consumer.start()
        self.consumer = consumer
        self._task = asyncio.create_task(self._run(consumer), name="event-consumer")

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        """Poll and handle until `stop`; survives broker and database outages."""
        while not self._stopping:
            try:
                batches = await consumer.getmany(
                    timeout_ms=POLL_TIMEOUT_MS, max_records=self._max_batch
                )
            except ConsumerStoppedError:
                return
            except KafkaError as exc:
                log.warning("Kafka poll failed; retrying", error=repr(exc))
                await asyncio.sleep(1)
                continue
            async with self._busy:
                if batches:
                    await self._handle_polled(consumer, batches)
                if self._commit_due(consumer):
                    await self._commit(consumer)

    async def stop(self, *, grace: float = 10.0) -> None:
        """Finish the batch in hand (within `grace` seconds), commit what was handled,
        leave the group."""
        self._stopping = True
        consumer, task = self.consumer, self._task
        if consumer is None or task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            log.warning("consumer did not finish its batch in time; stopping it")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except Exception as exc:
            log.error("consumer loop failed", error=repr(exc))
        self.consumer = None
        await self._commit(consumer)
        await consumer.stop()

    # -- a poll's records ----------------------------------------------------------

    async def _handle_polled(
        self,
        consumer: AIOKafkaConsumer,
        batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        items: list[_Item] = []
        seen: set[uuid.UUID] = set()
        for tp, records in batches.items():
            for record in records:
                try:
                    item = await self._parse(record)
                except _Redeliver:
                    consumer.seek(tp, record.offset)
                    self._offsets.rewind(record)
                    break
                if item is None or (not item.tombstone and _event_id(item) in seen):
                    # Dead-lettered, not ours, a tombstone nobody here needs, or the same
                    # event twice in one poll.
                    self._offsets.handled(record)
                else:
                    if not item.tombstone:
                        seen.add(_event_id(item))
                    items.append(item)
        if not items:
            return
        try:
            together = len(items) > 1 and await self._handle_together(items)
        except _GiveBack:
            self._give_back(consumer, items)
            return
        if together:
            for item in items:
                self._offsets.handled(item.record)
            return
        # One record, or a batch that failed: each record on its own, in order.
        skip: set[TopicPartition] = set()
        for index, item in enumerate(items):
            tp = TopicPartition(item.record.topic, item.record.partition)
            if tp in skip:
                continue
            try:
                await self._handle_alone(item)
            except _GiveBack:
                rest = [
                    i
                    for i in items[index:]
                    if TopicPartition(i.record.topic, i.record.partition) not in skip
                ]
                self._give_back(consumer, rest)
                return
            except _Redeliver:
                consumer.seek(tp, item.record.offset)
                self._offsets.rewind(item.record)
                skip.add(tp)
                continue
            self._offsets.handled(item.record)

    def _give_back(self, consumer: AIOKafkaConsumer, items: Sequence[_Item]) -> None:
        """Read each partition of `items` again from its first record here."""
        first: dict[TopicPartition, ConsumerRecord[bytes, bytes]] = {}
        for item in items:
            first.setdefault(TopicPartition(item.record.topic, item.record.partition), item.record)
        for tp, record in first.items():
            consumer.seek(tp, record.offset)
            self._offsets.rewind(record)

    async def _parse(self, record: ConsumerRecord[bytes, bytes]) -> _Item | None:
        try:
            topic = self._topics.logical(record.topic)
            subscription = self._subscriptions.get(topic)
        except (ValueError, KeyError):
            log.warning("record from a topic this service does not read", topic=record.topic)
            return None
        if record.value is None:
            return self._tombstone(record, subscription)
        try:
            envelope = Envelope.from_headers(record.headers or (), topic=topic)
            event = EVENT_MODELS[topic].model_validate_json(record.value or b"")
        except PERMANENT_ERRORS as exc:
            await self._dead_letter(record, exc)
            return None
        return _Item(record, subscription, event, envelope)

    def _tombstone(
        self, record: ConsumerRecord[bytes, bytes], subscription: Subscription[Any]
    ) -> _Item | None:
        if subscription.handle_tombstone is None:
            log.debug("tombstone skipped", topic=record.topic, offset=record.offset)
            self._count_tombstone(subscription.topic)
            return None
        envelope: Envelope | None = None
        # A tombstone written by another tool may have no envelope: the key is what counts.
        with contextlib.suppress(InvalidEnvelope):
            envelope = Envelope.from_headers(
                record.headers or (), topic=subscription.topic, with_data=False
            )
        return _Item(record, subscription, None, envelope)

    async def _handle_together(self, items: list[_Item]) -> bool:
        """Handle a batch in one transaction; False if it must be retried record by record."""
        delay = self._policy.retry_delay
        started = time.perf_counter()
        outage: float | None = None
        while True:
            try:
                async with self._new_uow() as uow:
                    new = await uow.record_new([i.entry for i in items if not i.tombstone])
                    await self._run_handlers(
                        uow, [i for i in items if i.tombstone or _event_id(i) in new]
                    )
            except TRANSIENT_ERRORS as exc:
                outage = outage or time.monotonic()
                delay = await self._wait_out(exc, delay, outage)
                continue
            except Exception as exc:
                log.warning(
                    "batch failed; handling its records one by one",
                    size=len(items),
                    error=repr(exc),
                )
                return False
            log.info("batch handled", records=len(items))
            self._count_handled(items, started)
            return True

    async def _run_handlers(self, uow: U, items: Sequence[_Item]) -> None:
        """Each record's handler in order; consecutive records of a topic with a batch
        handler go to it together."""
        i = 0
        while i < len(items):
            subscription = items[i].subscription
            j = i + 1
            if items[i].tombstone:
                item = items[i]
                assert subscription.handle_tombstone is not None
                with _bound(item):
                    await subscription.handle_tombstone(uow, item.key, item.envelope)
            elif subscription.handle_batch is not None:
                while (
                    j < len(items)
                    and items[j].subscription is subscription
                    and not items[j].tombstone
                ):
                    j += 1
                await subscription.handle_batch(
                    uow, [Delivered(it.event, _envelope(it)) for it in items[i:j]]
                )
            else:
                item = items[i]
                with _bound(item):
                    await subscription.handle(uow, item.event, _envelope(item))
            i = j

    async def _handle_alone(self, item: _Item) -> None:
        """One record in its own transaction: retries, outages waited out, or the DLQ."""
        attempt = 0
        delay = self._policy.retry_delay
        started = time.perf_counter()
        outage: float | None = None
        with _bound(item):
            while True:
                try:
                    async with self._new_uow() as uow:
                        if item.tombstone or await uow.record_new([item.entry]):
                            await self._run_handlers(uow, [item])
                except PERMANENT_ERRORS as exc:
                    await self._dead_letter(item.record, exc)
                    return
                except TRANSIENT_ERRORS as exc:
                    outage = outage or time.monotonic()
                    delay = await self._wait_out(exc, delay, outage)
                    continue
                except Exception as exc:
                    attempt += 1
                    if attempt >= self._policy.max_attempts:
                        await self._dead_letter(item.record, exc)
                        return
                    log.warning("handler failed; retrying", error=repr(exc), attempt=attempt)
                    await asyncio.sleep(self._policy.retry_delay * attempt)
                    continue
                log.info(
                    "event handled", partition=item.record.partition, offset=item.record.offset
                )
                self._count_handled([item], started)
                return

    async def _wait_out(self, error: BaseException, delay: float, since: float) -> float:
        if time.monotonic() - since >= self._give_back_after:
            log.warning(
                "dependency still unavailable; records given back, polling again",
                error=repr(error),
            )
            raise _GiveBack from error
        log.warning("dependency unavailable; will retry", error=repr(error), retry_in=delay)
        if (metrics := self._metrics) is not None:
            metrics.transient_errors.labels(metrics.service, type(error).__name__).inc()
        await asyncio.sleep(delay)
        return min(delay * 2, self._policy.transient_backoff_max)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], error: BaseException
    ) -> None:
        try:
            await dead_letter(
                self._broker, self._topics, record, group_id=self._policy.group_id, error=error
            )
        except (KafkaError, OSError) as exc:
            log.error("dead-letter publish failed; message will be redelivered", error=repr(exc))
            raise _Redeliver(record) from exc
        log.error(
            "message dead-lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=repr(error),
        )
        if (metrics := self._metrics) is not None:
            logical = _logical_or_raw(self._topics, record.topic)
            metrics.events_consumed.labels(metrics.service, logical, "dead_lettered").inc()
            metrics.dlq_messages.labels(metrics.service, logical).inc()

    def _count_handled(self, items: Sequence[_Item], started: float) -> None:
        if (metrics := self._metrics) is None:
            return
        elapsed = time.perf_counter() - started
        metrics.consumer_batch_size.labels(metrics.service).observe(len(items))
        for item in items:
            topic = item.subscription.topic.value
            outcome = "tombstone" if item.tombstone else "handled"
            metrics.events_consumed.labels(metrics.service, topic, outcome).inc()
            metrics.event_processing.labels(metrics.service, topic).observe(elapsed)

    def _count_tombstone(self, topic: Topic) -> None:
        if (metrics := self._metrics) is not None:
            metrics.events_consumed.labels(metrics.service, topic.value, "tombstone").inc()

    # -- offsets -------------------------------------------------------------------

    def _commit_due(self, consumer: AIOKafkaConsumer) -> bool:
        offsets = self._offsets
        if not offsets.pending:
            return False

        def caught_up() -> bool:
            # Nothing more to read on any partition handled since the last commit.
            for tp, position in offsets.pending.items():
                highwater = consumer.highwater(tp)
                if highwater is not None and position < highwater:
                    return False
            return True

        return commit_due(
            records=offsets.records,
            since_last_commit=time.monotonic() - offsets.last_commit,
            caught_up=caught_up,
            every=self._commit_every,
            interval=self._commit_interval,
            caught_up_interval=self._caught_up_commit_interval,
        )

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        offsets = self._offsets
        if not offsets.pending:
            return
        pending = dict(offsets.pending)
        assigned = consumer.assignment()
        owned = {tp: position for tp, position in pending.items() if tp in assigned}
        try:
            if owned:
                await consumer.commit(owned)
        except KafkaError as exc:
            # A rebalance took the partitions: their new owner starts from the last
            # commit, and the inbox skips what we already handled.
            log.warning("offset commit failed; records will be redelivered", error=repr(exc))
        offsets.pending = {}
        offsets.records = 0
        offsets.last_commit = time.monotonic()


def commit_due(
    *,
    records: int,
    since_last_commit: float,
    caught_up: Callable[[], bool],
    every: int,
    interval: float,
    caught_up_interval: float,
) -> bool:
    """Whether to commit the offsets of `records` records handled since the last commit,
    `since_last_commit` seconds ago: with a backlog every `every` records or `interval`
    seconds; caught up (nothing more to read), every `caught_up_interval` seconds."""
    if records >= every or since_last_commit >= interval:
        return True
    return since_last_commit >= caught_up_interval and caught_up()


class _CommitBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Give partitions up only after the batch in hand is handled and committed."""

    def __init__(self, owner: EventConsumer[Any]) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        owner = self._owner
        consumer = owner.consumer
        if consumer is None:
            return
        async with owner._busy:
            await owner._commit(consumer)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        names = sorted(f"{t.topic}[{t.partition}]" for t in assigned)
        log.info("partitions assigned", partitions=names)


def _envelope(item: _Item) -> Envelope:
    """An event's envelope (an event always has one; only a tombstone may not)."""
    assert item.envelope is not None
    return item.envelope


def _event_id(item: _Item) -> uuid.UUID:
    return _envelope(item).id


@contextlib.contextmanager
def _bound(item: _Item) -> Any:
    envelope = item.envelope
    with structlog.contextvars.bound_contextvars(
        topic=item.subscription.topic.value,
        event_id=str(envelope.id) if envelope is not None else None,
        story_id=envelope.subject if envelope is not None else item.key,
        correlation_id=envelope.correlation_id if envelope is not None else None,
    ):
        yield


def _logical_or_raw(topics: TopicNames, name: str) -> str:
    try:
        return topics.logical(name).value
    except ValueError:
        return name
