"""`candour directory import FILE.csv`: load organisations and services (ODS codes)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import asyncpg
import typer

from candour_cli import databases
from candour_cli.services import BY_NAME
from candour_common.runtime import migrate_database
from candour_intake.adapters.directory_csv import DirectoryFileError, parse_directory
from candour_intake.domain import Organisation
from candour_intake.service_layer.handlers import import_directory
from candour_search.adapters.directory import upsert_organisations

app = typer.Typer(help="The organisation directory (story-intake's database).")
INTAKE = BY_NAME["story-intake"]
SEARCH = BY_NAME["search"]


def read_directory(path: Path) -> list[Organisation]:
    """Every row validated first: DirectoryFileError lists each bad line, nothing partial."""
    return parse_directory(path.read_text(encoding="utf-8-sig"))


async def load_search_directory(url: str, organisations: list[Organisation]) -> int:
    """Give search the directory (names only), so an organisation with no published
    story yet has its page and is in the organisations index."""
    await migrate_database(url, SEARCH.migrations_package)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            return await upsert_organisations(conn, ((o.id, o.name) for o in organisations))
    finally:
        await conn.close()


async def load_directory(url: str, organisations: list[Organisation], *, create: bool) -> int:
    """Import all organisations in one transaction (all or nothing)."""
    if create:
        await databases.ensure_database(url)
    await migrate_database(url, INTAKE.migrations_package)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            return await import_directory(conn, organisations)
    finally:
        await conn.close()


@app.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The CSV file.")
    ],
    database_url: Annotated[
        str | None,
        typer.Option(
            help="story-intake's database (default: CANDOUR_STORY_INTAKE_DATABASE_URL, "
            "else CANDOUR_DATABASE_URL's server, database candour_intake)."
        ),
    ] = None,
    search_database_url: Annotated[
        str | None,
        typer.Option(
            help="search's database, which lists the organisations too (default: "
            "CANDOUR_SEARCH_DATABASE_URL, else CANDOUR_DATABASE_URL's server, database "
            "candour_search)."
        ),
    ] = None,
) -> None:
    """Validate every row, then import all of them or none.

    Columns: organisation_id (ODS code), organisation_name, organisation_type,
    service_id, service_name; one row per service.
    """
    try:
        organisations = read_directory(file)
    except DirectoryFileError as exc:
        for error in exc.errors:
            typer.echo(f"{file}:{error.line}: {error.message}", err=True)
        typer.echo(f"{len(exc.errors)} bad row(s): nothing imported", err=True)
        raise typer.Exit(1) from exc
    url, derived = databases.resolve(INTAKE, explicit=database_url)
    count = asyncio.run(load_directory(url, organisations, create=derived))
    search_url, search_derived = databases.resolve(SEARCH, explicit=search_database_url)
    if search_derived:
        asyncio.run(databases.ensure_database(search_url))
    asyncio.run(load_search_directory(search_url, organisations))
    services = sum(len(o.services) for o in organisations)
    typer.echo(f"imported {count} organisations, {services} services")
