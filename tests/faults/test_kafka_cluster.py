"""The four services on a three-broker Kafka cluster (replication factor 3, min.insync.replicas
2, acks=all, no unclean leader election) while brokers die under load.

One cluster (`deploy/local/kafka.sh cluster`, its own ports and state directory) serves
the whole module:

- one broker, the leader of most partitions of story.submitted, is killed with SIGKILL in
  the middle of a stream of stories and brought back later: every story is searchable
  once, every immediate email is sent once, nothing is dead-lettered, and intake answers
  201 throughout;
- two of the three brokers are killed: writes are no longer acknowledged (so none can be
  lost), intake still answers 201 into its outbox, and everything flows once one broker
  is back.

Each run prints how long the stream stood still (`recovery`); docs/operations.md records
the numbers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.partitioner import DefaultPartitioner
from typer.testing import CliRunner, Result

from candour_cli.main import app as cli
from candour_common.kafka_admin import ensure_topics, topic_configs
from candour_common.topics import Topic, TopicNames
from tests.conftest import CreateDatabase, free_port
from tests.faults.platform import Platform, eventually, platform_setup, start
from tests.infra import KafkaCluster, delete_topics, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(480)]

PARTITIONS = 3
# A stream slow enough to span the outage on a 2-core machine, fast enough to be a stream.
RATE_PER_SECOND = 3.0


@pytest.fixture(scope="module")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    ports = (free_port(), free_port(), free_port())
    controllers = (free_port(), free_port(), free_port())
    cluster = KafkaCluster(tmp_path_factory.mktemp("kafka-cluster"), ports, controllers)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def cluster_topics(kafka_cluster: KafkaCluster) -> AsyncIterator[TopicNames]:
    """This test's topics on the cluster, as production makes them (`apply_configs`)."""
    names = TopicNames(prefix=f"c{uuid.uuid4().hex[:10]}.")
    await ensure_topics(kafka_cluster.bootstrap, names, partitions=PARTITIONS, apply_configs=True)
    yield names
    await delete_topics(kafka_cluster.bootstrap, names.prefix)


@pytest.fixture
async def cluster_platform(
    create_database: CreateDatabase,
    kafka_cluster: KafkaCluster,
    cluster_topics: TopicNames,
    tmp_path: Path,
) -> AsyncIterator[Platform]:
    async with platform_setup(
        create_database, kafka_cluster.bootstrap, cluster_topics, tmp_path
    ) as (platform, _smtp):
        yield platform


async def busiest_leader(cluster: KafkaCluster, topics: TopicNames) -> tuple[int, set[int]]:
    """The broker leading the most partitions of story.submitted now, and those partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topics.name(Topic.STORY_SUBMITTED)])
    finally:
        await admin.close()
    led = {p["partition"]: p["leader"] for p in described["partitions"]}
    busiest = max(cluster.nodes, key=lambda n: sum(1 for b in led.values() if b == n))
    return busiest, {p for p, b in led.items() if b == busiest}


def submitted_partition(story_id: str) -> int:
    """The partition of story.submitted a story goes to (the producers' default partitioner)."""
    return int(DefaultPartitioner()(story_id.encode(), list(range(PARTITIONS)), None))


@dataclass
class Stream:
    """Stories submitted at a steady rate through intake's HTTP API, each answered 201, and
    when each became searchable. It runs until `end_after` says how many more to send, so
    it spans the outage however slow the machine is."""

    platform: Platform
    count: int = 1000  # at most
    ids: list[str] = field(default_factory=list)
    submitted_at: dict[str, float] = field(default_factory=dict)
    searchable_at: dict[str, float] = field(default_factory=dict)

    async def submit(self) -> None:
        loop = asyncio.get_running_loop()
        begin = loop.time()
        i = 0
        while i < self.count:
            await asyncio.sleep(max(0.0, begin + i / RATE_PER_SECOND - loop.time()))
            # Platform.submit asserts the 201.
            (story_id,) = await self.platform.submit(1, first=i, concurrency=1)
            self.ids.append(story_id)
            self.submitted_at[story_id] = time.monotonic()
            i += 1

    def end_after(self, more: int) -> None:
        """Submit `more` stories from now on, then stop."""
        self.count = min(self.count, len(self.ids) + more)

    async def watch(self) -> None:
        """Note the moment each story first shows in search's database."""
        while len(self.searchable_at) < self.count:
            rows = await self.platform.fetch("search", "SELECT story_id::text FROM search_stories")
            now = time.monotonic()
            for row in rows:
                self.searchable_at.setdefault(row["story_id"], now)
            await asyncio.sleep(0.2)

    async def begin(self) -> list[asyncio.Task[None]]:
        """Start the services, subscribe the trust, submit and watch; wait until it flows."""
        await start(self.platform)
        await self.platform.subscribe_trust()
        tasks = [asyncio.create_task(self.submit()), asyncio.create_task(self.watch())]

        async def flowing() -> bool:
            return len(self.searchable_at) >= 15

        await eventually(flowing, timeout=120, what="the stream to flow")
        return tasks

    def first_flowing_after(self, moment: float, partitions: set[int] | None = None) -> float:
        """Seconds from `moment` until the first story submitted after it was searchable
        (only stories of `partitions` of story.submitted, if given)."""
        times = [
            self.searchable_at[i] - moment
            for i in self.ids
            if self.submitted_at[i] > moment
            and i in self.searchable_at
            and (partitions is None or submitted_partition(i) in partitions)
        ]
        assert times, "no story submitted after that moment became searchable"
        return min(times)


async def unsent_and_sent(platform: Platform) -> tuple[int, int]:
    """Intake's outbox: rows waiting for an acknowledgement, rows acknowledged."""
    rows = await platform.fetch(
        "story-intake",
        "SELECT count(*) FILTER (WHERE sent_at IS NULL) AS unsent,"
        " count(*) FILTER (WHERE sent_at IS NOT NULL) AS sent FROM outbox"
        " WHERE topic = 'story.submitted'",
    )
    return int(rows[0]["unsent"]), int(rows[0]["sent"])


def candour_topics(*args: str, bootstrap: str, prefix: str) -> Result:
    """`candour topics ...`, in this process (the CLI's start-up would cost seconds)."""
    env = {"CANDOUR_KAFKA_BOOTSTRAP": bootstrap, "CANDOUR_TOPIC_PREFIX": prefix, "COLUMNS": "300"}
    return CliRunner().invoke(cli, ["topics", *args], env=env)


def describe_until(done: Callable[[Result], bool], *, bootstrap: str, prefix: str) -> Result:
    """`candour topics describe` until `done` (15 s at most): each broker learns of a new
    topic or config from the controller in its own time, and describe may ask any."""
    for _ in range(30):
        result = candour_topics("describe", bootstrap=bootstrap, prefix=prefix)
        if done(result):
            break
        time.sleep(0.5)
    return result


async def _make_drift(bootstrap: str, prefix: str) -> None:
    """story.approved remade by hand with one replica; story.submitted with min ISR 1."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([f"{prefix}story.approved"])

        async def gone() -> bool:
            return f"{prefix}story.approved" not in await admin.list_topics()

        await eventually(gone, timeout=30, what="deletion")
        await admin.create_topics([NewTopic(f"{prefix}story.approved", 3, 1)])
        await admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    f"{prefix}story.submitted",
                    {"min.insync.replicas": "1"},
                )
            ]
        )
    finally:
        await admin.close()


def test_topics_get_three_replicas_two_in_sync_and_drift_is_reported(
    kafka_cluster: KafkaCluster,
) -> None:
    prefix = f"rf{uuid.uuid4().hex[:8]}."
    bootstrap = kafka_cluster.bootstrap
    try:
        made = candour_topics("create", bootstrap=bootstrap, prefix=prefix)
        assert made.exit_code == 0, made.output
        assert "(3 partitions, replication factor 3)" in made.output
        submitted = f"{prefix}story.submitted"
        configs = asyncio.run(topic_configs(bootstrap, [submitted]))
        assert configs[submitted]["min.insync.replicas"] == "2"
        clean = describe_until(lambda r: r.exit_code == 0, bootstrap=bootstrap, prefix=prefix)
        assert clean.exit_code == 0, clean.output
        assert "3 broker(s): replication factor 3 expected" in clean.output

        asyncio.run(_make_drift(bootstrap, prefix))
        wanted = ("replication factor 1, want 3", "min.insync.replicas=1 (want 2)")
        drifted = describe_until(
            lambda r: all(text in r.output for text in wanted), bootstrap=bootstrap, prefix=prefix
        )
        assert drifted.exit_code == 1
        for text in wanted:
            assert text in drifted.output, drifted.output
    finally:
        asyncio.run(delete_topics(bootstrap, prefix))


async def test_a_broker_killed_mid_stream_loses_and_duplicates_nothing(
    kafka_cluster: KafkaCluster, cluster_platform: Platform, cluster_topics: TopicNames
) -> None:
    platform = cluster_platform
    stream = Stream(platform)
    submitting, watching = await stream.begin()
    try:
        victim, victim_partitions = await busiest_leader(kafka_cluster, cluster_topics)
        # `kill` returns once the process is gone: the loss starts then.
        await asyncio.to_thread(kafka_cluster.kill, victim)
        killed_at = time.monotonic()

        # The cluster elects new leaders for the victim's partitions (once the controller
        # has fenced it) and the stream flows again without it.
        await eventually(
            lambda: _some_searchable_after(stream, killed_at, victim_partitions),
            timeout=120,
            what=f"stories on broker {victim}'s partitions to flow again",
            explain=platform.describe,
        )
        await asyncio.to_thread(kafka_cluster.start_broker, victim)
        stream.end_after(15)  # and a few more with the broker back
        await submitting
        await platform.assert_everything_exactly_once(stream.ids, timeout=180)
        await watching
    finally:
        submitting.cancel()
        watching.cancel()
    recovery_any = stream.first_flowing_after(killed_at)
    recovery = stream.first_flowing_after(killed_at, victim_partitions)
    print(
        f"\nbroker {victim} (leader of story.submitted partitions {sorted(victim_partitions)}) "
        f"killed: first story flowing again after {recovery_any:.1f}s, first on its "
        f"partitions after {recovery:.1f}s"
    )


async def test_two_brokers_killed_nothing_acknowledged_and_intake_keeps_answering(
    kafka_cluster: KafkaCluster, cluster_platform: Platform, cluster_topics: TopicNames
) -> None:
    platform = cluster_platform
    stream = Stream(platform)
    submitting, watching = await stream.begin()
    busiest, _ = await busiest_leader(kafka_cluster, cluster_topics)
    victims = [busiest, next(n for n in kafka_cluster.nodes if n != busiest)]
    try:
        for victim in victims:
            await asyncio.to_thread(kafka_cluster.kill, victim)
        killed_at = time.monotonic()
        submitted_at_kill = len(stream.ids)

        # Writes in flight at the kill may still complete; after that, none is acknowledged.
        await asyncio.sleep(3)
        _, acknowledged = await unsent_and_sent(platform)
        acknowledged_ids = {
            r["key"]
            for r in await platform.fetch(
                "story-intake",
                "SELECT key FROM outbox WHERE topic = 'story.submitted' AND sent_at IS NOT NULL",
            )
        }
        await asyncio.sleep(15)
        unsent, still_acknowledged = await unsent_and_sent(platform)
        assert still_acknowledged == acknowledged, "a write was acknowledged by one broker"
        assert len(stream.ids) > submitted_at_kill + 30, "intake stopped taking stories"
        assert unsent > 0, "the outbox should be holding what Kafka cannot take"
        assert not submitting.done() or submitting.exception() is None

        returned_at = time.monotonic()
        await asyncio.to_thread(kafka_cluster.start_broker, victims[0])
        back_at = time.monotonic()
        await eventually(
            lambda: _some_searchable_after(stream, killed_at, None),
            timeout=180,
            what="stories to flow with two brokers",
            explain=platform.describe,
        )
        stream.end_after(15)
        await submitting
        await platform.assert_everything_exactly_once(stream.ids, timeout=240)
        await watching

        # Every write acknowledged before the outage is in the topic.
        records = await read_topic(
            kafka_cluster.bootstrap,
            cluster_topics.name(Topic.STORY_SUBMITTED),
            at_least=len(stream.ids),
            timeout=60,
        )
        in_topic = {r.key.decode() for r in records if r.key is not None}
        assert acknowledged_ids <= in_topic
        assert set(stream.ids) <= in_topic
    finally:
        submitting.cancel()
        watching.cancel()
        await asyncio.to_thread(kafka_cluster.start_broker, victims[1])
    recovery = stream.first_flowing_after(returned_at)
    print(
        f"\nbrokers {victims} killed for {returned_at - killed_at:.0f}s: broker {victims[0]} "
        f"listed again {back_at - returned_at:.1f}s after its start; first story flowing "
        f"{recovery:.1f}s after its start"
    )


async def _some_searchable_after(
    stream: Stream, moment: float, partitions: set[int] | None
) -> bool:
    return any(
        stream.submitted_at[i] > moment
        and i in stream.searchable_at
        and (partitions is None or submitted_partition(i) in partitions)
        for i in list(stream.ids)
    )
