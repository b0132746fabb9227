"""Which database each service uses, and creating them on a shared server.

Resolution, for one service (used by `candour migrate`, `candour directory import`
and `candour dev`):
1. an explicit URL (a command's `--database-url`);
2. the service's own variable, e.g. `CANDOUR_STORY_INTAKE_DATABASE_URL`;
3. `CANDOUR_DATABASE_URL` naming a *server*: the service's database on it is
   `candour_intake`, `candour_moderation`, `candour_notifications` or
   `candour_search` (created when missing). This is the one-server layout of
   `candour dev`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from candour_cli.services import ServiceSpec

DEFAULT_SERVER_URL = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"


def with_database(server_url: str, database: str) -> str:
    """`server_url` with its database (the path) replaced; query and credentials kept."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


def redact(url: str) -> str:
    """The URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def resolve(
    service: ServiceSpec, *, explicit: str | None = None, env: Mapping[str, str] | None = None
) -> tuple[str, bool]:
    """(database URL, whether it is derived from a server URL and may be created)."""
    env = os.environ if env is None else env
    if explicit:
        return explicit, False
    if own := env.get(service.url_env):
        return own, False
    server = env.get("CANDOUR_DATABASE_URL") or DEFAULT_SERVER_URL
    return with_database(server, service.database), True


async def ensure_database(url: str) -> bool:
    """Create the database `url` names when it does not exist; True when created."""
    name = database_name(url)
    maintenance = with_database(url, "postgres")
    conn = await asyncpg.connect(maintenance, timeout=10)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            await conn.execute(f"CREATE DATABASE {quoted}")
        except asyncpg.DuplicateDatabaseError:  # another process won the race
            return False
        return True
    finally:
        await conn.close()
