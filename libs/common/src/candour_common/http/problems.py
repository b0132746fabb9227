"""RFC 9457 problem details for every error, with the failing fields named.

Clients never see a stack trace; bad input is never a 500.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from candour_common.db.pool import DATABASE_UNAVAILABLE

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the failing input, e.g. `body.author.email`.")
    message: str
    type: str | None = None


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.errors = errors or []
        self.headers = headers


def problem_response(
    request: Request,
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type_: str = "about:blank",
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=type_,
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors or [],
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            request,
            exc.status,
            title=exc.title,
            detail=exc.detail,
            type_=exc.type,
            errors=exc.errors,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(
                field=_field_path(e.get("loc", ())), message=e.get("msg", ""), type=e.get("type")
            )
            for e in exc.errors()
        ]
        if any(e.type == "json_invalid" for e in errors):
            return problem_response(
                request,
                400,
                title="Malformed JSON",
                detail="The request body is not valid JSON.",
                errors=errors,
            )
        return problem_response(
            request,
            422,
            title="Invalid request",
            detail="; ".join(f"{e.field}: {e.message}" for e in errors)[:1000],
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            request,
            exc.status_code,
            detail=exc.detail if isinstance(exc.detail, str) else None,
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(asyncpg.DataError)
    @app.exception_handler(UnicodeEncodeError)
    async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
        # Text PostgreSQL cannot store (NUL characters, lone surrogates) is bad input.
        return problem_response(
            request,
            422,
            title="Invalid request",
            detail="The input contains characters or values that cannot be stored "
            "(for example NUL characters or unpaired surrogates).",
        )

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable", error=repr(exc), path=request.url.path)
        return problem_response(
            request,
            503,
            detail="A dependency is unavailable; try again shortly.",
            headers={"Retry-After": "5"},
        )

    for unavailable in (*DATABASE_UNAVAILABLE, OSError, TimeoutError):
        app.add_exception_handler(unavailable, _unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return problem_response(request, 500, detail="An unexpected error occurred.")
