"""What staff may subscribe to: their organisation's services, and tags stories use."""

from __future__ import annotations

import pytest

from candour_notifications.adapters.known_directory import KnownService
from candour_notifications.domain import Frequency, Subscribe, SubscriptionKind
from candour_notifications.service_layer.handlers import AlertChoices, vocabulary

pytestmark = pytest.mark.unit

CHOICES = AlertChoices(
    organisation_id="RXA",
    organisation_name="Riverside Hospitals NHS Trust",
    services=(KnownService("RXA-MAT", "Maternity"), KnownService("RXA-ED", "Emergency")),
    tags=(*vocabulary(), "parking charges"),
)


def subscribe(service_ids: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> Subscribe:
    return Subscribe(
        email="ward@riverside.example",
        organisation_id="RXA",
        frequency=Frequency.IMMEDIATE,
        kind=SubscriptionKind.STORIES,
        service_ids=service_ids,
        tags=tags,
    )


def test_known_services_and_tags_pass_whatever_their_case_and_spacing() -> None:
    assert CHOICES.unknown(subscribe()) is None
    assert CHOICES.unknown(subscribe(("RXA-MAT",), ("Waiting  Times", "Parking charges"))) is None


def test_each_unknown_service_and_tag_is_named() -> None:
    unknown = CHOICES.unknown(subscribe(("RXA-MAT", "RXA-NOPE", "rxa-ed"), ("kindness", "x")))
    assert unknown is not None
    assert unknown.services == ["RXA-NOPE", "rxa-ed"]  # service ids are exact
    assert unknown.tags == ["x"]


def test_names_are_shown_instead_of_codes() -> None:
    assert CHOICES.service_name("RXA-MAT") == "Maternity"
    assert CHOICES.service_name("RXA-OLD") is None
    assert "waiting times" in vocabulary() and "kindness" in vocabulary()
