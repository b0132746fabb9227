"""`candour topics create|describe`: the topic table of the design, on a cluster."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from candour_cli.kafka_errors import kafka_errors_explained
from candour_common.kafka_admin import (
    admin_client,
    cluster_size,
    ensure_topics,
    retrying,
    topic_configs,
    topic_specs,
)
from candour_common.kafka_connection import KafkaConnection
from candour_common.settings import ServiceSettings
from candour_common.startup import command_settings_or_exit
from candour_common.topics import DLQ_SUFFIX, TopicNames, TopicSpec, replication_factor_for

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
Replication = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Replicas per partition (default CANDOUR_TOPIC_REPLICATION_FACTOR, else from "
        "the cluster size: 3 on three brokers or more, 1 on one).",
    ),
]


class TopicSettings(ServiceSettings):
    """What topic provisioning reads from the environment."""

    topic_partitions: int = 3
    # None: follow the cluster size (`replication_factor_for`).
    topic_replication_factor: int | None = None


def expected_topics(topics: TopicNames, *, with_dlq: bool = True) -> list[str]:
    names = topics.all()
    return names + [f"{n}{DLQ_SUFFIX}" for n in names] if with_dlq else names


@dataclass(frozen=True, slots=True)
class Layout:
    """How a topic is spread: partitions; replicas of its least replicated partition, and how
    many of them are in sync there (fewer during a broker's absence); partitions without a
    leader (no write or read until an in-sync replica returns)."""

    partitions: int
    replicas: int
    in_sync: int | None = None  # None: not known
    leaderless: int = 0


@dataclass(frozen=True, slots=True)
class TopicState:
    name: str
    layout: Layout | None  # None: the topic does not exist
    expected: int
    expected_replicas: int = 1

    @property
    def partitions(self) -> int | None:
        return None if self.layout is None else self.layout.partitions

    @property
    def verdict(self) -> str:
        if self.layout is None:
            return "missing"
        problems = []
        layout = self.layout
        if layout.partitions < self.expected:
            problems.append(f"fewer partitions than {self.expected}")
        if layout.replicas != self.expected_replicas:
            problems.append(f"replication factor {layout.replicas}, want {self.expected_replicas}")
        if layout.leaderless:
            problems.append(f"{layout.leaderless} partition(s) without a leader")
        elif layout.in_sync is not None and layout.in_sync < layout.replicas:
            problems.append(f"under-replicated: {layout.in_sync} of {layout.replicas} in sync")
        return "; ".join(problems) or "ok"


def compare(
    names: list[str], found: dict[str, Layout], expected: int, expected_replicas: int = 1
) -> list[TopicState]:
    return [TopicState(n, found.get(n), expected, expected_replicas) for n in names]


async def layouts_of(kafka: KafkaConnection, names: list[str]) -> tuple[dict[str, Layout], int]:
    """Each existing topic's layout, and the cluster size (`cluster_size`)."""
    admin = admin_client(kafka)
    await admin.start()
    try:
        brokers = await cluster_size(admin)
        existing = set(await retrying(admin.list_topics))
        present = [n for n in names if n in existing]
        if not present:
            return {}, brokers
        described: list[dict[str, Any]] = await retrying(lambda: admin.describe_topics(present))
        return {d["topic"]: layout(d) for d in described if not d.get("error_code")}, brokers
    finally:
        await admin.close()


def layout(described: dict[str, Any]) -> Layout:
    """A topic's layout from its metadata (one `describe_topics` entry)."""
    partitions = described.get("partitions") or []
    return Layout(
        partitions=len(partitions),
        replicas=min((len(p.get("replicas") or []) for p in partitions), default=0),
        in_sync=min((len(p.get("isr") or []) for p in partitions), default=0),
        # -1: no leader (the partition's error is LEADER_NOT_AVAILABLE)
        leaderless=sum(1 for p in partitions if p.get("leader", -1) < 0),
    )


async def _cluster_size(kafka: KafkaConnection) -> int:
    admin = admin_client(kafka)
    await admin.start()
    try:
        return await cluster_size(admin)
    finally:
        await admin.close()


@dataclass(frozen=True, slots=True)
class Target:
    kafka: KafkaConnection
    names: TopicNames
    partitions: int
    replication: int | None  # None: follow the cluster size


def _settings(
    bootstrap: str | None,
    prefix: str | None,
    partitions: int | None,
    replication: int | None = None,
) -> Target:
    settings = command_settings_or_exit(TopicSettings, "candour topics")
    kafka = settings.kafka_connection()
    if bootstrap:
        kafka = dataclasses.replace(kafka, bootstrap=bootstrap)
    return Target(
        kafka=kafka,
        names=TopicNames(settings.topic_prefix if prefix is None else prefix),
        partitions=partitions or settings.topic_partitions,
        replication=replication or settings.topic_replication_factor,
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
    replication_factor: Replication = None,
    configs: Configs = True,
) -> None:
    """Create every topic and its .dlq that does not exist yet (idempotent)."""
    target = _settings(bootstrap, prefix, partitions, replication_factor)
    with kafka_errors_explained(target.kafka):
        replication = target.replication or replication_factor_for(
            asyncio.run(_cluster_size(target.kafka))
        )
        created = asyncio.run(
            ensure_topics(
                target.kafka,
                target.names,
                partitions=target.partitions,
                replication_factor=replication,
                apply_configs=configs,
            )
        )
    for name in created:
        typer.echo(
            f"created {name} ({target.partitions} partitions, replication factor {replication})"
        )
    total = len(expected_topics(target.names))
    typer.echo(f"{len(created)} created, {total - len(created)} existed")


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


def _retention(value: str | None) -> str:
    """`retention.ms` as people read it: `forever`, `7d`, `36h`."""
    if value is None:
        return "-"
    if value == "-1":
        return "forever"
    millis = int(value)
    hours, rest = divmod(millis, 3_600_000)
    if rest:
        return f"{millis} ms"
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"


@app.command("describe")
def describe(
    bootstrap: Bootstrap = None,
    prefix: Prefix = None,
    partitions: Partitions = None,
    replication_factor: Replication = None,
) -> None:
    """Partitions, replication, cleanup policy, retention and configs per topic against
    the table; exit 1 on anything missing or drifted."""
    target = _settings(bootstrap, prefix, partitions, replication_factor)
    wanted = expected_topics(target.names)
    with kafka_errors_explained(target.kafka):
        layouts, brokers = asyncio.run(layouts_of(target.kafka, wanted))
    replication = target.replication or replication_factor_for(brokers)
    states = compare(wanted, layouts, target.partitions, replication)
    specs = topic_specs(target.names)
    present = [s.name for s in states if s.layout is not None]
    try:
        found = asyncio.run(topic_configs(target.kafka, present)) if present else {}
        drift = config_drift(specs, found, replication_factor=replication)
    except Exception as exc:  # some brokers (the embedded one) do not describe configs
        typer.echo(f"configs not described by this broker: {exc!r}", err=True)
        found, drift = {}, {}
    table = Table(
        "topic",
        "partitions",
        "expected",
        "replication",
        "expected RF",
        "in sync (min)",
        "cleanup.policy",
        "retention",
        "state",
        "config drift",
        title=f"{brokers} broker(s): replication factor {replication} expected",
    )
    for s in states:
        configs = found.get(s.name, {})
        table.add_row(
            s.name,
            "-" if s.layout is None else str(s.layout.partitions),
            str(s.expected),
            "-" if s.layout is None else str(s.layout.replicas),
            str(s.expected_replicas),
            "-" if s.layout is None or s.layout.in_sync is None else str(s.layout.in_sync),
            configs.get("cleanup.policy", "-" if s.layout is None else "?"),
            _retention(configs.get("retention.ms")),
            s.verdict,
            # One drifted config per line: the table stays narrow enough not to wrap.
            "\n".join(drift.get(s.name, [])) or "-",
        )
    Console().print(table)
    if any(s.verdict != "ok" for s in states) or drift:
        raise typer.Exit(1)
