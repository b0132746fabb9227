from __future__ import annotations

import uuid

import pytest

from candour_notifications.domain import (
    Frequency,
    StoryFacts,
    Subscription,
    SubscriptionKind,
    backoff_seconds,
    recipients,
    wants_safeguarding,
    wants_story,
)

pytestmark = pytest.mark.unit

STORY = StoryFacts.of(uuid.uuid4(), "RX1", "cardio", ["Kind staff", "waiting time"], criticality=3)


def subscription(**overrides: object) -> Subscription:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "email": "ward@example.org",
        "organisation_id": "RX1",
        "frequency": Frequency.IMMEDIATE,
        "kind": SubscriptionKind.STORIES,
    }
    values.update(overrides)
    return Subscription(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, True),
        ({"organisation_id": "RX2"}, False),
        ({"service_ids": ("cardio", "renal")}, True),
        ({"service_ids": ("renal",)}, False),
        ({"tags": ("waiting TIME",)}, True),  # tags compare case- and space-insensitively
        ({"tags": ("parking",)}, False),
        ({"tags": ("parking", "kind  staff")}, True),
        ({"min_criticality": 3}, True),
        ({"min_criticality": 4}, False),
        ({"min_criticality": 0}, True),
        ({"active": False}, False),
        ({"service_ids": ("cardio",), "tags": ("waiting time",), "min_criticality": 2}, True),
        ({"service_ids": ("cardio",), "tags": ("waiting time",), "min_criticality": 5}, False),
    ],
)
def test_story_matching_rules(overrides: dict[str, object], expected: bool) -> None:
    assert wants_story(subscription(**overrides), STORY) is expected


def test_story_without_service_does_not_pass_a_service_filter() -> None:
    story = StoryFacts.of(uuid.uuid4(), "RX1", None, [], criticality=2)
    assert not wants_story(subscription(service_ids=("cardio",)), story)
    assert wants_story(subscription(), story)


def test_unrated_story_passes_only_a_zero_minimum() -> None:
    story = StoryFacts.of(uuid.uuid4(), "RX1", "cardio", [], criticality=None)
    assert wants_story(subscription(min_criticality=0), story)
    assert wants_story(subscription(min_criticality=None), story)
    assert not wants_story(subscription(min_criticality=1), story)


def test_safeguarding_matches_organisation_and_services_only() -> None:
    sub = subscription(kind=SubscriptionKind.SAFEGUARDING, service_ids=("cardio",))
    assert wants_safeguarding(sub, "RX1", "cardio")
    assert not wants_safeguarding(sub, "RX1", "renal")
    assert not wants_safeguarding(sub, "RX2", "cardio")
    assert wants_safeguarding(subscription(kind=SubscriptionKind.SAFEGUARDING), "RX1", None)
    assert not wants_safeguarding(subscription(kind=SubscriptionKind.STORIES), "RX1", None)


def test_one_email_per_address_even_with_several_matching_subscriptions() -> None:
    first = subscription(email="Ward@Example.org")
    second = subscription(email="ward@example.org", tags=("waiting time",))
    other = subscription(email="other@example.org")
    chosen = recipients([first, second, other])
    assert [s.id for s in chosen.values()] == [first.id, other.id]


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_seconds(n, base=30, maximum=200) for n in (1, 2, 3, 4, 5)] == [
        30,
        60,
        120,
        200,
        200,
    ]
