"""`candour topics create|describe`: the topic table of the design, on a cluster."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.table import Table

from candour_common.kafka_admin import ensure_topics, topic_configs, topic_specs
from candour_common.settings import ServiceSettings
from candour_common.topics import DLQ_SUFFIX, TopicNames, TopicSpec

app = typer.Typer(help="Kafka topics (names from the design, prefix CANDOUR_TOPIC_PREFIX).")

Bootstrap = Annotated[
    str | None, typer.Option(help="Kafka bootstrap servers (default CANDOUR_KAFKA_BOOTSTRAP).")
]
Prefix = Annotated[
    str | None, typer.Option(help="Topic name prefix (default CANDOUR_TOPIC_PREFIX).")
]
Partitions = Annotated[
    int | None,
    typer.Option(min=1, help="Partitions per topic (default CANDOUR_TOPIC_PARTITIONS or 3)."),
]


class TopicSettings(ServiceSettings):
    """What topic provisioning reads from the environment."""

    topic_partitions: int = 3
    topic_replication_factor: int = 1


def expected_topics(topics: TopicNames, *, with_dlq: bool = True) -> list[str]:
    names = topics.all()
    return names + [f"{n}{DLQ_SUFFIX}" for n in names] if with_dlq else names


@dataclass(frozen=True, slots=True)
class TopicState:
    name: str
    partitions: int | None  # None: the topic does not exist
    expected: int

    @property
    def verdict(self) -> str:
        if self.partitions is None:
            return "missing"
        if self.partitions < self.expected:
            return f"fewer partitions than {self.expected}"
        return "ok"


def compare(names: list[str], found: dict[str, int], expected: int) -> list[TopicState]:
    return [TopicState(n, found.get(n), expected) for n in names]


async def partitions_of(bootstrap: str, names: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="candour-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        present = [n for n in names if n in existing]
        if not present:
            return {}
        described: list[dict[str, Any]] = await admin.describe_topics(present)
        return {
            d["topic"]: len(d.get("partitions") or []) for d in described if not d.get("error_code")
        }
    finally:
        await admin.close()


def _settings(bootstrap: str | None, prefix: str | None, partitions: int | None) -> Any:
    settings = TopicSettings()
    return (
        bootstrap or settings.kafka_bootstrap,
        TopicNames(settings.topic_prefix if prefix is None else prefix),
        partitions or settings.topic_partitions,
        settings.topic_replication_factor,
    )


Configs = Annotated[
    bool,
    typer.Option(
        help="Apply each topic's retention, cleanup policy and min.insync.replicas "
        "from the table (off for brokers that do not support topic configs)."
    ),
]


@app.command("create")
def create(
    bootstrap: Bootstrap = None,
    prefix: Prefix = None,
    partitions: Partitions = None,
    configs: Configs = True,
) -> None:
    """Create every topic and its .dlq that does not exist yet (idempotent)."""
    server, names, count, replication = _settings(bootstrap, prefix, partitions)
    created = asyncio.run(
        ensure_topics(
            server, names, partitions=count, replication_factor=replication, apply_configs=configs
        )
    )
    for name in created:
        typer.echo(f"created {name} ({count} partitions)")
    typer.echo(f"{len(created)} created, {len(expected_topics(names)) - len(created)} existed")


def config_drift(
    specs: dict[str, TopicSpec], found: dict[str, dict[str, str]], *, replication_factor: int
) -> dict[str, list[str]]:
    """Per topic, the managed configs whose cluster value differs from the table."""
    drift: dict[str, list[str]] = {}
    for name, spec in specs.items():
        if name not in found:
            continue
        wanted = spec.configs(replication_factor=replication_factor)
        differs = [
            f"{key}={found[name].get(key, '?')} (want {value})"
            for key, value in wanted.items()
            if found[name].get(key) != value
        ]
        if differs:
            drift[name] = differs
    return drift


@app.command("describe")
def describe(
    bootstrap: Bootstrap = None, prefix: Prefix = None, partitions: Partitions = None
) -> None:
    """Partitions and configs per topic against the table; exit 1 on anything missing or drifted."""
    server, names, count, replication = _settings(bootstrap, prefix, partitions)
    wanted = expected_topics(names)
    states = compare(wanted, asyncio.run(partitions_of(server, wanted)), count)
    specs = topic_specs(names)
    present = [s.name for s in states if s.partitions is not None]
    try:
        found = asyncio.run(topic_configs(server, present)) if present else {}
        drift = config_drift(specs, found, replication_factor=replication)
    except Exception as exc:  # some brokers (the embedded one) do not describe configs
        typer.echo(f"configs not described by this broker: {exc!r}", err=True)
        drift = {}
    table = Table("topic", "partitions", "expected", "state", "config drift")
    for s in states:
        table.add_row(
            s.name,
            "-" if s.partitions is None else str(s.partitions),
            str(s.expected),
            s.verdict,
            "; ".join(drift.get(s.name, [])) or "-",
        )
    Console().print(table)
    if any(s.partitions is None for s in states) or drift:
        raise typer.Exit(1)
