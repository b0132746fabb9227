"""Bearer tokens: HMAC-signed JWTs carrying a role (and an organisation for staff).

Every token names the person it was issued to (`sub`, what audits record) and
has its own id (`jti`), so one token can be told from another in the logs and
sessions it opens.
"""

from __future__ import annotations

import uuid
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
    token_id: str | None = None
    expires_at: datetime | None = None


# Moderators and operators can publish, reject and reconfigure: their tokens are short-lived.
PRIVILEGED_TTL = timedelta(hours=12)
STAFF_TTL = timedelta(days=30)


def default_ttl(role: Role) -> timedelta:
    return STAFF_TTL if role is Role.STAFF else PRIVILEGED_TTL


def issue_token(
    secret: str,
    *,
    role: Role,
    subject: str,
    organisation_id: str | None = None,
    ttl: timedelta | None = None,
    now: datetime | None = None,
    token_id: str | None = None,
) -> str:
    if role is Role.STAFF and not organisation_id:
        raise ValueError("a staff token needs an organisation")
    if not subject.strip():
        raise ValueError("a token needs a subject: the person it is for")
    issued = now or datetime.now(UTC)
    lifetime = ttl if ttl is not None else default_ttl(role)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": subject,
        "role": role.value,
        "iat": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
        "jti": token_id or uuid.uuid4().hex,
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
            options={"require": ["exp", "iat", "sub", "role", "jti"]},
        )
        role = Role(claims["role"])
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise InvalidToken(str(exc)) from exc
    org = claims.get("org")
    if role is Role.STAFF and not org:
        raise InvalidToken("staff token without organisation")
    return Principal(
        subject=str(claims["sub"]),
        role=role,
        organisation_id=org,
        token_id=str(claims["jti"]),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
    )
