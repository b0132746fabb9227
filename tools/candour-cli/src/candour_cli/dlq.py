"""`candour dlq list|replay`: look at and re-publish dead-lettered messages."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from candour_cli.kafka_errors import kafka_errors_explained
from candour_common.dlq import DeadLetter, read_dead_letters, replay_dead_letters
from candour_common.settings import ServiceSettings
from candour_common.startup import command_settings_or_exit
from candour_common.topics import Topic

app = typer.Typer(help="Dead-letter topics.", no_args_is_help=True)
console = Console(stderr=True)

TopicArg = Annotated[Topic, typer.Argument(help="The original topic, e.g. story.approved.")]
GroupOpt = Annotated[str | None, typer.Option(help="Only letters of this consumer group.")]


@app.command("list")
def list_letters(topic: TopicArg, group: GroupOpt = None) -> None:
    """Show every message in `<topic>.dlq`: where it came from, which group failed, and why."""
    settings = command_settings_or_exit(ServiceSettings, "candour dlq")
    kafka = settings.kafka_connection()
    with kafka_errors_explained(kafka):
        letters = asyncio.run(read_dead_letters(kafka, settings.topics, topic, group=group))
    table = Table(title=f"{settings.topics.dlq(topic)}: {len(letters)} dead letter(s)")
    for column in ("partition", "offset", "from", "group", "event id", "error"):
        table.add_column(column)
    for letter in letters:
        table.add_row(
            str(letter.partition),
            str(letter.offset),
            letter.origin,
            letter.group,
            letter.headers.get("ce_id", "-"),
            letter.error[:120],
        )
    Console().print(table)


@app.command("replay")
def replay(topic: TopicArg, group: GroupOpt = None) -> None:
    """Re-publish dead letters (not replayed before) to the original topic, once fixed."""
    settings = command_settings_or_exit(ServiceSettings, "candour dlq")

    def show(letter: DeadLetter) -> None:
        console.print(f"replayed {letter.origin} ({letter.headers.get('ce_id', 'no ce_id')})")

    kafka = settings.kafka_connection()
    with kafka_errors_explained(kafka):
        count = asyncio.run(
            replay_dead_letters(kafka, settings.topics, topic, group=group, progress=show)
        )
    typer.echo(f"replayed {count} message(s) to {settings.topics.name(topic)}")
