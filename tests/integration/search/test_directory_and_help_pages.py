"""Issue 23 on search's pages: the organisations index, an organisation with no story
yet, the front door, and the help note on a story about suicide or self-harm.

Stories arrive as events on real Kafka, and so does the directory (story-intake
publishes it on directory.organisations; search keeps its own copy).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from candour_common.events import OrganisationListed, ServiceRef
from tests.integration.search.conftest import ORG_A, SearchHarness, approved, eventually

pytestmark = pytest.mark.integration

QUIET = OrganisationListed(
    organisation_id="RQT",
    name="Quiet Valley NHS Trust",
    type="nhs_trust",
    services=[ServiceRef(id="RQT-GP", name="Valley surgery")],
    listed_at=datetime.now(UTC),
)


async def _page(harness: SearchHarness, path: str, status: int = 200) -> str:
    got = await harness.client.get(path)
    assert got.status_code == status, got.text
    assert got.headers["content-type"].startswith("text/html")
    return got.text


async def test_organisations_index_and_an_organisation_with_no_stories_yet(
    search_service: SearchHarness,
) -> None:
    harness = search_service
    story = approved(title="Seen quickly")
    await harness.publish(story)

    async def indexed() -> bool:
        return (await harness.client.get(f"/stories/{story.story_id}")).status_code == 200

    await eventually(indexed)
    await harness.consumed(await harness.publish(QUIET))

    quiet = await _page(harness, "/organisations/RQT")
    assert "Quiet Valley NHS Trust" in quiet and "No stories yet" in quiet
    assert "Organisation not found" not in quiet
    unknown = await _page(harness, "/organisations/NOPE", 404)
    assert "Organisation not found" in unknown

    index = await _page(harness, "/organisations")
    assert '<a href="/organisations/RQT">Quiet Valley NHS Trust</a>' in index
    assert f'<a href="/organisations/{ORG_A.id}">{ORG_A.name}</a>' in index
    row = index[index.index(f"/organisations/{ORG_A.id}") :]
    assert "Stories published </span>1</td>" in row[: row.index("</tr>")]
    quiet_row = index[index.index("/organisations/RQT") :]
    assert "No stories yet" in quiet_row[: quiet_row.index("</tr>")]

    home = await _page(harness, "/")
    assert 'href="/organisations"' in home


async def test_a_story_about_suicide_or_self_harm_tells_readers_where_to_get_help(
    search_service: SearchHarness,
) -> None:
    harness = search_service
    flagged = approved(title="After the overdose").model_copy(
        update={"safeguarding_categories": ["self_harm"]}
    )
    other = approved(title="Shouted at").model_copy(
        update={"safeguarding_categories": ["psychological_abuse"]}
    )
    plain = approved(title="Parking")
    for story in (flagged, other, plain):
        await harness.publish(story)

    async def indexed() -> bool:
        return (await harness.search())["total"] == 3

    await eventually(indexed)
    note = await _page(harness, f"/stories/{flagged.story_id}")
    assert "If this story affects you" in note
    assert "116 123" in note and "option 2" in note and "999" in note
    for story in (other, plain):
        assert "If this story affects you" not in await _page(harness, f"/stories/{story.story_id}")
