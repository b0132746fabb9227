"""Search's copy of the organisation directory, and how many stories each organisation has.

Names come from the directory (story-intake publishes it on `directory.organisations`,
which search consumes) and, for an organisation the directory does not list, from its
published stories. The directory also gives an organisation's Welsh name, where it has
one: Welsh pages show it.
Counts come from the count tables (migration 0012), never from counting stories.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from candour_common.db import Connection
from candour_search.adapters.sql import FACET_CELLS

# search_facet_counts level 1: one organisation, split by criticality, responded, change.
_ORGANISATION_LEVEL = 1


@dataclass(frozen=True, slots=True)
class ListedOrganisation:
    id: str
    name: str
    stories: int


class DirectoryEntry(NamedTuple):
    """An organisation's names as the directory lists them."""

    id: str
    name: str
    name_cy: str | None = None


async def upsert_organisations(conn: Connection, organisations: Iterable[DirectoryEntry]) -> int:
    """Add or rename directory entries; return how many were given."""
    rows = list(organisations)
    await conn.executemany(
        """
        INSERT INTO search_organisations (id, name, name_cy) VALUES ($1, $2, $3)
        ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, name_cy = EXCLUDED.name_cy,
                                       updated_at = now()
        WHERE (search_organisations.name, search_organisations.name_cy)
              IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.name_cy)
        """,
        rows,
    )
    return len(rows)


async def welsh_names(conn: Connection) -> dict[str, str]:
    """Every Welsh name the directory has, by organisation id (a few hundred at most)."""
    rows = await conn.fetch(
        "SELECT id, name_cy FROM search_organisations WHERE name_cy IS NOT NULL"
    )
    return {r["id"]: r["name_cy"] for r in rows}


async def directory_name(conn: Connection, organisation_id: str) -> str | None:
    name: str | None = await conn.fetchval(
        "SELECT name FROM search_organisations WHERE id = $1", organisation_id
    )
    return name


async def organisation_index(conn: Connection) -> list[ListedOrganisation]:
    """Every organisation in the directory or with a published story, by name."""
    rows = await conn.fetch(
        f"""
        WITH counted AS (
            SELECT organisation_id AS id, sum(stories)::bigint AS stories
            FROM {FACET_CELLS} AS cells
            WHERE level = $1
            GROUP BY organisation_id
        )
        SELECT coalesce(d.id, c.id) AS id,
               coalesce(d.name, (SELECT s.organisation_name FROM search_stories AS s
                                 WHERE s.organisation_id = c.id LIMIT 1)) AS name,
               coalesce(c.stories, 0) AS stories
        FROM search_organisations AS d
        FULL JOIN counted AS c ON c.id = d.id
        """,  # noqa: S608 - fixed names
        _ORGANISATION_LEVEL,
    )
    listed = [
        ListedOrganisation(r["id"], r["name"] or r["id"], int(r["stories"]))
        for r in rows
        if r["id"] is not None and (r["stories"] > 0 or r["name"] is not None)
    ]
    return sorted(listed, key=lambda o: (o.name.casefold(), o.id))
