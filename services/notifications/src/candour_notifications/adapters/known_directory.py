"""asyncpg persistence of the organisations and services notifications has heard of.

Story-intake owns the directory and publishes it on `directory.organisations` (one
record per organisation with all its services), which `list_organisation` keeps here;
stories also name their organisation and service (`remember`). So the alerts page offers
every real service by name, and refuses codes that do not exist; and the language its
staff are written to in (`email_language`) and its Welsh name (`name_cy`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from candour_common.db import Connection
from candour_common.events import OrganisationListed, OrganisationRef, ServiceRef
from candour_notifications.domain import StaffEmails, normalise_tag


@dataclass(frozen=True, slots=True)
class KnownService:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class KnownOrganisation:
    id: str
    name: str
    services: tuple[KnownService, ...]


async def remember(
    conn: Connection,
    organisation: OrganisationRef,
    service: ServiceRef | None,
    tags: Iterable[str] = (),
) -> StaffEmails:
    """Keep the names as the newest event gives them (the directory may rename), and the
    story's tags (normalised); return how its staff are written to (`staff_emails`).
    One statement, as every approved story does this."""
    row = await conn.fetchrow(
        """
        WITH tags AS (
            INSERT INTO known_tags (organisation_id, tag)
            SELECT $1, tag FROM unnest($3::text[]) AS t(tag)
            ON CONFLICT DO NOTHING
        ), service AS (
            INSERT INTO known_services (organisation_id, id, name)
            SELECT $1, $4, $5 WHERE $4::text IS NOT NULL
            ON CONFLICT (organisation_id, id) DO UPDATE SET name = EXCLUDED.name,
                                                            updated_at = now()
                WHERE known_services.name IS DISTINCT FROM EXCLUDED.name
        ), known AS (
            INSERT INTO known_organisations (id, name) VALUES ($1, $2)
            ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, updated_at = now()
                WHERE known_organisations.name IS DISTINCT FROM EXCLUDED.name
            RETURNING email_language, name_cy
        )
        -- Inserted or renamed: the row as written; unchanged: the row as it was.
        SELECT email_language, name_cy FROM known
        UNION ALL
        SELECT email_language, name_cy FROM known_organisations
        WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM known)
        """,
        organisation.id,
        organisation.name,
        sorted(tag for tag in {normalise_tag(t) for t in tags} if tag),
        service.id if service is not None else None,
        service.name if service is not None else None,
    )
    if row is None:  # not reachable: the organisation was just kept
        return StaffEmails()
    return StaffEmails(language=row["email_language"], name_cy=row["name_cy"])


async def list_organisation(conn: Connection, entry: OrganisationListed) -> None:
    """Keep the directory's entry for an organisation: its name and exactly its services
    (a service the directory no longer lists is no longer offered)."""
    await conn.execute(
        """
        INSERT INTO known_organisations (id, name, name_cy, email_language)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (id) DO UPDATE
            SET name = EXCLUDED.name, name_cy = EXCLUDED.name_cy,
                email_language = EXCLUDED.email_language, updated_at = now()
            WHERE (known_organisations.name, known_organisations.name_cy,
                   known_organisations.email_language)
                IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.name_cy, EXCLUDED.email_language)
        """,
        entry.organisation_id,
        entry.name,
        entry.name_cy,
        entry.email_language.value,
    )
    await conn.execute(
        "DELETE FROM known_services WHERE organisation_id = $1 AND NOT id = ANY($2::text[])",
        entry.organisation_id,
        [s.id for s in entry.services],
    )
    await conn.executemany(
        """
        INSERT INTO known_services (organisation_id, id, name) VALUES ($1, $2, $3)
        ON CONFLICT (organisation_id, id) DO UPDATE SET name = EXCLUDED.name,
                                                        updated_at = now()
            WHERE known_services.name IS DISTINCT FROM EXCLUDED.name
        """,
        [(entry.organisation_id, s.id, s.name) for s in entry.services],
    )


async def organisation(conn: Connection, organisation_id: str) -> KnownOrganisation | None:
    name = await conn.fetchval(
        "SELECT name FROM known_organisations WHERE id = $1", organisation_id
    )
    services = await conn.fetch(
        "SELECT id, name FROM known_services WHERE organisation_id = $1 ORDER BY name, id",
        organisation_id,
    )
    if name is None and not services:
        return None
    return KnownOrganisation(
        id=organisation_id,
        name=str(name) if name is not None else organisation_id,
        services=tuple(KnownService(id=s["id"], name=s["name"]) for s in services),
    )


async def staff_emails(conn: Connection, organisation_id: str) -> StaffEmails:
    """How the directory says the organisation's staff are written to; English for an
    organisation the directory has not listed (yet)."""
    row = await conn.fetchrow(
        "SELECT email_language, name_cy FROM known_organisations WHERE id = $1", organisation_id
    )
    if row is None:
        return StaffEmails()
    return StaffEmails(language=row["email_language"], name_cy=row["name_cy"])


async def tags(conn: Connection, organisation_id: str) -> list[str]:
    """Tags stories about the organisation have carried (normalised); imported feedback
    and the API may use tags beyond the share page's vocabulary."""
    rows = await conn.fetch(
        "SELECT tag FROM known_tags WHERE organisation_id = $1 ORDER BY tag", organisation_id
    )
    return [r["tag"] for r in rows]


class PostgresDirectory:
    """The organisations and services heard of, on the unit of work's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def remember(
        self, organisation: OrganisationRef, service: ServiceRef | None, tags: Iterable[str] = ()
    ) -> StaffEmails:
        return await remember(self._conn, organisation, service, tags)

    async def list_organisation(self, entry: OrganisationListed) -> None:
        await list_organisation(self._conn, entry)

    async def organisation(self, organisation_id: str) -> KnownOrganisation | None:
        return await organisation(self._conn, organisation_id)

    async def staff_emails(self, organisation_id: str) -> StaffEmails:
        return await staff_emails(self._conn, organisation_id)

    async def tags(self, organisation_id: str) -> list[str]:
        return await tags(self._conn, organisation_id)
