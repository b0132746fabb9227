"""The committed contracts under docs/ are exactly what the code generates.

Downstream consumers read docs/events and docs/api, not the code: a change to an
event model, a subscriber or a route must come with regenerated documents.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from candour_cli import contracts
from candour_cli.main import app
from candour_common.events import EVENT_MODELS
from candour_common.topics import Topic

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return contracts.generate_documents()


def test_committed_contracts_match_the_code(generated: dict[str, str]) -> None:
    drifts = contracts.find_drift(ROOT, generated)
    assert not drifts, (
        "The committed contracts differ from what the code generates.\n"
        + "\n".join(d.summary(max_lines=20) for d in drifts)
        + "\nRun `candour contracts generate` and commit docs/ "
        "(within v1 an event may only gain optional fields)."
    )


def test_generation_is_deterministic(generated: dict[str, str]) -> None:
    assert contracts.generate_documents() == generated


def test_every_topic_has_a_schema_an_asyncapi_channel_and_an_openapi_per_service(
    generated: dict[str, str],
) -> None:
    assert {contracts.schema_path(t) for t in Topic} <= set(generated)
    assert {
        f"docs/api/{s}.json" for s in ("story-intake", "moderation", "notifications", "search")
    } <= set(generated)
    asyncapi = json.loads(generated[contracts.ASYNCAPI_PATH])
    assert asyncapi["asyncapi"] == "3.0.0"
    channels = asyncapi["channels"]
    operations = asyncapi["operations"]
    for topic in Topic:
        on_topic = {name for name, c in channels.items() if c["address"] == topic.value}
        actions = {
            o["action"]
            for o in operations.values()
            if o["channel"]["$ref"].split("/")[-1].replace("%20", " ") in on_topic
        }
        assert actions == {"send", "receive"}, (topic, actions)
    for name, message in asyncapi["components"]["messages"].items():
        headers_ref = message["headers"]["$ref"].split("/")[-1]
        headers = asyncapi["components"]["schemas"][headers_ref]
        assert {"ce_id", "ce_type", "ce_subject", "content-type"} <= set(headers["required"]), name
        assert message["correlationId"]["location"] == "$message.header#/ce_correlationid"


@pytest.mark.parametrize("topic", list(Topic), ids=lambda t: t.value)
def test_schema_examples_are_valid_and_parse_as_the_model(
    topic: Topic, generated: dict[str, str]
) -> None:
    schema = json.loads(generated[contracts.schema_path(topic)])
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for example in schema["examples"]:
        validator.validate(example)
        EVENT_MODELS[topic].model_validate(example)
    assert schema["x-candour"]["ce_type"] == topic.ce_type
    # Consumers must be able to ignore fields added later within v1.
    assert schema.get("additionalProperties", True) is not False


def test_check_command_fails_with_a_summary_when_a_document_drifted(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.uv.workspace]\nmembers = []\n")
    runner = CliRunner()
    generated = runner.invoke(app, ["contracts", "generate", "--root", str(tmp_path)])
    assert generated.exit_code == 0, generated.output
    clean = runner.invoke(app, ["contracts", "check", "--root", str(tmp_path)])
    assert clean.exit_code == 0, clean.output

    schema_file = tmp_path / contracts.schema_path(Topic.STORY_APPROVED)
    schema_file.write_text(schema_file.read_text().replace('"StoryApproved"', '"Renamed"'))
    (tmp_path / "docs/api/retired-service.json").write_text("{}\n")
    drifted = runner.invoke(app, ["contracts", "check", "--root", str(tmp_path)])
    assert drifted.exit_code == 1
    assert "changed: docs/events/schemas/story.approved.v1.json" in drifted.output
    assert "stale:   docs/api/retired-service.json" in drifted.output
    assert "candour contracts generate" in drifted.output
