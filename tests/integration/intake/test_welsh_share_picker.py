"""The share page's organisation picker names organisations and services in Welsh on a
Welsh page, in the order of those names, and in English on an English page (#20; real
PostgreSQL)."""

from __future__ import annotations

import asyncpg
import pytest

from candour_common.events import OrganisationLanguage
from candour_intake.adapters import repository
from candour_intake.bootstrap import create_app
from candour_intake.domain import Organisation, Service
from tests.infra import serving
from tests.integration.intake.conftest import MakeIntake

pytestmark = pytest.mark.integration

CARDIFF = Organisation(
    id="7A4",
    name="Cardiff and Vale University Health Board",
    type="local_health_board",
    services=(
        Service(
            id="7A4-CMHT",
            name="Community mental health team",
            programme="mental-health",
            name_cy="Tîm iechyd meddwl cymunedol",
        ),
    ),
    name_cy="Bwrdd Iechyd Prifysgol Caerdydd a'r Fro",
    email_language=OrganisationLanguage.BILINGUAL,
)


async def test_the_share_page_picker_is_in_the_pages_language(make_intake: MakeIntake) -> None:
    settings = await make_intake()  # holds Bradford (TAD) and Cheshire and Wirral (RXA)
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        await repository.PostgresDirectory(conn).upsert(CARDIFF)
    finally:
        await conn.close()
    async with serving(create_app(settings)) as client:
        welsh = (await client.get("/share?lang=cy")).text
        english = (await client.get("/share?lang=en")).text

    welsh_group = '<optgroup label="Bwrdd Iechyd Prifysgol Caerdydd a&#39;r Fro">'
    assert welsh_group in welsh
    assert "Tîm iechyd meddwl cymunedol \u2013 Bwrdd Iechyd Prifysgol Caerdydd a&#39;r Fro" in welsh
    assert "Cardiff and Vale" not in welsh
    # An organisation without a Welsh name keeps its English one on the Welsh page.
    assert '<optgroup label="Bradford District Care NHS Foundation Trust">' in welsh
    # In the order of the names shown: Bradford, Bwrdd ..., Cheshire (Welsh); Bradford,
    # Cardiff, Cheshire (English).
    bradford, cheshire = "Bradford District Care", "Cheshire and Wirral"
    assert welsh.index(bradford) < welsh.index(welsh_group) < welsh.index(cheshire)

    assert '<optgroup label="Cardiff and Vale University Health Board">' in english
    assert "Community mental health team \u2013 Cardiff and Vale University Health Board" in english
    assert "Bwrdd Iechyd" not in english and "Tîm iechyd" not in english
