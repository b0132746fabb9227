"""FastAPI dependencies for bearer-token auth (401 problem when missing or bad)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from candour_common.auth import InvalidToken, Principal, Role, verify_token
from candour_common.http.problems import ProblemError

_bearer = HTTPBearer(
    auto_error=False, description="A signed Candour token (`candour token issue`)."
)

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}


async def bearer_credentials(request: Request) -> str:
    credentials: HTTPAuthorizationCredentials | None = await _bearer(request)
    if credentials is None:
        raise ProblemError(401, "A bearer token is required.", headers=UNAUTHORIZED_HEADERS)
    return credentials.credentials


def require_role(*roles: Role) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency that verifies the token and allows only `roles` (403 otherwise)."""

    async def dependency(request: Request) -> Principal:
        token = await bearer_credentials(request)
        secret = request.app.state.platform.settings.jwt_key()
        try:
            principal = verify_token(secret, token)
        except InvalidToken as exc:
            raise ProblemError(
                401, "The bearer token is invalid or expired.", headers=UNAUTHORIZED_HEADERS
            ) from exc
        if principal.role not in roles:
            raise ProblemError(403, f"This needs one of the roles: {', '.join(roles)}.")
        return principal

    return dependency
