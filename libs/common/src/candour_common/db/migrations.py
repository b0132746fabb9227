"""Forward-only SQL migrations: numbered `.sql` files in a package, tracked per package.

Why not a library: yoyo and alembic drive synchronous drivers (alembic also
needs SQLAlchemy models); this is the small part we need on asyncpg. Each file
runs in its own transaction; a session advisory lock means N copies of a
service starting together apply each migration exactly once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg
import structlog

from candour_common.db import Connection

log = structlog.get_logger(__name__)

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# An arbitrary constant shared by every service: each service has its own database,
# so the lock only ever contends between copies of the same service.
_LOCK_KEY = 0x43414E444F5552  # "CANDOUR"


@dataclass(frozen=True, slots=True)
class Migration:
    package: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def load_migrations(package: str) -> list[Migration]:
    """Read `<package>/*.sql` (e.g. `candour_search.migrations`) in version order."""
    folder: Traversable = resources.files(package)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(
                Migration(package, int(match.group(1)), entry.name, entry.read_text("utf-8"))
            )
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {package}: {versions}")
    return found


async def apply_migrations(conn: Connection, migrations: list[Migration]) -> list[str]:
    """Apply what is pending; return the names applied. Refuses edited history."""
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                package    text NOT NULL,
                version    integer NOT NULL,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (package, version)
            )
            """
        )
        applied = {
            (r["package"], r["version"]): r["checksum"]
            for r in await conn.fetch("SELECT package, version, checksum FROM schema_migrations")
        }
        done: list[str] = []
        for migration in migrations:
            key = (migration.package, migration.version)
            if key in applied:
                if applied[key] != migration.checksum:
                    raise MigrationError(
                        f"{migration.name} was changed after it was applied; "
                        "add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (package, version, name, checksum)"
                    " VALUES ($1, $2, $3, $4)",
                    migration.package,
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("migration applied", migration=migration.name)
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def pending_migrations(conn: Connection, migrations: list[Migration]) -> list[str]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied: set[tuple[str, int]] = set()
    if exists:
        rows = await conn.fetch("SELECT package, version FROM schema_migrations")
        applied = {(r["package"], r["version"]) for r in rows}
    return [m.name for m in migrations if (m.package, m.version) not in applied]


COMMON_MIGRATIONS = "candour_common.db.sql"
# Rate limits and page sessions: their own package, so their numbering never
# collides with the outbox and inbox tables' history.
HTTP_MIGRATIONS = "candour_common.db.sql_http"


def service_migrations(package: str) -> list[Migration]:
    """The shared tables (outbox, inbox, HTTP edge) first, then the service's own."""
    return (
        load_migrations(COMMON_MIGRATIONS)
        + load_migrations(HTTP_MIGRATIONS)
        + load_migrations(package)
    )


async def migrate(dsn: str, package: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await apply_migrations(conn, service_migrations(package))
    finally:
        await conn.close()
