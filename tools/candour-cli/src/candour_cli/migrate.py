"""`candour migrate [service]`: apply each service's pending SQL migrations."""

from __future__ import annotations

import asyncio
from typing import Annotated

import asyncpg
import typer

from candour_cli import databases
from candour_cli.services import SERVICES, ServiceSpec, lookup
from candour_common.runtime import migrate_database


async def migrate_service(service: ServiceSpec, url: str, *, create: bool) -> list[str]:
    if create:
        await databases.ensure_database(url)
    return await migrate_database(url, service.migrations_package)


def command(
    service: Annotated[
        str | None,
        typer.Argument(
            help="story-intake (or intake), moderation, notifications, search; default: all four."
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="This service's database (only with one service). Default: "
            "CANDOUR_<SERVICE>_DATABASE_URL, else CANDOUR_DATABASE_URL's server with "
            "database candour_<service>.",
        ),
    ] = None,
    create: Annotated[
        bool, typer.Option(help="Create a derived candour_<service> database when missing.")
    ] = True,
) -> None:
    """Apply pending migrations (forward-only, advisory-locked: safe to run twice)."""
    try:
        chosen = [lookup(service)] if service else list(SERVICES)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="SERVICE") from exc
    if database_url and len(chosen) != 1:
        raise typer.BadParameter("name one service with --database-url", param_hint="SERVICE")
    for spec in chosen:
        url, derived = databases.resolve(spec, explicit=database_url)
        try:
            applied = asyncio.run(migrate_service(spec, url, create=create and derived))
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            typer.echo(f"{spec.name}: cannot reach {databases.redact(url)}: {exc}", err=True)
            raise typer.Exit(1) from exc
        done = ", ".join(applied) if applied else "up to date"
        typer.echo(f"{spec.name} ({databases.redact(url)}): {done}")
