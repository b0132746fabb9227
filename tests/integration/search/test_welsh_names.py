"""Welsh pages name organisations in Welsh (#20): the directory's `name_cy` comes to
search on directory.organisations (real Kafka, real PostgreSQL), and the organisation
pages, the organisations index, story pages, search results and Who listens show it on
a Welsh page; English pages keep the English name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from candour_common.events import OrganisationLanguage, OrganisationListed, ServiceRef
from tests.integration.search.conftest import ORG_A, SearchHarness, approved, eventually

pytestmark = pytest.mark.integration

RIVERSIDE_CY = "Ysbytai Glan-yr-afon"
BETSI = "Betsi Cadwaladr University Health Board"
BETSI_CY = "Bwrdd Iechyd Prifysgol Betsi Cadwaladr"


def _listed(organisation_id: str, name: str, name_cy: str | None) -> OrganisationListed:
    return OrganisationListed(
        organisation_id=organisation_id,
        name=name,
        name_cy=name_cy,
        email_language=OrganisationLanguage.BILINGUAL,
        type="local_health_board",
        services=[ServiceRef(id=f"{organisation_id}-CMHT", name="Community mental health team")],
        listed_at=datetime.now(UTC),
    )


async def _page(harness: SearchHarness, path: str) -> str:
    got = await harness.client.get(path)
    assert got.status_code == 200, got.text
    return got.text


async def test_welsh_pages_show_the_directorys_welsh_name_and_english_pages_do_not(
    search_service: SearchHarness,
) -> None:
    harness = search_service
    # Published yesterday: within Who listens' 30 days.
    story = approved(title="Seen quickly", published_at=datetime.now(UTC) - timedelta(days=1))
    await harness.publish(story)

    async def indexed() -> bool:
        return (await harness.client.get(f"/stories/{story.story_id}")).status_code == 200

    await eventually(indexed)
    await harness.consumed(await harness.publish(_listed(ORG_A.id, ORG_A.name, RIVERSIDE_CY)))
    await harness.consumed(await harness.publish(_listed("7A1", BETSI, BETSI_CY)))

    welsh = {
        "story": await _page(harness, f"/stories/{story.story_id}?lang=cy"),
        "organisation": await _page(harness, f"/organisations/{ORG_A.id}?lang=cy"),
        "no stories yet": await _page(harness, "/organisations/7A1?lang=cy"),
        "index": await _page(harness, "/organisations?lang=cy"),
        "search": await _page(harness, "/search?lang=cy&q=seen"),
        "home": await _page(harness, "/?lang=cy"),
        "who listens": await _page(harness, "/who-listens?lang=cy"),
    }
    for page, html in welsh.items():
        assert '<html lang="cy"' in html, page
        assert RIVERSIDE_CY in html or BETSI_CY in html, page
        assert ORG_A.name not in html, page
    assert f'<a href="/organisations/{ORG_A.id}">{RIVERSIDE_CY}</a>' in welsh["story"]
    assert f"<h1>{RIVERSIDE_CY}</h1>" in welsh["organisation"]
    assert f"<h1>{BETSI_CY}</h1>" in welsh["no stories yet"]
    # The search form's organisation choices are in Welsh too.
    assert f'<option value="{ORG_A.id}"' in welsh["search"]
    assert f">{RIVERSIDE_CY} (1)</option>" in welsh["search"]
    # The Welsh index is in the order of the Welsh names: "Bwrdd ..." before "Ysbytai ...".
    index = welsh["index"]
    assert index.index(BETSI_CY) < index.index(RIVERSIDE_CY)
    assert BETSI not in index
    # Who listens names it in its table and in its chart's labels.
    assert f'<a href="/organisations/{ORG_A.id}">{RIVERSIDE_CY}</a>' in welsh["who listens"]
    assert f"{RIVERSIDE_CY}: 1 " in welsh["who listens"]

    english = {
        "story": await _page(harness, f"/stories/{story.story_id}?lang=en"),
        "organisation": await _page(harness, f"/organisations/{ORG_A.id}"),
        "no stories yet": await _page(harness, "/organisations/7A1"),
        "index": await _page(harness, "/organisations"),
        "search": await _page(harness, "/search?q=seen"),
        "who listens": await _page(harness, "/who-listens"),
    }
    for page, html in english.items():
        assert RIVERSIDE_CY not in html and BETSI_CY not in html, page
    assert f"<h1>{ORG_A.name}</h1>" in english["organisation"]
    assert f"<h1>{BETSI}</h1>" in english["no stories yet"]
    # English order: "Betsi ..." before "Riverside ...".
    assert english["index"].index(BETSI) < english["index"].index(ORG_A.name)

    # The directory dropping a Welsh name brings the English one back to Welsh pages.
    await harness.consumed(await harness.publish(_listed(ORG_A.id, ORG_A.name, None)))
    again = await _page(harness, f"/organisations/{ORG_A.id}?lang=cy")
    assert f"<h1>{ORG_A.name}</h1>" in again and RIVERSIDE_CY not in again
