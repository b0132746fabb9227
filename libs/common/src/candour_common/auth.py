"""Bearer tokens: HMAC-signed JWTs carrying a role (and an organisation for staff)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

ALGORITHM = "HS256"
ISSUER = "candour"


class Role(StrEnum):
    MODERATOR = "moderator"
    STAFF = "staff"
    OPERATOR = "operator"


class InvalidToken(Exception):
    """The token is missing, malformed, expired or not signed by us."""


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: Role
    organisation_id: str | None = None


def issue_token(
    secret: str,
    *,
    role: Role,
    subject: str,
    organisation_id: str | None = None,
    ttl: timedelta = timedelta(days=30),
    now: datetime | None = None,
) -> str:
    if role is Role.STAFF and not organisation_id:
        raise ValueError("a staff token needs an organisation")
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": subject,
        "role": role.value,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    if organisation_id:
        claims["org"] = organisation_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    try:
        # Pinning the algorithm list rejects `alg: none` and key-confusion tricks.
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "role"]},
        )
        role = Role(claims["role"])
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise InvalidToken(str(exc)) from exc
    org = claims.get("org")
    if role is Role.STAFF and not org:
        raise InvalidToken("staff token without organisation")
    return Principal(subject=str(claims["sub"]), role=role, organisation_id=org)
