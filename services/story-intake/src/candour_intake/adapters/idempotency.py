"""Idempotency-Key storage: the first answer to a key, replayed for 24 hours.

The key is stored only as a hash and the answer is encrypted with a key derived
from it, so the author token inside an answer cannot be read from the database.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet

from candour_common.db import Connection

TTL = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


class KeyReusedWithDifferentRequest(Exception):
    pass


def _key_hash(key: str) -> bytes:
    return hashlib.sha256(b"candour-idempotency-id\0" + key.encode()).digest()


def _cipher(key: str) -> Fernet:
    derived = hashlib.sha256(b"candour-idempotency-secret\0" + key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def request_fingerprint(method: str, path: str, body: bytes) -> bytes:
    return hashlib.sha256(method.encode() + b"\0" + path.encode() + b"\0" + body).digest()


async def claim(
    conn: Connection, *, key: str, scope: str, fingerprint: bytes
) -> StoredAnswer | None:
    """Claim `key` in the caller's transaction; return the earlier answer if there is one.

    A concurrent request with the same key blocks on the primary key until the
    first one commits, then sees its answer.
    """
    key_hash = _key_hash(key)
    await conn.execute(
        """
        DELETE FROM idempotency_keys
        WHERE scope = $1 AND key_hash = $2 AND created_at < now() - $3::interval
        """,
        scope,
        key_hash,
        TTL,
    )
    inserted = await conn.fetchval(
        """
        INSERT INTO idempotency_keys (key_hash, scope, request_hash) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        key_hash,
        scope,
        fingerprint,
    )
    if inserted:
        return None
    row = await conn.fetchrow(
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
    body = json.loads(_cipher(key).decrypt(bytes(row["response"])))
    return StoredAnswer(status_code=row["status_code"], body=body)


async def complete(conn: Connection, *, key: str, scope: str, answer: StoredAnswer) -> None:
    await conn.execute(
        """
        UPDATE idempotency_keys SET status_code = $3, response = $4
        WHERE scope = $1 AND key_hash = $2
        """,
        scope,
        _key_hash(key),
        answer.status_code,
        _cipher(key).encrypt(json.dumps(answer.body).encode()),
    )


async def purge_expired(conn: Connection) -> int:
    status = await conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval", TTL
    )
    return int(status.split()[-1])
