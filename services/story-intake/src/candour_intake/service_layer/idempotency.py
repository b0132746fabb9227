"""Requests sent again with the same Idempotency-Key (the API's header, the hidden key of
the site's forms) get the first answer instead of running twice."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from candour_intake.domain import StoredAnswer
from candour_intake.service_layer.unit_of_work import IntakeUnitOfWork


@dataclass(frozen=True, slots=True)
class KeyedRequest:
    """A request under an Idempotency-Key: `scope` is its method and path, `fingerprint`
    tells it from another request under the same key, `ttl` how long the key replays."""

    key: str
    scope: str
    fingerprint: bytes
    ttl: timedelta


# The work to do once: its answer, and the story the answer is about (a withdrawal
# blanks the answers about its story).
Work = Callable[[], Awaitable[tuple[StoredAnswer, uuid.UUID | None]]]


async def answer_once(
    uow: IntakeUnitOfWork, request: KeyedRequest | None, work: Work
) -> tuple[StoredAnswer, bool]:
    """Run `work` in `uow` unless `request`'s key has run it already; return the answer
    and whether it is a replay. `work` runs inside this unit of work (its handlers join
    the transaction), so the key, the change and the answer commit together.

    Raises KeyReusedWithDifferentRequest or AnswerWithdrawn (see domain)."""
    async with uow:
        if request is not None:
            stored = await uow.idempotency_keys.claim(
                key=request.key,
                scope=request.scope,
                fingerprint=request.fingerprint,
                ttl=request.ttl,
            )
            if stored is not None:
                return stored, True
        answer, story_id = await work()
        if request is not None:
            await uow.idempotency_keys.complete(
                key=request.key, scope=request.scope, answer=answer, story_id=story_id
            )
    return answer, False


async def replay(uow: IntakeUnitOfWork, *, key: str, scope: str) -> StoredAnswer | None:
    """The answer stored for `key`, without claiming it (None if there is none yet)."""
    async with uow:
        return await uow.idempotency_keys.replay(key=key, scope=scope)
