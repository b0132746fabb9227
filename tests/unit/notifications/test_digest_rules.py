"""When a digest is due, what it looks like, and its settings."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import ValidationError

from candour_notifications.adapters.templates import render_email
from candour_notifications.domain import (
    DeliveryKind,
    DeliveryStatus,
    DigestSchedule,
    digest_event_id,
)
from candour_notifications.metrics import NotificationMetrics
from candour_notifications.settings import NotificationsSettings

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")
SEVEN = DigestSchedule(at=time(7, 0), timezone=LONDON)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (datetime(2025, 1, 14, 6, 59, 59, tzinfo=UTC), None),  # winter: London is UTC
        (datetime(2025, 1, 14, 7, 0, tzinfo=UTC), date(2025, 1, 14)),
        (datetime(2025, 1, 14, 23, 59, tzinfo=UTC), date(2025, 1, 14)),
        (datetime(2025, 7, 1, 5, 59, tzinfo=UTC), None),  # summer: London is UTC+1
        (datetime(2025, 7, 1, 6, 0, tzinfo=UTC), date(2025, 7, 1)),
        (datetime(2025, 7, 1, 23, 30, tzinfo=UTC), None),  # 00:30 on 2 July in London
        (datetime(2025, 3, 30, 6, 0, tzinfo=UTC), date(2025, 3, 30)),  # the day clocks go forward
        (datetime(2025, 1, 14, 12, 0, tzinfo=ZoneInfo("America/New_York")), date(2025, 1, 14)),
    ],
)
def test_the_digest_is_due_from_the_local_time_on_the_local_date(
    now: datetime, due: date | None
) -> None:
    assert SEVEN.due_date(now) == due


def test_one_event_id_per_subscription_and_day() -> None:
    subscription = uuid.uuid4()
    day = date(2025, 1, 14)
    assert digest_event_id(subscription, day) == digest_event_id(subscription, day)
    assert digest_event_id(subscription, day) != digest_event_id(subscription, date(2025, 1, 15))
    assert digest_event_id(subscription, day) != digest_event_id(uuid.uuid4(), day)


def story_item(title: str, body: str) -> dict[str, object]:
    return {
        "story_id": str(uuid.uuid4()),
        "title": title,
        "body": body,
        "organisation_name": "Royal <Test> Trust",
        "service_name": "Cardiology",
        "criticality_label": "mildly critical",
        "author_name": "Sam",
        "author_relationship": "patient",
        "tags": [],
        "story_url": "http://search.test/v1/stories/1",
        "published_at": "2025-01-13T10:00:00+00:00",
    }


def test_a_story_digest_lists_every_story_with_markup_escaped() -> None:
    context: dict[str, object] = {
        "digest_date": "2025-01-14",
        "item_kind": "story",
        "organisation_id": "RXA",
        "organisation_name": "Royal <Test> Trust",
        "items": [
            story_item("Night <b>shift</b>", '<script>alert("x")</script>'),
            story_item("Second", "x" * 1000),
        ],
    }
    rendered = render_email(
        DeliveryKind.STORY_DIGEST, context, unsubscribe_url="http://n.test/v1/unsubscribe?t=1"
    )
    assert rendered.subject == "Daily digest: 2 new stories about Royal <Test> Trust"
    assert not rendered.urgent
    assert "Tuesday 14 January 2025" in rendered.text
    assert "Night &lt;b&gt;shift&lt;/b&gt;" in rendered.html
    assert "<script>" not in rendered.html
    assert "Royal &lt;Test&gt; Trust" in rendered.html
    assert '<script>alert("x")</script>' in rendered.text
    assert "x" * 1000 not in rendered.text  # long stories are shortened in a digest
    assert "http://n.test/v1/unsubscribe?t=1" in rendered.text


def test_a_response_digest_with_one_response() -> None:
    context: dict[str, object] = {
        "digest_date": "2025-01-14",
        "item_kind": "response",
        "organisation_id": "RXA",
        "organisation_name": "Riverside",
        "items": [
            {
                "story_id": str(uuid.uuid4()),
                "story_title": None,
                "organisation_name": "Riverside",
                "service_name": None,
                "responder_name": "Alex <i>Jones</i>",
                "responder_role": "Ward manager",
                "body": "Sorry.",
                "change": "planned",
                "story_url": "http://search.test/v1/stories/1",
            }
        ],
    }
    rendered = render_email(DeliveryKind.RESPONSE_DIGEST, context, unsubscribe_url="http://u")
    assert rendered.subject == "Daily digest: 1 response from Riverside"
    assert "Alex &lt;i&gt;Jones&lt;/i&gt;" in rendered.html
    assert "A change is planned." in rendered.text


def test_delivery_gauges_cover_every_state_and_live_on_the_given_registry() -> None:
    registry = CollectorRegistry()
    metrics = NotificationMetrics(registry)
    metrics.set_delivery_counts({DeliveryStatus.FAILED: 2, DeliveryStatus.SENT: 5}, None)
    metrics.record_attempt("story_alert", "sent")
    text = generate_latest(registry).decode()
    assert 'candour_notifications_deliveries{service="notifications",state="failed"} 2.0' in text
    assert 'candour_notifications_deliveries{service="notifications",state="pending"} 0.0' in text
    assert (
        'candour_notifications_delivery_attempts_total{kind="story_alert",outcome="sent",'
        'service="notifications"} 1.0'
    ) in text
    # A second app in the same process has its own registry: no collision.
    NotificationMetrics(CollectorRegistry())


def test_digest_settings() -> None:
    settings = NotificationsSettings(digest_time="07:30", digest_timezone="Europe/Paris")
    assert settings.digest_time == time(7, 30)
    assert settings.digest_zone == ZoneInfo("Europe/Paris")
    defaults = NotificationsSettings()
    assert (defaults.digest_time, defaults.digest_timezone) == (time(7, 0), "Europe/London")
    with pytest.raises(ValidationError, match="digest_timezone"):
        NotificationsSettings(digest_timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="digest_time"):
        NotificationsSettings(digest_time="25:00")
