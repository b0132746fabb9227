"""Request limits: a body-size cap (413) and a per-client rate limit shared by every copy (429)."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable

import asyncpg
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from candour_common.db import Connection
from candour_common.http.problems import PROBLEM_JSON


async def _send_problem(
    send: Send,
    path: str,
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": path,
        }
    ).encode()
    raw_headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimitMiddleware:
    """Answer 413 for a request body over `max_bytes`, before the app sees any of it.

    A declared size (Content-Length) is judged from the header. A body of unknown
    size (chunked) is read here, up to the limit, before the app is called: the
    app's own parser (which would turn a failed read into a 400) and its
    authentication never run for a body that is too large.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"The request body is larger than {self.max_bytes} bytes."
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await _send_problem(send, scope["path"], 413, "Content Too Large", detail)
                return
            await self.app(scope, receive, send)  # the server holds the body to its length
            return
        buffered: list[Message] = []
        received = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break  # the client went away; let the app see it
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                await _send_problem(send, scope["path"], 413, "Content Too Large", detail)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


def sliding_count(previous: int, current: int, elapsed: float) -> float:
    """Events in the last window, estimated from two fixed windows: all of the current
    one and the share of the previous one that still overlaps (`elapsed` is how far
    into the current window we are, 0..1)."""
    return previous * (1.0 - elapsed) + current


def retry_after(previous: int, current: int, elapsed: float, limit: int, window: float) -> float:
    """Seconds until one more event fits under `limit`, if no other arrives meanwhile."""
    if current + 1 <= limit:
        # Within this window, once enough of the previous one has slid out.
        needed = 1.0 - (limit - 1 - current) / previous if previous else elapsed
        return max(0.0, needed - elapsed) * window
    # Only in the next window, once enough of this one has slid out.
    needed = 1.0 - (limit - 1) / current
    return (1.0 - elapsed + max(0.0, needed)) * window


def retry_after_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


# One statement, one round trip, on the database's clock (every copy of a service
# shares it): read the previous window's count, count this event in the current
# window only if the estimate stays within the limit (the row lock of ON CONFLICT
# makes two copies racing for the last place take turns), and report the counts.
_COUNT = """
WITH clock AS (
    SELECT floor(t)::bigint AS slot, t - floor(t) AS elapsed
    FROM (SELECT extract(epoch FROM clock_timestamp())::float8 / $3::float8 AS t) AS now_
),
previous AS (
    SELECT coalesce(
        (SELECT h.hits FROM rate_limit_hits h, clock c
         WHERE h.bucket = $1 AND h.client = $2 AND h.slot = c.slot - 1), 0) AS hits
),
counted AS (
    INSERT INTO rate_limit_hits AS h (bucket, client, slot, hits, expires_at)
    SELECT $1, $2, c.slot, 1, to_timestamp((c.slot + 2) * $3::float8)
    FROM clock c, previous p
    WHERE p.hits * (1 - c.elapsed) + 1 <= $4
    ON CONFLICT (bucket, client, slot) DO UPDATE SET hits = h.hits + 1
    WHERE (SELECT p.hits FROM previous p) * (1 - (SELECT c.elapsed FROM clock c)) + h.hits + 1
          <= $4
    RETURNING h.hits
)
SELECT (SELECT hits FROM counted) AS counted,
       (SELECT hits FROM previous) AS previous,
       coalesce((SELECT h.hits FROM rate_limit_hits h, clock c
                 WHERE h.bucket = $1 AND h.client = $2 AND h.slot = c.slot), 0) AS current,
       (SELECT elapsed FROM clock) AS elapsed
"""
_FORGET = "DELETE FROM rate_limit_hits WHERE expires_at < clock_timestamp()"


class RateLimiter:
    """At most `limit` events per `window` seconds per client, counted in PostgreSQL.

    Every copy of a service shares the count (so N copies do not allow N times the
    limit), the process keeps nothing per client (so memory does not grow with the
    number of clients), and a client idle for two windows is forgotten. Clients are
    stored as an HMAC of their address under `key`, not as the address.
    """

    def __init__(
        self,
        bucket: str,
        limit: int,
        window: float,
        *,
        key: bytes,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bucket = bucket
        self.limit = limit
        self.window = window
        self._key = key
        self._clock = clock
        self._last_forget: float | None = None

    def client_id(self, address: str) -> bytes:
        return hmac.new(self._key, f"rate-limit:{address}".encode(), hashlib.sha256).digest()

    async def check(self, pool: asyncpg.Pool, address: str) -> float | None:
        """Count one event; None if allowed, else the seconds until the next one is."""
        async with pool.acquire() as conn:
            await self._forget_now_and_then(conn)
            row = await conn.fetchrow(
                _COUNT, self.bucket, self.client_id(address), self.window, self.limit
            )
        assert row is not None
        if row["counted"] is not None:
            return None
        return retry_after(
            int(row["previous"]),
            int(row["current"]),
            float(row["elapsed"]),
            self.limit,
            self.window,
        )

    async def forget_idle(self, conn: Connection) -> int:
        """Delete the counts of every client idle for two windows; how many went."""
        status = await conn.execute(_FORGET)
        return int(status.split()[-1])

    async def _forget_now_and_then(self, conn: Connection) -> None:
        now = self._clock()
        if self._last_forget is None or now - self._last_forget >= self.window:
            self._last_forget = now
            await self.forget_idle(conn)
