"""Story-intake owns the organisation directory and publishes it: `candour directory
import` writes intake's database and, in the same transaction, every organisation onto
directory.organisations through intake's outbox (real PostgreSQL, real Kafka). The other
services keep their own copies from that topic instead of the import writing their
databases."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from candour_cli.main import app as cli
from candour_common.events import OrganisationLanguage, OrganisationListed
from candour_common.topics import Topic, TopicNames
from candour_intake.bootstrap import create_app
from tests.infra import Record, read_topic, serving
from tests.integration.intake.conftest import MakeIntake

pytestmark = pytest.mark.integration

DIRECTORY = """\
organisation_id,organisation_name,organisation_type,service_id,service_name
RQT,Quiet Valley NHS Trust,nhs_trust,RQT-GP,Valley surgery
RQT,Quiet Valley NHS Trust,nhs_trust,RQT-PHYSIO,Physiotherapy
TAD,Bradford District Care NHS Foundation Trust,nhs_trust,TAD-IPU,Inpatient unit
"""


def entries(records: list[Record]) -> dict[str, OrganisationListed]:
    """The newest entry of each organisation, checked against its key and envelope."""
    newest: dict[str, OrganisationListed] = {}
    for record in records:
        assert record.value is not None
        entry = OrganisationListed.model_validate_json(record.value)
        assert record.key == entry.organisation_id.encode()
        assert record.headers["ce_type"] == "org.candour.directory.organisations.v1"
        assert record.headers["ce_subject"] == entry.organisation_id
        assert record.headers["ce_source"] == "/candour/story-intake"
        newest[entry.organisation_id] = entry
    return newest


async def test_the_directory_import_publishes_every_organisation_with_all_its_services(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    settings = await make_intake()  # already holds TAD and RXA, imported before the topic
    url = settings.database_url.get_secret_value()
    csv = tmp_path / "directory.csv"
    csv.write_text(DIRECTORY, encoding="utf-8")
    env = {"CANDOUR_TOPIC_PREFIX": topics.prefix}

    imported = await asyncio.to_thread(
        CliRunner().invoke, cli, ["directory", "import", str(csv), "--database-url", url], env=env
    )
    assert imported.exit_code == 0, imported.output
    assert "imported 2 organisations, 3 services" in imported.output
    assert "directory.organisations" in imported.output
    name = topics.name(Topic.DIRECTORY_ORGANISATIONS)
    async with serving(create_app(settings)):  # intake's relay publishes its outbox
        records = await read_topic(kafka_bootstrap, name, at_least=3, settle=0.5)
    listed = entries(records)
    # The whole directory, not only the file's rows: RXA was there before.
    assert set(listed) == {"RQT", "TAD", "RXA"} and len(records) == 3
    assert listed["RQT"].name == "Quiet Valley NHS Trust"
    assert [(s.id, s.name) for s in listed["RQT"].services] == [
        ("RQT-PHYSIO", "Physiotherapy"),
        ("RQT-GP", "Valley surgery"),
    ]
    # TAD keeps the service it had and gains the imported one.
    assert {s.id for s in listed["TAD"].services} == {"TAD-CMHT", "TAD-IPU"}

    # A directory imported before the topic existed is published again on request.
    again = await asyncio.to_thread(
        CliRunner().invoke, cli, ["directory", "publish", "--database-url", url], env=env
    )
    assert again.exit_code == 0, again.output
    assert "3 organisations" in again.output
    async with serving(create_app(settings)):
        records = await read_topic(kafka_bootstrap, name, at_least=6, settle=0.5)
    assert len(records) == 6 and set(entries(records)) == {"RQT", "TAD", "RXA"}


WELSH_DIRECTORY = "".join(
    ",".join(row) + "\n"
    for row in (
        (
            "organisation_id",
            "organisation_name",
            "organisation_name_cy",
            "organisation_type",
            "email_language",
            "service_id",
            "service_name",
            "service_name_cy",
        ),
        (
            "7A4",
            "Cardiff and Vale University Health Board",
            "Bwrdd Iechyd Prifysgol Caerdydd a'r Fro",
            "local_health_board",
            "bilingual",
            "7A4-CMHT",
            "Community mental health team",
            "Tîm iechyd meddwl cymunedol",
        ),
        ("RQT", "Quiet Valley NHS Trust", "", "nhs_trust", "", "RQT-GP", "Valley surgery", ""),
    )
)


async def test_welsh_names_and_email_language_are_stored_and_published(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    settings = await make_intake()
    url = settings.database_url.get_secret_value()
    csv = tmp_path / "directory.csv"
    csv.write_text(WELSH_DIRECTORY, encoding="utf-8")
    env = {"CANDOUR_TOPIC_PREFIX": topics.prefix}
    imported = await asyncio.to_thread(
        CliRunner().invoke, cli, ["directory", "import", str(csv), "--database-url", url], env=env
    )
    assert imported.exit_code == 0, imported.output
    async with serving(create_app(settings)) as client:
        # Stored in intake's database: the API reads them back.
        assert isinstance(client, httpx.AsyncClient)
        cardiff = (await client.get("/v1/organisations/7A4")).json()
        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.DIRECTORY_ORGANISATIONS), at_least=4, settle=0.5
        )
    assert cardiff["name_cy"] == "Bwrdd Iechyd Prifysgol Caerdydd a'r Fro"
    assert cardiff["services"] == [
        {
            "id": "7A4-CMHT",
            "name": "Community mental health team",
            "name_cy": "Tîm iechyd meddwl cymunedol",
        }
    ]
    listed = entries(records)
    assert listed["7A4"].name_cy == "Bwrdd Iechyd Prifysgol Caerdydd a'r Fro"
    assert listed["7A4"].email_language is OrganisationLanguage.BILINGUAL
    # An organisation without Welsh columns is English, on the topic as in the database.
    assert listed["RQT"].name_cy is None
    assert listed["RQT"].email_language is OrganisationLanguage.ENGLISH


async def test_a_bad_email_language_imports_nothing_and_names_the_line_and_column(
    make_intake: MakeIntake, tmp_path: Path
) -> None:
    settings = await make_intake()
    url = settings.database_url.get_secret_value()
    csv = tmp_path / "directory.csv"
    csv.write_text(WELSH_DIRECTORY.replace("bilingual", "both"), encoding="utf-8")
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["directory", "import", str(csv), "--database-url", url]
    )
    assert result.exit_code == 1
    assert f"{csv}:2: email_language 'both' must be one of en, cy, bilingual" in result.output
    assert "nothing imported" in result.output
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM organisations WHERE id = '7A4'") == 0
    finally:
        await conn.close()
