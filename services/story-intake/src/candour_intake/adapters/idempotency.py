"""Idempotency-Key storage: the first answer to a key, replayed for a while (24 hours
by default; the service's retention task deletes it after that).

The key is stored only as a hash and the answer is encrypted with a key derived
from it, so the author token inside an answer cannot be read from the database. An
answer names its story, so a withdrawal deletes it with the story (`forget_story`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from uuid import UUID

from cryptography.fernet import Fernet

from candour_common.db import Connection
from candour_intake.domain import AnswerWithdrawn, KeyReusedWithDifferentRequest, StoredAnswer


def _key_hash(key: str) -> bytes:
    return hashlib.sha256(b"candour-idempotency-id\0" + key.encode()).digest()


def _cipher(key: str) -> Fernet:
    derived = hashlib.sha256(b"candour-idempotency-secret\0" + key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


class PostgresIdempotencyKeys:
    """Stored answers to Idempotency-Keys, on one unit of work's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def claim(
        self, *, key: str, scope: str, fingerprint: bytes, ttl: timedelta
    ) -> StoredAnswer | None:
        """Claim `key` in the caller's transaction; return the earlier answer if there is one.

        A concurrent request with the same key blocks on the primary key until the
        first one commits, then sees its answer.
        """
        key_hash = _key_hash(key)
        # One statement: a new key is claimed; an expired one is claimed afresh (its old
        # answer blanked, as the retention task would have deleted it); a live one is
        # left alone and returns nothing, and is read below.
        claimed = await self._conn.fetchval(
            """
            INSERT INTO idempotency_keys AS k (key_hash, scope, request_hash)
            VALUES ($1, $2, $3)
            ON CONFLICT (scope, key_hash) DO UPDATE
                SET request_hash = excluded.request_hash, created_at = now(),
                    status_code = NULL, response = NULL, story_id = NULL
                WHERE k.created_at < now() - $4::interval
            RETURNING true
            """,
            key_hash,
            scope,
            fingerprint,
            ttl,
        )
        if claimed:
            return None
        row = await self._conn.fetchrow(
            """
            SELECT request_hash, status_code, response FROM idempotency_keys
            WHERE scope = $1 AND key_hash = $2
            """,
            scope,
            key_hash,
        )
        assert row is not None
        if bytes(row["request_hash"]) != fingerprint:
            raise KeyReusedWithDifferentRequest()
        if row["response"] is None:
            raise AnswerWithdrawn()
        body = json.loads(_cipher(key).decrypt(bytes(row["response"])))
        return StoredAnswer(status_code=row["status_code"], body=body)

    async def complete(
        self, *, key: str, scope: str, answer: StoredAnswer, story_id: UUID | None
    ) -> None:
        await self._conn.execute(
            """
            UPDATE idempotency_keys SET status_code = $3, response = $4, story_id = $5
            WHERE scope = $1 AND key_hash = $2
            """,
            scope,
            _key_hash(key),
            answer.status_code,
            _cipher(key).encrypt(json.dumps(answer.body).encode()),
            story_id,
        )

    async def forget_story(self, story_id: UUID) -> int:
        """Blank every stored answer about the story (a withdrawal); return how many.

        The answer (story id, author token) goes; the key's hash and the request's hash
        stay until the key expires, so a retry of the request gets 410 instead of making
        the story again.
        """
        status = await self._conn.execute(
            """
            UPDATE idempotency_keys SET response = NULL, status_code = 410, story_id = NULL
            WHERE story_id = $1
            """,
            story_id,
        )
        return int(status.split()[-1])

    async def replay(self, *, key: str, scope: str) -> StoredAnswer | None:
        """The answer stored for `key`, without claiming it (None if there is none yet)."""
        row = await self._conn.fetchrow(
            "SELECT status_code, response FROM idempotency_keys WHERE scope = $1 AND key_hash = $2",
            scope,
            _key_hash(key),
        )
        if row is None or row["status_code"] is None:
            return None
        if row["response"] is None:
            raise AnswerWithdrawn()
        body = json.loads(_cipher(key).decrypt(bytes(row["response"])))
        return StoredAnswer(status_code=row["status_code"], body=body)
