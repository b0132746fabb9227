"""`candour contracts generate|check`: the published contracts, generated from the code.

Downstream consumers build on three kinds of document under `docs/`:

- `docs/events/schemas/<topic>.v1.json`: a JSON Schema (2020-12) of each event's
  Kafka message value, from the pydantic models in `candour_common.events`, with
  an example;
- `docs/events/asyncapi.json`: an AsyncAPI 3.0 document of every topic, from
  FastStream's generator over one broker carrying every service's subscribers
  and the publishers of the produced topics, completed with what FastStream does
  not describe (the CloudEvents headers, the Kafka key, consumer groups, examples);
- `docs/api/<service>.json`: each service's OpenAPI document.

The documents are rendered deterministically (sorted keys, fixed examples, no
timestamps, settings' defaults rather than the environment), so `check` can
compare the committed files byte for byte with what the code generates now.
"""

from __future__ import annotations

import difflib
import json
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import SecretStr

from candour_common.about_you import Characteristic
from candour_common.cloudevents import CONTENT_TYPE, SPEC_VERSION, Envelope, source_for
from candour_common.consumer import document_subscriptions
from candour_common.events import (
    EVENT_MODELS,
    AuthorContact,
    BaseEvent,
    CategoryCount,
    ChangeMarker,
    CharacteristicMix,
    EscalationState,
    OrganisationListed,
    OrganisationRef,
    PublicAuthor,
    RejectionReason,
    Relationship,
    Responder,
    ResponsePosted,
    SafeguardingMatchRef,
    SafeguardingRaised,
    SafeguardingTrigger,
    SafeguardingUpdated,
    ServiceRef,
    StoryApproved,
    StoryRejected,
    StorySubmitted,
    StoryWithdrawn,
    Tags,
    VoicesSummarised,
)
from candour_common.runtime import PlatformRef
from candour_common.settings import ServiceSettings
from candour_common.topics import DLQ_SUFFIX, TOPIC_TABLE, TOPIC_USE, Topic
from candour_intake import bootstrap as intake_bootstrap
from candour_intake.entrypoints import consumers as intake_consumers
from candour_intake.settings import IntakeSettings
from candour_moderation import bootstrap as moderation_bootstrap
from candour_moderation.entrypoints import consumers as moderation_consumers
from candour_moderation.settings import ModerationSettings
from candour_notifications import bootstrap as notifications_bootstrap
from candour_notifications.entrypoints import consumers as notifications_consumers
from candour_notifications.settings import NotificationsSettings
from candour_search import bootstrap as search_bootstrap
from candour_search.entrypoints import consumers as search_consumers
from candour_search.settings import SearchSettings

app = typer.Typer(
    help="Published contracts: event JSON Schemas, AsyncAPI, OpenAPI.", no_args_is_help=True
)

EVENT_SCHEMAS_DIR = "docs/events/schemas"
ASYNCAPI_PATH = "docs/events/asyncapi.json"
OPENAPI_DIR = "docs/api"
# Directories the generator owns outright: a file there it did not generate is stale.
OWNED_DIRS = (EVENT_SCHEMAS_DIR, OPENAPI_DIR)
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
CONTRACT_VERSION = "1.0.0"
KAFKA_BINDING_VERSION = "0.4.0"

PRODUCERS: dict[Topic, str] = {topic: use.producer for topic, use in TOPIC_USE.items()}
INTERNAL_TOPICS = frozenset(
    {
        Topic.STORY_SUBMITTED,
        Topic.STORY_REJECTED,
        Topic.SAFEGUARDING_RAISED,
        Topic.SAFEGUARDING_UPDATED,
        Topic.INSIGHT_VOICES,
    }
)
# Topics about something other than one story: their key and ce_subject name it.
AGGREGATE_TOPICS = frozenset({Topic.INSIGHT_VOICES})
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# The Kafka key of each topic (see candour_common.keys).
KEYS: dict[Topic, dict[str, str]] = {
    topic: {
        "type": "string",
        "format": "uuid",
        "description": "The story id: every event of one story is on one partition, in order.",
    }
    for topic in Topic
}
KEYS[Topic.RESPONSE_POSTED] = {
    "type": "string",
    "pattern": f"^{_UUID}/{_UUID}$",
    "description": (
        "`<story id>/<response id>`: the topic is compacted per response. The record goes "
        "to the partition Kafka's default partitioner gives the story id alone (murmur2 of "
        "the part before `/`), so a story's events stay in order on one partition."
    ),
}
KEYS[Topic.SAFEGUARDING_RAISED] = {
    "type": "string",
    "pattern": f"^{_UUID}/{_UUID}$",
    "description": (
        "`<story id>/<escalation id>`: the topic is compacted per escalation, on the story's "
        "partition (murmur2 of the part before `/`). A withdrawal writes a tombstone per "
        "escalation."
    ),
}
KEYS[Topic.DIRECTORY_ORGANISATIONS] = {
    "type": "string",
    "description": (
        "The organisation's ODS code (`organisation_id`): the topic is compacted per "
        "organisation, so the newest record of each is the directory as it is now."
    ),
}
KEYS[Topic.INSIGHT_VOICES] = {
    "type": "string",
    "description": (
        "The programme (e.g. `mental-health`): compacted per programme, so the newest "
        "summary of each programme is what stays."
    ),
}
# The record key's form, as `x-candour.key` names it.
KEY_FORMS = {
    Topic.RESPONSE_POSTED: "story_id/response_id",
    Topic.SAFEGUARDING_RAISED: "story_id/escalation_id",
    Topic.DIRECTORY_ORGANISATIONS: "organisation_id",
    Topic.INSIGHT_VOICES: "programme",
}
TOMBSTONES = (
    "Compacted: a record with a null value (a tombstone, CloudEvents headers but no "
    "content-type and no data) erases every earlier record with its key. A withdrawal "
    "writes one per story (story.approved, story.submitted) and per response "
    "(response.posted): delete what you hold for that key. See docs/consuming.md."
)

DIRECTORY_COMPACTION = (
    "Compacted per organisation: each record is an organisation's whole entry (name and "
    "every service), and replaces the ones before it. Read from the beginning for the "
    "whole directory."
)


def schema_path(topic: Topic) -> str:
    return f"{EVENT_SCHEMAS_DIR}/{topic.value}.v1.json"


# ---------------------------------------------------------------------------
# Examples: fixed values, built through the models so they cannot drift from them.

_STORY_ID = uuid.UUID("3f2c8a4e-1b7d-4c2e-9a55-0d6e8f1b2c3d")
_ORGANISATION = OrganisationRef(id="TAD", name="Bradford District Care NHS Foundation Trust")
_SERVICE = ServiceRef(id="TAD-CMHT", name="Community mental health team")
_ESCALATION_ID = uuid.UUID("6a0e2b7c-5d4f-4b1a-9c3e-7f8d2a1b0c4e")
_TAGS = Tags(good=["kindness", "listening"], improve=["waiting times"], feelings=["reassured"])

EXAMPLES: dict[Topic, BaseEvent] = {
    Topic.STORY_SUBMITTED: StorySubmitted(
        story_id=_STORY_ID,
        submitted_at=datetime(2025, 3, 4, 9, 15, tzinfo=UTC),
        title="Thank you Nurse Jane",
        body="Nurse Jane Brown sat with my mum all night and explained everything.",
        organisation=_ORGANISATION,
        service=_SERVICE,
        author=AuthorContact(
            display_name="Sam",
            relationship=Relationship.CARER,
            email="sam@example.org",
            notify_on_response=True,
        ),
        tags=_TAGS,
        experienced_at="2025-02",
    ),
    Topic.STORY_APPROVED: StoryApproved(
        story_id=_STORY_ID,
        published_at=datetime(2025, 3, 4, 11, 40, tzinfo=UTC),
        revision=1,
        title="Thank you Nurse [name]",
        body="Nurse [name] sat with my mum all night and explained everything.",
        organisation=_ORGANISATION,
        service=_SERVICE,
        author=PublicAuthor(display_name="Sam", relationship=Relationship.CARER),
        tags=_TAGS,
        criticality=0,
        experienced_at="2025-02",
    ),
    Topic.STORY_REJECTED: StoryRejected(
        story_id=_STORY_ID,
        rejected_at=datetime(2025, 3, 4, 11, 40, tzinfo=UTC),
        organisation=_ORGANISATION,
        service=_SERVICE,
        reason=RejectionReason.NOT_ABOUT_CARE,
    ),
    Topic.RESPONSE_POSTED: ResponsePosted(
        story_id=_STORY_ID,
        response_id=uuid.UUID("9b1d4f0a-6c3e-4e8b-8f21-5a7c9d2e4b60"),
        posted_at=datetime(2025, 3, 6, 14, 5, tzinfo=UTC),
        organisation=_ORGANISATION,
        responder=Responder(display_name="Priya Shah", role="Ward manager"),
        body="Thank you for telling us. I have shared your story with the night team.",
        change=ChangeMarker.PLANNED,
    ),
    Topic.STORY_WITHDRAWN: StoryWithdrawn(
        story_id=_STORY_ID,
        withdrawn_at=datetime(2025, 4, 1, 8, 0, tzinfo=UTC),
        organisation_id="TAD",
    ),
    Topic.SAFEGUARDING_RAISED: SafeguardingRaised(
        story_id=_STORY_ID,
        escalation_id=_ESCALATION_ID,
        raised_at=datetime(2025, 3, 4, 9, 16, tzinfo=UTC),
        trigger=SafeguardingTrigger.SCREENING,
        raised_by="screening",
        organisation=_ORGANISATION,
        service=_SERVICE,
        submitted_at=datetime(2025, 3, 4, 9, 15, tzinfo=UTC),
        status="pending",
        title="Nobody listened",
        body="I told the nurse I have been saving up my tablets and nobody listened.",
        author=PublicAuthor(display_name="Sam", relationship=Relationship.PATIENT),
        level="serious",
        matches=[
            SafeguardingMatchRef(
                field="body",
                text="saving up my tablets",
                category="suicide",
                category_label="suicide",
                level="serious",
                reason="means",
            )
        ],
    ),
    Topic.SAFEGUARDING_UPDATED: SafeguardingUpdated(
        story_id=_STORY_ID,
        escalation_id=_ESCALATION_ID,
        state=EscalationState.ACKNOWLEDGED,
        at=datetime(2025, 3, 4, 9, 40, tzinfo=UTC),
        acknowledged_by="safeguarding.lead@tad.example.nhs.uk",
    ),
    Topic.DIRECTORY_ORGANISATIONS: OrganisationListed(
        organisation_id=_ORGANISATION.id,
        name=_ORGANISATION.name,
        type="nhs_trust",
        services=[_SERVICE, ServiceRef(id="TAD-IPU", name="Inpatient unit")],
        listed_at=datetime(2025, 3, 1, 8, 0, tzinfo=UTC),
    ),
    Topic.INSIGHT_VOICES: VoicesSummarised(
        programme="mental-health",
        summarised_at=datetime(2025, 3, 5, 2, 0, tzinfo=UTC),
        characteristics=[
            CharacteristicMix(
                characteristic=Characteristic.SEX,
                answered=41,
                prefer_not_to_say=None,
                categories=[
                    CategoryCount(category="female", count=27),
                    CategoryCount(category="male", count=14),
                ],
            ),
            CharacteristicMix(
                characteristic=Characteristic.DISABILITY,
                answered=38,
                prefer_not_to_say=6,
                categories=[
                    CategoryCount(category="yes", count=12),
                    CategoryCount(category="no", count=26),
                ],
            ),
        ],
    ),
}


def example_headers(topic: Topic) -> dict[str, str]:
    event = EXAMPLES[topic]
    envelope = Envelope(
        id=uuid.uuid5(_STORY_ID, topic.value),
        source=source_for(PRODUCERS[topic]),
        type=topic.ce_type,
        time=datetime(2025, 3, 4, 12, 0, tzinfo=UTC),
        subject=event.subject(),
        correlation_id="5d41402abc4b2a76b9719d911017c592",
    )
    return envelope.headers()


def example_value(topic: Topic) -> dict[str, Any]:
    value: dict[str, Any] = EXAMPLES[topic].model_dump(mode="json")
    return value


# ---------------------------------------------------------------------------
# JSON Schemas of the event values.


def event_schema(topic: Topic) -> dict[str, Any]:
    """The JSON Schema of the message value on `topic` (what the consumer parses)."""
    model = EVENT_MODELS[topic]
    schema: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT}
    schema.update(model.model_json_schema(mode="validation"))
    schema["examples"] = [example_value(topic)]
    schema["x-candour"] = {
        "topic": topic.value,
        "key": KEY_FORMS.get(topic, "story_id"),
        "cleanup_policy": TOPIC_TABLE[topic].cleanup_policy,
        "ce_type": topic.ce_type,
        "producer": PRODUCERS[topic],
        "audience": "internal" if topic in INTERNAL_TOPICS else "public",
        "dead_letter_topic": f"{topic.value}{DLQ_SUFFIX}",
    }
    return schema


def headers_schema(topic: Topic) -> dict[str, Any]:
    """The CloudEvents binary-mode headers every message on `topic` carries."""
    text = {"type": "string"}
    return {
        "type": "object",
        "description": (
            "CloudEvents 1.0, Kafka protocol binding, binary content mode: the envelope "
            "travels in headers (UTF-8 strings), the value is the event data as JSON. "
            "A tombstone (null value, compacted topics) has no content-type."
        ),
        "required": [
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_time",
            "ce_subject",
            "content-type",
        ],
        "properties": {
            "ce_specversion": {**text, "const": SPEC_VERSION},
            "ce_id": {
                **text,
                "format": "uuid",
                "description": "Unique per event; a redelivered event has the same id: "
                "deduplicate on it.",
            },
            "ce_source": {
                **text,
                "pattern": "^/candour/[a-z-]+$",
                "description": f"The producing service, `{source_for(PRODUCERS[topic])}`.",
            },
            "ce_type": {**text, "const": topic.ce_type},
            "ce_time": {
                **text,
                "format": "date-time",
                "description": "When the event happened (RFC 3339, UTC).",
            },
            "ce_subject": _subject_schema(topic),
            "ce_correlationid": {
                **text,
                "description": "Extension attribute: the id of the request or event that "
                "caused this one, for joining logs. Optional.",
            },
            "content-type": {**text, "const": CONTENT_TYPE},
        },
    }


def _subject_schema(topic: Topic) -> dict[str, Any]:
    if topic in AGGREGATE_TOPICS:
        return {
            "type": "string",
            "description": "The programme; equal to `programme` and to the Kafka key.",
        }
    if topic is Topic.DIRECTORY_ORGANISATIONS:
        return {
            "type": "string",
            "description": "The organisation's ODS code; equal to `organisation_id` and to "
            "the Kafka key.",
        }
    return {
        "type": "string",
        "format": "uuid",
        "description": "The story id; equal to `story_id` and to the Kafka key (its "
        "part before `/` on response.posted).",
    }


# ---------------------------------------------------------------------------
# AsyncAPI: every service's subscribers and the produced topics' publishers on one broker.


@dataclass(frozen=True)
class _Service:
    name: str
    settings: ServiceSettings
    register: Callable[[KafkaBroker, ServiceSettings, PlatformRef], None]


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def _defaults(settings_cls: type[SettingsT]) -> SettingsT:
    # Defaults, not the environment: the documents must not depend on whoever runs
    # the generator (a CANDOUR_TOPIC_PREFIX would rename every channel). The app is
    # built to be described, never served: a throwaway key satisfies its checks.
    keys = {name: SecretStr(secrets.token_urlsafe(48)) for name in settings_cls.REQUIRED_KEYS}
    return cast(SettingsT, cast(Any, settings_cls).model_construct(**keys))


def _moderation_subscriptions(
    broker: KafkaBroker, settings: ServiceSettings, ref: PlatformRef
) -> None:
    assert isinstance(settings, ModerationSettings)

    async def never_screens(stories: Any) -> list[Any]:  # pragma: no cover - never consumes
        raise RuntimeError("a documentation broker never consumes")

    subscriptions = moderation_consumers.subscriptions(
        settings, screen=never_screens, observe=lambda item, automatic: None
    )
    document_subscriptions(subscriptions, broker, settings.topics, group_id=settings.group_id)


def _notifications_subscriptions(
    broker: KafkaBroker, settings: ServiceSettings, ref: PlatformRef
) -> None:
    assert isinstance(settings, NotificationsSettings)
    subscriptions = notifications_consumers.subscriptions(settings, wake_worker=lambda: None)
    document_subscriptions(subscriptions, broker, settings.topics, group_id=settings.group_id)


def _intake_subscriptions(broker: KafkaBroker, settings: ServiceSettings, ref: PlatformRef) -> None:
    assert isinstance(settings, IntakeSettings)
    subscriptions = intake_consumers.subscriptions(settings)
    document_subscriptions(subscriptions, broker, settings.topics, group_id=settings.group_id)


def _search_subscriptions(broker: KafkaBroker, settings: ServiceSettings, ref: PlatformRef) -> None:
    subscriptions = search_consumers.subscriptions(settings)
    document_subscriptions(subscriptions, broker, settings.topics, group_id=settings.group_id)


def _services() -> list[_Service]:
    return [
        _Service("story-intake", _defaults(IntakeSettings), _intake_subscriptions),
        _Service("moderation", _defaults(ModerationSettings), _moderation_subscriptions),
        _Service("notifications", _defaults(NotificationsSettings), _notifications_subscriptions),
        _Service("search", _defaults(SearchSettings), _search_subscriptions),
    ]


def _documented_broker() -> tuple[KafkaBroker, dict[str, str]]:
    """A broker that is never connected, with every subscriber and publisher declared.

    Returns it and, per subscriber title, the consumer group it joins.
    """
    broker = KafkaBroker(
        specification_url="localhost:9092",
        description=(
            "Your deployment's Kafka (CANDOUR_KAFKA_BOOTSTRAP). Topic names carry the "
            "deployment's CANDOUR_TOPIC_PREFIX; production uses none."
        ),
    )
    groups: dict[str, str] = {}
    for service in _services():
        # The broker keeps its subscribers unordered: tell this service's apart by identity.
        before = {id(subscriber) for subscriber in broker.subscribers}
        service.register(broker, service.settings, PlatformRef())
        for subscriber in broker.subscribers:
            if id(subscriber) in before:
                continue
            title = subscriber.specification.config.title_
            if title:
                groups[title] = service.settings.group_id
    for topic in Topic:
        model = EVENT_MODELS[topic]
        broker.publisher(
            topic.value,
            title=f"{PRODUCERS[topic]}:{topic.value}",
            description=f"{PRODUCERS[topic]} publishes {model.__name__} (via its outbox).",
            schema=model,
        )
    return broker, groups


def asyncapi_document() -> dict[str, Any]:
    broker, groups = _documented_broker()
    specification = AsyncAPI(
        broker,
        title="Candour events",
        version=CONTRACT_VERSION,
        description=(
            "Every Candour topic. Each message is a CloudEvent in Kafka binary mode: the "
            "`ce_*` headers are the envelope and the value is the event as JSON. The key "
            "is the story id (on response.posted `<story id>/<response id>`, on the "
            "story's partition), so one story's events are in order on one partition; "
            "directory.organisations is keyed by the organisation's ODS code. "
            "story.approved and response.posted are compacted: a null value (tombstone) "
            "erases its key. Within v1 changes are additive only. See docs/consuming.md."
        ),
        schema_version="3.0.0",
    ).to_specification()
    document: dict[str, Any] = specification.to_jsonable()
    _add_what_faststream_leaves_out(document, groups)
    document.get("components", {}).get("schemas", {}).pop("EmptyPayload", None)
    return document


def _add_what_faststream_leaves_out(document: dict[str, Any], groups: Mapping[str, str]) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    topic_by_model = {model.__name__: topic for topic, model in EVENT_MODELS.items()}
    for topic in Topic:
        schemas[f"{EVENT_MODELS[topic].__name__}Headers"] = headers_schema(topic)
    for name, message in components.get("messages", {}).items():
        model_name = message["payload"]["$ref"].rsplit("/", 1)[-1]
        if model_name not in topic_by_model:
            # A subscriber consumes in batches and validates each record itself, so
            # FastStream sees no payload type: name the event its topic carries.
            # Subscriber titles are "<service>:<topic>".
            topic = Topic(name.split(":")[1])
            model_name = EVENT_MODELS[topic].__name__
            message["payload"] = {"$ref": f"#/components/schemas/{model_name}"}
        topic = topic_by_model[model_name]
        message["contentType"] = CONTENT_TYPE
        message["headers"] = {"$ref": f"#/components/schemas/{model_name}Headers"}
        message["correlationId"] = {
            "description": "CloudEvents extension attribute `ce_correlationid`.",
            "location": "$message.header#/ce_correlationid",
        }
        message["bindings"] = {
            "kafka": {"key": dict(KEYS[topic]), "bindingVersion": KAFKA_BINDING_VERSION}
        }
        if topic is Topic.DIRECTORY_ORGANISATIONS:
            message["description"] = DIRECTORY_COMPACTION
        elif TOPIC_TABLE[topic].compacted and topic not in AGGREGATE_TOPICS:
            message["description"] = TOMBSTONES
        message["examples"] = [
            {
                "name": f"{topic.value}.example",
                "headers": example_headers(topic),
                "payload": example_value(topic),
            }
        ]
    for title, operation in document.get("operations", {}).items():
        if operation.get("action") == "receive" and title in groups:
            operation.setdefault("bindings", {})["kafka"] = {
                "groupId": {"type": "string", "enum": [groups[title]]},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }


# ---------------------------------------------------------------------------
# OpenAPI of each service.

OPENAPI_APPS: dict[str, Callable[[], FastAPI]] = {
    "story-intake": lambda: intake_bootstrap.create_app(_defaults(IntakeSettings)),
    "moderation": lambda: moderation_bootstrap.create_app(_defaults(ModerationSettings)),
    "notifications": lambda: notifications_bootstrap.create_app(_defaults(NotificationsSettings)),
    "search": lambda: search_bootstrap.create_app(_defaults(SearchSettings)),
}


def openapi_document(service: str) -> dict[str, Any]:
    return OPENAPI_APPS[service]().openapi()


# ---------------------------------------------------------------------------
# Rendering, writing, comparing.


def render(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate_documents() -> dict[str, str]:
    """Every published document: path relative to the repository root -> its text."""
    documents = {schema_path(topic): render(event_schema(topic)) for topic in Topic}
    documents[ASYNCAPI_PATH] = render(asyncapi_document())
    for service in OPENAPI_APPS:
        documents[f"{OPENAPI_DIR}/{service}.json"] = render(openapi_document(service))
    return dict(sorted(documents.items()))


@dataclass(frozen=True)
class Drift:
    path: str
    kind: str  # "missing", "changed" or "stale"
    diff: list[str]

    def summary(self, max_lines: int = 40) -> str:
        if self.kind == "missing":
            return f"missing: {self.path} (not committed)"
        if self.kind == "stale":
            return f"stale:   {self.path} (no longer generated)"
        added = sum(1 for line in self.diff if line.startswith("+") and not line.startswith("+++"))
        removed = sum(
            1 for line in self.diff if line.startswith("-") and not line.startswith("---")
        )
        shown = self.diff[:max_lines]
        more = ["  ..."] if len(self.diff) > max_lines else []
        body = "\n".join(f"  {line.rstrip()}" for line in shown) + ("\n" if shown else "")
        return f"changed: {self.path} (+{added} -{removed} lines)\n{body}" + "\n".join(more)


def _owned_files(root: Path) -> set[str]:
    found: set[str] = set()
    for directory in OWNED_DIRS:
        base = root / directory
        if base.is_dir():
            found.update(p.relative_to(root).as_posix() for p in base.glob("*.json"))
    return found


def find_drift(root: Path, documents: Mapping[str, str] | None = None) -> list[Drift]:
    """How the committed documents under `root` differ from what the code generates."""
    documents = generate_documents() if documents is None else documents
    drifts: list[Drift] = []
    for path, expected in documents.items():
        file = root / path
        if not file.is_file():
            drifts.append(Drift(path, "missing", []))
            continue
        actual = file.read_text(encoding="utf-8")
        if actual != expected:
            diff = difflib.unified_diff(
                actual.splitlines(),
                expected.splitlines(),
                fromfile=f"committed/{path}",
                tofile=f"generated/{path}",
                lineterm="",
                n=1,
            )
            drifts.append(Drift(path, "changed", list(diff)))
    drifts.extend(Drift(p, "stale", []) for p in sorted(_owned_files(root) - set(documents)))
    return drifts


def write_documents(root: Path, documents: Mapping[str, str] | None = None) -> list[str]:
    """Write every document under `root`, remove stale ones; return the paths changed."""
    documents = generate_documents() if documents is None else documents
    changed: list[str] = []
    for drift in find_drift(root, documents):
        file = root / drift.path
        if drift.kind == "stale":
            file.unlink()
        else:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(documents[drift.path], encoding="utf-8")
        changed.append(drift.path)
    return changed


def repository_root(start: Path) -> Path:
    """The uv workspace root at or above `start` (where docs/ lives)."""
    for directory in (start, *start.parents):
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text("utf-8"):
            return directory
    raise typer.BadParameter(f"no Candour repository at or above {start}", param_hint="--root")


RootOption = Annotated[
    Path | None,
    typer.Option(help="Repository root; default: the workspace containing the current directory."),
]


@app.command("generate")
def generate(root: RootOption = None) -> None:
    """Write the JSON Schemas, AsyncAPI and OpenAPI documents under docs/."""
    base = repository_root((root or Path.cwd()).resolve())
    documents = generate_documents()
    changed = write_documents(base, documents)
    for path in changed:
        typer.echo(f"wrote {path}")
    typer.echo(f"{len(changed)} of {len(documents)} documents changed")


@app.command("check")
def check(root: RootOption = None) -> None:
    """Exit 1 if a committed document differs from what the code generates."""
    base = repository_root((root or Path.cwd()).resolve())
    drifts = find_drift(base)
    if not drifts:
        typer.echo("contracts up to date")
        return
    for drift in drifts:
        typer.echo(drift.summary(), err=True)
    typer.echo(
        f"{len(drifts)} document(s) differ from the code: run `candour contracts generate` "
        "and commit the result (within v1, event changes must be additive).",
        err=True,
    )
    raise typer.Exit(1)
