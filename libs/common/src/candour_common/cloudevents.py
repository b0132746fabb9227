"""CloudEvents 1.0, Kafka protocol binding, binary content mode.

The envelope travels in `ce_*` headers and the value is the event data as JSON.
`ce_correlationid` is a CloudEvents extension attribute carrying the id of the
HTTP request (or upstream event) that caused this event, so logs can be joined.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from candour_common.events import BaseEvent
from candour_common.topics import Topic

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject")


class InvalidEnvelope(ValueError):
    """The message's headers are not a valid Candour CloudEvent."""


def source_for(service: str) -> str:
    return f"/candour/{service}"


@dataclass(frozen=True, slots=True)
class Envelope:
    id: uuid.UUID
    source: str
    type: str
    time: datetime
    subject: str
    correlation_id: str | None = None

    @classmethod
    def new(cls, event: BaseEvent, *, service: str, correlation_id: str | None = None) -> Envelope:
        return cls(
            id=uuid.uuid4(),
            source=source_for(service),
            type=event.topic.ce_type,
            time=datetime.now(UTC),
            subject=event.subject(),
            correlation_id=correlation_id,
        )

    @classmethod
    def tombstone(
        cls, topic: Topic, story_id: uuid.UUID, *, service: str, correlation_id: str | None = None
    ) -> Envelope:
        """The envelope of a tombstone (a record with a null value) on `topic`: a
        CloudEvent with no data, of the topic's type, about the story."""
        return cls(
            id=uuid.uuid4(),
            source=source_for(service),
            type=topic.ce_type,
            time=datetime.now(UTC),
            subject=str(story_id),
            correlation_id=correlation_id,
        )

    def headers(self, *, with_data: bool = True) -> dict[str, str]:
        headers = {
            "ce_specversion": SPEC_VERSION,
            "ce_id": str(self.id),
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_time": self.time.isoformat().replace("+00:00", "Z"),
            "ce_subject": self.subject,
        }
        if with_data:
            headers["content-type"] = CONTENT_TYPE
        if self.correlation_id:
            headers["ce_correlationid"] = self.correlation_id
        return headers

    @classmethod
    def from_headers(
        cls,
        raw: Mapping[str, str | bytes] | Iterable[tuple[str, bytes]],
        *,
        topic: Topic,
        with_data: bool = True,
    ) -> Envelope:
        """Parse and validate the envelope of a message on `topic` (`with_data=False`: of
        a tombstone, which has no data and so no content type)."""
        items = raw.items() if isinstance(raw, Mapping) else raw
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in items}
        missing = [h for h in REQUIRED_HEADERS if not headers.get(h)]
        if missing:
            raise InvalidEnvelope(f"missing CloudEvents headers: {', '.join(missing)}")
        if headers["ce_specversion"] != SPEC_VERSION:
            raise InvalidEnvelope(f"unsupported ce_specversion {headers['ce_specversion']!r}")
        if headers["ce_type"] != topic.ce_type:
            raise InvalidEnvelope(
                f"ce_type {headers['ce_type']!r} does not belong on topic {topic.value!r}"
            )
        content_type = headers.get("content-type", CONTENT_TYPE)
        if with_data and content_type.split(";")[0].strip() != CONTENT_TYPE:
            raise InvalidEnvelope(f"unsupported content-type {content_type!r}")
        try:
            event_id = uuid.UUID(headers["ce_id"])
            time = datetime.fromisoformat(headers["ce_time"].replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidEnvelope(f"malformed ce_id or ce_time: {exc}") from exc
        return cls(
            id=event_id,
            source=headers["ce_source"],
            type=headers["ce_type"],
            time=time,
            subject=headers["ce_subject"],
            correlation_id=headers.get("ce_correlationid") or None,
        )
