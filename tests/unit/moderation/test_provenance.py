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


def test_assisted_by_is_screened_like_the_rest_of_the_text() -> None:
    """Issue 16: who helped write it is screened too, and its suggestions applied."""
    submitted = StorySubmitted(
        story_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        title="Group session",
        body="We talked about waiting times at the clinic.",
        organisation=OrganisationRef(id="TAD", name="Bradford District Care"),
        service=ServiceRef(id="TAD-CMHT", name="CMHT"),
        author=AuthorContact(display_name="Anonymous", relationship="patient"),
        source=Source.HEALTHWATCH,
        assisted_by="Karen, ring her on 07700 900461; she says he won't let me see my sister",
    )
    item = queue_item(submitted)
    assert item.screening is not None
    assert {r.kind.value for r in item.screening.redactions_in("assisted_by")} == {
        "person_name",
        "phone",
    }
    assert [m.field for m in item.screening.safeguarding.matches] == ["assisted_by"]
    assert not item.auto_approvable
    approved = item.approve(
        ApproveStory(
            submitted.story_id,
            "mo",
            criticality=1,
            apply_suggested=True,
            acknowledge_safeguarding=True,
        ),
        datetime.now(UTC),
    )
    assert approved.assisted_by is not None
    assert "07700" not in approved.assisted_by and "Karen" not in approved.assisted_by
