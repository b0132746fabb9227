"""Which subscriptions a published story reaches: every filter, one table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from candour_common.events import OrganisationRef, ServiceRef, Tags
from tests.infra import MailSink
from tests.integration.notifications.conftest import (
    Publisher,
    ServiceFactory,
    approved,
    eventually,
)

pytestmark = pytest.mark.integration

SURGERY = ServiceRef(id="SVC-SURG", name="Surgery")
CLINIC = ServiceRef(id="SVC-CLIN", name="Outpatient clinic")


@dataclass(frozen=True)
class Case:
    name: str
    subscription: dict[str, Any]
    story: dict[str, Any] = field(default_factory=dict)
    other_organisation: bool = False  # the subscription is for a different organisation
    emailed: bool = False  # an immediate email
    digested: bool = False  # kept for the next daily digest


CASES = [
    Case("organisation-matches", {}, emailed=True),
    Case("other-organisation", {}, other_organisation=True),
    Case("service-matches", {"service_ids": [SURGERY.id]}, {"service": SURGERY}, emailed=True),
    Case(
        "one-of-several-services",
        {"service_ids": [CLINIC.id, SURGERY.id]},
        {"service": SURGERY},
        emailed=True,
    ),
    Case("other-service", {"service_ids": [CLINIC.id]}, {"service": SURGERY}),
    Case("story-without-service", {"service_ids": [SURGERY.id]}, {"service": None}),
    Case(
        "tag-matches-ignoring-case-and-spaces",
        {"tags": ["Waiting  Times"]},
        {"tags": Tags(improve=["waiting times"])},
        emailed=True,
    ),
    Case(
        "one-of-several-tags",
        {"tags": ["parking", "kind staff"]},
        {"tags": Tags(good=["kind staff"], feelings=["relieved"])},
        emailed=True,
    ),
    Case(
        "tag-in-feelings", {"tags": ["anxious"]}, {"tags": Tags(feelings=["Anxious"])}, emailed=True
    ),
    Case("no-common-tag", {"tags": ["parking"]}, {"tags": Tags(good=["kind staff"])}),
    Case("untagged-story", {"tags": ["parking"]}, {"tags": Tags()}),
    Case("criticality-equal", {"min_criticality": 3}, {"criticality": 3}, emailed=True),
    Case("criticality-above", {"min_criticality": 3}, {"criticality": 5}, emailed=True),
    Case("criticality-below", {"min_criticality": 3}, {"criticality": 2}),
    Case("unrated-with-minimum", {"min_criticality": 1}, {"criticality": None}),
    Case("unrated-with-minimum-zero", {"min_criticality": 0}, {"criticality": None}, emailed=True),
    Case(
        "all-filters-match",
        {"service_ids": [SURGERY.id], "tags": ["food"], "min_criticality": 2},
        {"service": SURGERY, "tags": Tags(improve=["Food"]), "criticality": 4},
        emailed=True,
    ),
    Case(
        "all-filters-but-criticality",
        {"service_ids": [SURGERY.id], "tags": ["food"], "min_criticality": 5},
        {"service": SURGERY, "tags": Tags(improve=["food"]), "criticality": 4},
    ),
    Case("daily-matches", {"frequency": "daily"}, digested=True),
    Case(
        "daily-filtered-out",
        {"frequency": "daily", "min_criticality": 4},
        {"criticality": 2},
    ),
    Case("responses-kind", {"kind": "responses"}),
    Case("safeguarding-kind", {"kind": "safeguarding"}),
]


async def test_matching_matrix(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        # Each case has its own organisation, so the cases cannot reach each other.
        subscriptions: dict[str, str] = {}
        stories = []
        for number, case in enumerate(CASES):
            organisation = OrganisationRef(id=f"MX{number:02d}", name=f"Matrix Trust {number}")
            subscribed_to = f"MY{number:02d}" if case.other_organisation else organisation.id
            created = await service.subscribe(
                f"{case.name}@matrix.example", organisation_id=subscribed_to, **case.subscription
            )
            subscriptions[case.name] = created["id"]
            stories.append(approved(organisation=organisation, **case.story))
        envelopes = [await publish(story) for story in stories]

        async def all_consumed_and_sent() -> bool:
            handled = await service.fetch(
                "SELECT 1 FROM inbox WHERE event_id = ANY($1::uuid[])", [e.id for e in envelopes]
            )
            unsent = await service.fetch(
                "SELECT 1 FROM deliveries WHERE status IN ('pending', 'sending')"
            )
            return len(handled) == len(envelopes) and not unsent

        await eventually(all_consumed_and_sent)
        digested = {
            str(r["subscription_id"])
            for r in await service.fetch("SELECT subscription_id FROM digest_items")
        }
        outcome = {
            case.name: (
                len(smtp_server.to(f"{case.name}@matrix.example")),
                subscriptions[case.name] in digested,
            )
            for case in CASES
        }
        expected = {case.name: (int(case.emailed), case.digested) for case in CASES}
        assert outcome == expected
