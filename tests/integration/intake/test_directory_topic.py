"""Story-intake owns the organisation directory and publishes it: `candour directory
import` writes intake's database and, in the same transaction, every organisation onto
directory.organisations through intake's outbox (real PostgreSQL, real Kafka). The other
services keep their own copies from that topic instead of the import writing their
databases."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from candour_cli.main import app as cli
from candour_common.events import OrganisationListed
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
