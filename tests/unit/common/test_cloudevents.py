import uuid
from datetime import UTC, datetime

import pytest

from candour_common.cloudevents import Envelope, InvalidEnvelope
from candour_common.events import StoryWithdrawn
from candour_common.topics import Topic, TopicNames

pytestmark = pytest.mark.unit


def _event() -> StoryWithdrawn:
    return StoryWithdrawn(
        story_id=uuid.uuid4(), withdrawn_at=datetime.now(UTC), organisation_id="TAD"
    )


def test_headers_carry_the_binary_mode_envelope() -> None:
    event = _event()
    headers = Envelope.new(event, service="story-intake", correlation_id="abc").headers()
    assert headers["ce_specversion"] == "1.0"
    assert uuid.UUID(headers["ce_id"])
    assert headers["ce_source"] == "/candour/story-intake"
    assert headers["ce_type"] == "org.candour.story.withdrawn.v1"
    assert headers["ce_subject"] == str(event.story_id)
    assert headers["content-type"] == "application/json"
    assert headers["ce_time"].endswith("Z")
    assert headers["ce_correlationid"] == "abc"


def test_round_trip_from_kafka_style_headers() -> None:
    envelope = Envelope.new(_event(), service="moderation")
    raw = [(k, v.encode()) for k, v in envelope.headers().items()]
    assert Envelope.from_headers(raw, topic=Topic.STORY_WITHDRAWN) == envelope


@pytest.mark.parametrize("missing", ["ce_id", "ce_type", "ce_subject", "ce_specversion"])
def test_missing_header_is_rejected(missing: str) -> None:
    headers = Envelope.new(_event(), service="x").headers()
    del headers[missing]
    with pytest.raises(InvalidEnvelope, match=missing):
        Envelope.from_headers(headers, topic=Topic.STORY_WITHDRAWN)


def test_type_must_match_the_topic() -> None:
    headers = Envelope.new(_event(), service="x").headers()
    with pytest.raises(InvalidEnvelope, match="does not belong"):
        Envelope.from_headers(headers, topic=Topic.STORY_APPROVED)


def test_topic_names_with_prefix() -> None:
    names = TopicNames("t1.")
    assert names.name(Topic.STORY_APPROVED) == "t1.story.approved"
    assert names.dlq(Topic.STORY_APPROVED) == "t1.story.approved.dlq"
    assert names.logical("t1.response.posted") is Topic.RESPONSE_POSTED
    assert Topic.from_ce_type("org.candour.story.rejected.v1") is Topic.STORY_REJECTED
