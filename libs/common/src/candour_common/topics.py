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
    SAFEGUARDING_RAISED = "safeguarding.raised"
    SAFEGUARDING_UPDATED = "safeguarding.updated"
    DIRECTORY_ORGANISATIONS = "directory.organisations"
    INSIGHT_VOICES = "insight.voices"

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

# The topic configs `candour topics create` sets and `candour topics describe` checks.
MANAGED_CONFIGS = (
    "retention.ms",
    "cleanup.policy",
    "min.insync.replicas",
    "segment.ms",
    "max.compaction.lag.ms",
    "delete.retention.ms",
)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How one topic is provisioned. Partitions and replication come from the deployment;
    these are the per-topic rules, kept in one table so `candour topics describe` can
    show where a cluster has drifted from them.

    A compacted topic also says how soon a superseded or deleted record is gone:
    `segment_ms` closes the active segment (the cleaner never touches it) and
    `max_compaction_lag_ms` makes a dirty segment eligible however little of the log
    is dirty; together they bound how long a withdrawn story's text stays on disk.
    `delete_retention_ms` is how long a tombstone itself stays readable, i.e. how long
    a consumer may be away and still see it.
    """

    retention_ms: int  # -1: kept for ever
    cleanup_policy: str = "delete"
    min_insync_replicas: int = 2
    segment_ms: int | None = None
    max_compaction_lag_ms: int | None = None
    delete_retention_ms: int | None = None

    @property
    def compacted(self) -> bool:
        return "compact" in self.cleanup_policy.split(",")

    def configs(self, *, replication_factor: int) -> dict[str, str]:
        configs = {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": self.cleanup_policy,
            # One replica clusters (dev, CI) cannot require two in sync.
            "min.insync.replicas": str(min(self.min_insync_replicas, replication_factor)),
        }
        optional = {
            "segment.ms": self.segment_ms,
            "max.compaction.lag.ms": self.max_compaction_lag_ms,
            "delete.retention.ms": self.delete_retention_ms,
        }
        configs |= {key: str(value) for key, value in optional.items() if value is not None}
        return configs


def _compacted(*, retention_ms: int = -1, cleanup_policy: str = "compact") -> TopicSpec:
    """A topic keyed so that a tombstone erases what came before it: a withdrawn story's
    text is compacted away within about two days (a segment closes after one day and is
    cleaned within the next), and tombstones stay readable for a week."""
    return TopicSpec(
        retention_ms=retention_ms,
        cleanup_policy=cleanup_policy,
        segment_ms=DAY_MS,
        max_compaction_lag_ms=DAY_MS,
        delete_retention_ms=7 * DAY_MS,
    )


TOPIC_TABLE: dict[Topic, TopicSpec] = {
    # Carries unmoderated text and the author's contact: kept only long enough for
    # moderation and notifications to have read it, even after an outage, and compacted
    # so that the tombstone a withdrawal writes erases it sooner.
    Topic.STORY_SUBMITTED: _compacted(retention_ms=7 * DAY_MS, cleanup_policy="compact,delete"),
    # The public record: kept for ever so search (and downstream consumers) can be
    # rebuilt by replaying it from the beginning; compacted per story (story.approved)
    # and per response (response.posted), so a withdrawal's tombstones erase the text.
    Topic.STORY_APPROVED: _compacted(),
    Topic.RESPONSE_POSTED: _compacted(),
    # No text: ids and times only; kept for ever so a replay still sees every withdrawal.
    Topic.STORY_WITHDRAWN: TopicSpec(retention_ms=-1),
    # Only intake's status page and notifications read it, soon after.
    Topic.STORY_REJECTED: TopicSpec(retention_ms=90 * DAY_MS),
    # Carries the unpublished story, the screening matches and the moderator's note to
    # notifications: kept like story.submitted (a week, compacted per escalation, so the
    # tombstones a withdrawal writes erase it sooner).
    Topic.SAFEGUARDING_RAISED: _compacted(retention_ms=7 * DAY_MS, cleanup_policy="compact,delete"),
    # Who was alerted and who acknowledged (staff addresses, no story text): read by
    # moderation soon after; kept as long as story.rejected.
    Topic.SAFEGUARDING_UPDATED: TopicSpec(retention_ms=90 * DAY_MS),
    # The organisation directory, one record per organisation (names only, nothing
    # personal): kept for ever and compacted, so a service reading it from the beginning
    # gets the whole directory as it is now.
    Topic.DIRECTORY_ORGANISATIONS: _compacted(),
    # Counts of "about you" answers per programme (small ones suppressed), keyed by
    # programme: compacted, so only each programme's newest summary stays.
    Topic.INSIGHT_VOICES: _compacted(),
}
# Dead letters hold copies of stories (and of contact details, from story.submitted):
# an operator has a week to notice and replay them, then they are gone.
DLQ_SPEC = TopicSpec(retention_ms=7 * DAY_MS)

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
    Topic.SAFEGUARDING_RAISED: TopicUse("moderation", ("notifications",)),
    Topic.SAFEGUARDING_UPDATED: TopicUse("notifications", ("moderation",)),
    Topic.DIRECTORY_ORGANISATIONS: TopicUse("story-intake", ("notifications", "search")),
    Topic.INSIGHT_VOICES: TopicUse("story-intake", ("search",)),
}
