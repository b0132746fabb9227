"""Server-side sessions for the signed-in pages (moderation console, staff pages).

Signing in with a bearer token opens a session: the cookie carries only a random
id, the database keeps its SHA-256 with who signed in, and the session ends after
12 hours, when the token expires, when its owner signs out (the row is
deleted, so a copied cookie stops working at once), or when the JWT key is
rotated (each session records which key let it in). Every copy of a service
shares the table, so sign-out holds across replicas.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
from fastapi import Request

from candour_common.auth import Principal, Role
from candour_common.signing_keys import derive_key

SESSION_LIFETIME = timedelta(hours=12)
SESSION_COOKIE = "candour_session"


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def key_id(jwt_key: str) -> bytes:
    """Which JWT key a session was opened under (not the key: a one-way derivation)."""
    return derive_key(jwt_key, "web-session-key-id")[:16]


async def open_session(
    pool: asyncpg.Pool, principal: Principal, key: bytes, *, now: datetime | None = None
) -> tuple[str, datetime]:
    """A new session for `principal`: (the cookie's value, when it ends)."""
    started = now or datetime.now(UTC)
    ends = started + SESSION_LIFETIME
    if principal.expires_at is not None:
        ends = min(ends, principal.expires_at)
    session_id = secrets.token_urlsafe(32)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM web_sessions WHERE expires_at < $1", started)
        await conn.execute(
            "INSERT INTO web_sessions (id_hash, key_id, subject, role, organisation_id, token_id,"
            " created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            _digest(session_id),
            key,
            principal.subject,
            principal.role.value,
            principal.organisation_id,
            principal.token_id or "",
            started,
            ends,
        )
    return session_id, ends


async def session_principal(pool: asyncpg.Pool, session_id: str, key: bytes) -> Principal | None:
    """Who holds the session `session_id`; None when it is unknown, ended, expired, or
    was opened under another JWT key."""
    if not session_id or len(session_id) > 100:
        return None
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT subject, role, organisation_id, token_id, expires_at FROM web_sessions"
            " WHERE id_hash = $1 AND key_id = $2 AND expires_at > now()",
            _digest(session_id),
            key,
        )
    if row is None:
        return None
    return Principal(
        subject=row["subject"],
        role=Role(row["role"]),
        organisation_id=row["organisation_id"],
        token_id=row["token_id"] or None,
        expires_at=row["expires_at"],
    )


async def end_session(pool: asyncpg.Pool, session_id: str) -> None:
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM web_sessions WHERE id_hash = $1", _digest(session_id))


async def load_session(request: Request) -> None:
    """A dependency of every route: who is signed in, looked up once per request (and only
    when a session cookie came with it), for `pages.signed_in_principal` to read."""
    principal: Principal | None = None
    session_id = request.cookies.get(SESSION_COOKIE)
    platform = getattr(request.app.state, "platform", None)
    if session_id and platform is not None:
        principal = await session_principal(
            platform.pool, session_id, key_id(platform.settings.jwt_key())
        )
    request.state.session_principal = principal
