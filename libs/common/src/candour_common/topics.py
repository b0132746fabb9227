"""The public topic contract: names, CloudEvents types and how a deployment prefixes them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Topic(StrEnum):
    STORY_SUBMITTED = "story.submitted"
    STORY_APPROVED = "story.approved"
    STORY_REJECTED = "story.rejected"
    RESPONSE_POSTED = "response.posted"
    STORY_WITHDRAWN = "story.withdrawn"

    @property
    def ce_type(self) -> str:
        """The CloudEvents `type` every event on this topic carries (version 1 of the contract)."""
        return f"org.candour.{self.value}.v1"

    @classmethod
    def from_ce_type(cls, ce_type: str) -> Topic:
        for topic in cls:
            if topic.ce_type == ce_type:
                return topic
        raise ValueError(f"unknown CloudEvents type {ce_type!r}")


DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Maps logical topics to the names on the cluster.

    A prefix lets several deployments (or test runs) share one cluster without
    seeing each other's events; production uses no prefix.
    """

    prefix: str = ""

    def name(self, topic: Topic) -> str:
        return f"{self.prefix}{topic.value}"

    def dlq(self, topic: Topic) -> str:
        return f"{self.name(topic)}{DLQ_SUFFIX}"

    def logical(self, name: str) -> Topic:
        """The logical topic of a cluster topic name (raises ValueError for a foreign one)."""
        if not name.startswith(self.prefix):
            raise ValueError(f"topic {name!r} is not in prefix {self.prefix!r}")
        return Topic(name[len(self.prefix) :])

    def all(self) -> list[str]:
        return [self.name(t) for t in Topic]


DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How one topic is provisioned. Partitions and replication come from the deployment;
    these are the per-topic rules, kept in one table so `candour topics describe` can
    show where a cluster has drifted from them."""

    retention_ms: int  # -1: kept for ever
    cleanup_policy: str = "delete"
    min_insync_replicas: int = 2

    def configs(self, *, replication_factor: int) -> dict[str, str]:
        return {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": self.cleanup_policy,
            # One replica clusters (dev, CI) cannot require two in sync.
            "min.insync.replicas": str(min(self.min_insync_replicas, replication_factor)),
        }


TOPIC_TABLE: dict[Topic, TopicSpec] = {
    # Carries unmoderated text and the author's contact: kept only long enough for
    # moderation and notifications to have read it, even after an outage.
    Topic.STORY_SUBMITTED: TopicSpec(retention_ms=7 * DAY_MS),
    # The public record: kept for ever so search (and downstream consumers) can be
    # rebuilt by replaying it from the beginning.
    Topic.STORY_APPROVED: TopicSpec(retention_ms=-1),
    Topic.RESPONSE_POSTED: TopicSpec(retention_ms=-1),
    Topic.STORY_WITHDRAWN: TopicSpec(retention_ms=-1),
    # Only intake's status page and notifications read it, soon after.
    Topic.STORY_REJECTED: TopicSpec(retention_ms=90 * DAY_MS),
}
# Dead letters wait for an operator; a month is long enough to notice and replay.
DLQ_SPEC = TopicSpec(retention_ms=30 * DAY_MS)

# Three copies of every partition: one broker may be lost (or restarted for an
# upgrade) while two replicas stay in sync, which `min.insync.replicas=2` and the
# producers' acks=all then require of every write.
PRODUCTION_REPLICATION_FACTOR = 3


def replication_factor_for(brokers: int) -> int:
    """The replication factor for a cluster of `brokers`: 3, or every broker on a smaller one."""
    return max(1, min(PRODUCTION_REPLICATION_FACTOR, brokers))


@dataclass(frozen=True, slots=True)
class TopicUse:
    """Which service writes a topic and which services read it (the design's topic table).

    Each service's Kafka principal is allowed exactly this (`candour_common.kafka_acls`);
    a reader also writes the topic's dead letters.
    """

    producer: str
    consumers: tuple[str, ...]


TOPIC_USE: dict[Topic, TopicUse] = {
    Topic.STORY_SUBMITTED: TopicUse("story-intake", ("moderation", "notifications")),
    Topic.STORY_APPROVED: TopicUse("moderation", ("search", "notifications", "story-intake")),
    Topic.STORY_REJECTED: TopicUse("moderation", ("notifications", "story-intake")),
    Topic.RESPONSE_POSTED: TopicUse("story-intake", ("search", "notifications")),
    Topic.STORY_WITHDRAWN: TopicUse("story-intake", ("moderation", "search", "notifications")),
}
