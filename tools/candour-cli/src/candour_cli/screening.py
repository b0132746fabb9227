"""`candour screening export-labels`: moderators' screening feedback as corpus rows.

Moderators mark safeguarding flags wrong or add missed ones (console or queue
API). This writes one row per story they gave feedback on, in the format of
tests/data/screening/stories.txt (`level | categories | text`): the labels as
the moderators corrected them, the body with every suggested redaction applied.
Append the rows to the corpus, check each one, and the corpus grows from real use.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import asyncpg
import typer

from candour_cli import databases
from candour_cli.services import BY_NAME
from candour_moderation.entrypoints.consumers import SERVICE
from candour_moderation.service_layer.handlers import export_labels
from candour_moderation.service_layer.unit_of_work import PostgresModerationUnitOfWork

app = typer.Typer(help="Screening: what moderators taught it.", no_args_is_help=True)
MODERATION = BY_NAME["moderation"]


async def _rows(url: str) -> list[str]:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        return await export_labels(PostgresModerationUnitOfWork(pool, service=SERVICE))
    finally:
        await pool.close()


@app.command("export-labels")
def export_labels_command(
    output: Annotated[
        Path | None,
        typer.Option(help="Write the rows to this file (default: standard output)."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="moderation's database (default as for `candour migrate`)."),
    ] = None,
) -> None:
    """Write a corpus row for every story moderators gave screening feedback on."""
    url, _ = databases.resolve(MODERATION, explicit=database_url)
    try:
        rows = asyncio.run(_rows(url))
    except (OSError, asyncpg.PostgresError) as exc:
        typer.echo(f"cannot read moderation's database {databases.redact(url)}: {exc}", err=True)
        raise typer.Exit(1) from exc
    text = "".join(f"{row}\n" for row in rows)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
    typer.echo(f"exported {len(rows)} labelled stor{'y' if len(rows) == 1 else 'ies'}", err=True)
