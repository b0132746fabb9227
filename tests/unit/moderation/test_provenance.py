"""Source and reach travel from story.submitted to story.approved unchanged."""

import uuid
from datetime import UTC, datetime

import pytest

from candour_common.events import (
    AuthorContact,
    OrganisationRef,
    Reach,
    ServiceRef,
    Source,
    StorySubmitted,
)
from candour_moderation.domain.model import ApproveStory
from tests.unit.moderation.fakes import queue_item

pytestmark = pytest.mark.unit


def test_provenance_and_programme_are_carried_into_the_published_story() -> None:
    submitted = StorySubmitted(
        story_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        title="Group session",
        body="We talked about waiting times at the clinic.",
        organisation=OrganisationRef(id="TAD", name="Bradford District Care"),
        service=ServiceRef(id="TAD-CMHT", name="CMHT", programme="mental-health"),
        author=AuthorContact(display_name="Anonymous", relationship="patient"),
        source=Source.HEALTHWATCH,
        external_id="HW-1",
        assisted_by="Healthwatch volunteer",
        represents=Reach(individuals=12, patients=9, carers=3),
    )
    item = queue_item(submitted)
    now = datetime.now(UTC)
    approved = item.approve(ApproveStory(submitted.story_id, "mo", criticality=1), now)
    assert approved.source is Source.HEALTHWATCH
    assert approved.external_id == "HW-1"
    assert approved.represents == Reach(individuals=12, patients=9, carers=3)
    assert approved.service is not None and approved.service.programme == "mental-health"
    automatic = queue_item(submitted).auto_approve(now)
    assert automatic.represents.individuals == 12
