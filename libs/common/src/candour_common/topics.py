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
