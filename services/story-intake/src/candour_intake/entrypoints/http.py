"""HTTP routes of story-intake (thin: validate, call a handler, shape the answer)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from candour_common.auth import Principal, Role
from candour_common.events import AuthorContact, Responder, Tags
from candour_common.http.bearer import bearer_credentials, require_role
from candour_common.http.limits import RateLimiter, retry_after_header
from candour_common.http.problems import FieldError, Problem, ProblemError
from candour_intake.adapters import idempotency, repository
from candour_intake.domain import (
    AboutYou,
    AlreadyImported,
    DeleteResponse,
    DomainError,
    EditResponse,
    EditWindowClosed,
    NotTheAuthor,
    NotYourResponse,
    Organisation,
    PostResponse,
    ResponseDeleted,
    ResponseNotFound,
    StoryNotFound,
    StoryNotOpenForResponses,
    SubmitStory,
    UnknownOrganisation,
    UnknownService,
    WrongOrganisation,
)
from candour_intake.entrypoints.schemas import (
    OrganisationOut,
    ResponseCreated,
    ResponseDeletedOut,
    ResponseEdited,
    ResponseIn,
    ServiceOut,
    StoryChecked,
    StoryCreated,
    StoryIn,
    StoryStatusOut,
    WithdrawalAccepted,
)
from candour_intake.service_layer import check as story_check
from candour_intake.service_layer import handlers
from candour_intake.service_layer.check import CheckStory
from candour_intake.service_layer.ports import SafeguardingCheck
from candour_intake.settings import IntakeSettings

router = APIRouter(prefix="/v1")
PROBLEM: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404, 409, 410, 413, 422, 429, 503)
}


async def get_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.platform.pool
    return pool


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Retrying with the same key and body returns the first answer; kept 24 h.",
    ),
]
Staff = Annotated[Principal, Depends(require_role(Role.STAFF))]
# Where the reasons a response cannot be changed are named (problem `type`).
PROBLEM_TYPES = "https://candour.example/problems"


def _problem_for(exc: DomainError) -> ProblemError:
    """How each rule violation is told to an HTTP client."""
    if isinstance(exc, UnknownOrganisation):
        return ProblemError(
            422, str(exc), errors=[FieldError(field="body.organisation_id", message=str(exc))]
        )
    if isinstance(exc, UnknownService):
        return ProblemError(
            422, str(exc), errors=[FieldError(field="body.service_id", message=str(exc))]
        )
    if isinstance(exc, StoryNotFound):
        return ProblemError(404, str(exc))
    if isinstance(exc, NotTheAuthor):
        return ProblemError(401, str(exc), headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, WrongOrganisation):
        return ProblemError(403, str(exc))
    if isinstance(exc, StoryNotOpenForResponses):
        return ProblemError(409, str(exc))
    if isinstance(exc, ResponseNotFound):
        return ProblemError(404, str(exc))
    if isinstance(exc, NotYourResponse):
        return ProblemError(
            403, str(exc), title="Not your response", type_=f"{PROBLEM_TYPES}/not-your-response"
        )
    if isinstance(exc, EditWindowClosed):
        return ProblemError(
            409,
            str(exc),
            title="The time to change this response has passed",
            type_=f"{PROBLEM_TYPES}/edit-window-closed",
        )
    if isinstance(exc, ResponseDeleted):
        return ProblemError(
            409, str(exc), title="Response deleted", type_=f"{PROBLEM_TYPES}/response-deleted"
        )
    if isinstance(exc, AlreadyImported):
        return ProblemError(
            409, str(exc), errors=[FieldError(field="body.external_id", message=str(exc))]
        )
    return ProblemError(422, str(exc))


async def _idempotent(
    request: Request,
    pool: asyncpg.Pool,
    key: str | None,
    status_code: int,
    work: Callable[[Any], Awaitable[BaseModel]],
    story_of: Callable[[BaseModel], uuid.UUID],
) -> JSONResponse:
    """Run `work(conn)` in one transaction, replaying the first answer for a reused key.

    `story_of` names the story an answer is about: a withdrawal blanks its answers.
    """
    settings: IntakeSettings = request.app.state.platform.settings
    ttl = timedelta(hours=settings.idempotency_key_hours)
    scope = f"{request.method} {request.url.path}"
    fingerprint = idempotency.request_fingerprint(
        request.method, request.url.path, await request.body()
    )
    try:
        async with pool.acquire() as conn, conn.transaction():
            if key is not None:
                stored = await idempotency.claim(
                    conn, key=key, scope=scope, fingerprint=fingerprint, ttl=ttl
                )
                if stored is not None:
                    return JSONResponse(stored.body, status_code=stored.status_code)
            created = await work(conn)
            answer = created.model_dump(mode="json")
            if key is not None:
                await idempotency.complete(
                    conn,
                    key=key,
                    scope=scope,
                    answer=idempotency.StoredAnswer(status_code=status_code, body=answer),
                    story_id=story_of(created),
                )
    except idempotency.AnswerWithdrawn as exc:
        raise ProblemError(
            410,
            "The story this Idempotency-Key created has been withdrawn; "
            "use a new key to send it again.",
        ) from exc
    except idempotency.KeyReusedWithDifferentRequest as exc:
        raise ProblemError(
            422,
            "This Idempotency-Key was used with a different request body.",
            errors=[
                FieldError(field="header.Idempotency-Key", message="reused with a different body")
            ],
        ) from exc
    except DomainError as exc:
        raise _problem_for(exc) from exc
    return JSONResponse(answer, status_code=status_code)


def _organisation_out(org: Organisation) -> OrganisationOut:
    return OrganisationOut(
        id=org.id,
        name=org.name,
        type=org.type,
        services=[ServiceOut(id=s.id, name=s.name) for s in org.services],
    )


@router.get("/organisations", response_model=list[OrganisationOut], tags=["directory"])
async def list_organisations(pool: Pool) -> list[OrganisationOut]:
    async with pool.acquire() as conn:
        return [_organisation_out(o) for o in await repository.list_organisations(conn)]


@router.get(
    "/organisations/{ods_code}",
    response_model=OrganisationOut,
    tags=["directory"],
    responses={404: PROBLEM[404]},
)
async def get_organisation(ods_code: str, pool: Pool) -> OrganisationOut:
    async with pool.acquire() as conn:
        org = await repository.get_organisation(conn, ods_code)
    if org is None:
        raise ProblemError(404, f"No organisation with ODS code {ods_code!r}.")
    return _organisation_out(org)


@router.post(
    "/stories",
    status_code=status.HTTP_201_CREATED,
    response_model=StoryCreated,
    tags=["stories"],
    responses={c: PROBLEM[c] for c in (400, 410, 413, 422, 429, 503)},
    description=(
        "Share a story. `source`, `external_id`, `assisted_by` and `represents` are "
        "operator-only (`candour import feedback`) and refused here with 422."
    ),
)
async def submit_story(
    request: Request, body: StoryIn, pool: Pool, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    limiter: RateLimiter = request.app.state.submission_limiter
    client = request.client.host if request.client else "unknown"
    if (wait := await limiter.check(pool, client)) is not None:
        raise ProblemError(
            429,
            "Too many stories from this client; try again later.",
            headers=retry_after_header(wait),
        )
    command = SubmitStory(
        title=body.title,
        body=body.body,
        organisation_id=body.organisation_id,
        service_id=body.service_id,
        author=AuthorContact(**body.author.model_dump()),
        tags=Tags(**body.tags.model_dump()),
        experienced_at=body.experienced_at,
        about_you=AboutYou(**body.about_you.model_dump()) if body.about_you else None,
    )
    safeguarding: SafeguardingCheck = request.app.state.safeguarding
    level = await safeguarding.level(command.title, command.body)

    async def work(conn: Any) -> BaseModel:
        story, token = await handlers.submit_story(conn, command, safeguarding_level=level)
        return StoryCreated(story_id=story.id, author_token=token)

    def story_of(created: BaseModel) -> uuid.UUID:
        assert isinstance(created, StoryCreated)
        return created.story_id

    return await _idempotent(request, pool, idempotency_key, 201, work, story_of)


async def _authored_state(request: Request, conn: Any, story_id: uuid.UUID) -> Any:
    token = await bearer_credentials(request)
    state = await handlers.story_state(conn, story_id)
    if not state.authored_by(token):
        raise NotTheAuthor()
    return state


@router.get(
    "/stories/{story_id}/status",
    response_model=StoryStatusOut,
    tags=["stories"],
    responses={c: PROBLEM[c] for c in (401, 404)},
    description="The author's view of their story. `Authorization: Bearer <author_token>`.",
)
async def story_status(request: Request, story_id: uuid.UUID, pool: Pool) -> StoryStatusOut:
    try:
        async with pool.acquire() as conn:
            state = await _authored_state(request, conn, story_id)
    except DomainError as exc:
        raise _problem_for(exc) from exc
    return StoryStatusOut(
        story_id=state.id,
        status=state.status.value,
        rejection_reason=state.rejection_reason,
        response_count=state.response_count,
    )


@router.delete(
    "/stories/{story_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WithdrawalAccepted,
    tags=["stories"],
    responses={c: PROBLEM[c] for c in (401, 404)},
    description="The author withdraws their story everywhere. Withdrawing twice is harmless.",
)
async def withdraw_story(request: Request, story_id: uuid.UUID, pool: Pool) -> WithdrawalAccepted:
    try:
        async with pool.acquire() as conn, conn.transaction():
            state = await _authored_state(request, conn, story_id)
            await handlers.withdraw_story(conn, state)
    except DomainError as exc:
        raise _problem_for(exc) from exc
    return WithdrawalAccepted(story_id=story_id)


@router.post(
    "/stories/{story_id}/responses",
    status_code=status.HTTP_201_CREATED,
    response_model=ResponseCreated,
    tags=["responses"],
    responses={c: PROBLEM[c] for c in (400, 401, 403, 404, 409, 410, 413, 422, 503)},
    description="Staff of the story's organisation answer it in public (`staff` token).",
)
async def post_response(
    request: Request,
    story_id: uuid.UUID,
    body: ResponseIn,
    pool: Pool,
    staff: Staff,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    assert staff.organisation_id is not None  # guaranteed for staff tokens
    command = PostResponse(
        story_id=story_id,
        organisation_id=staff.organisation_id,
        responder_subject=staff.subject,
        responder=Responder(display_name=body.responder.display_name, role=body.responder.role),
        body=body.body,
        change=body.change,
    )

    async def work(conn: Any) -> BaseModel:
        return ResponseCreated(response_id=await handlers.post_response(conn, command))

    return await _idempotent(request, pool, idempotency_key, 201, work, lambda _: story_id)


def _edit_window(request: Request) -> timedelta:
    settings: IntakeSettings = request.app.state.platform.settings
    return settings.response_edit_window


@router.put(
    "/stories/{story_id}/responses/{response_id}",
    response_model=ResponseEdited,
    tags=["responses"],
    responses={c: PROBLEM[c] for c in (400, 401, 403, 404, 409, 413, 422, 503)},
    description=(
        "The responder corrects their own response, within 30 minutes of posting it "
        "(`CANDOUR_RESPONSE_EDIT_MINUTES`). Published again on response.posted with the same "
        "response id and the next `version`. 403 for someone else's response, 409 once the "
        "window has closed or the response was deleted; the problem's `type` names which."
    ),
)
async def edit_response(
    request: Request,
    story_id: uuid.UUID,
    response_id: uuid.UUID,
    body: ResponseIn,
    pool: Pool,
    staff: Staff,
) -> ResponseEdited:
    assert staff.organisation_id is not None  # guaranteed for staff tokens
    command = EditResponse(
        story_id=story_id,
        response_id=response_id,
        organisation_id=staff.organisation_id,
        responder_subject=staff.subject,
        responder=Responder(display_name=body.responder.display_name, role=body.responder.role),
        body=body.body,
        change=body.change,
    )
    try:
        async with pool.acquire() as conn, conn.transaction():
            edited = await handlers.edit_response(conn, command, window=_edit_window(request))
    except DomainError as exc:
        raise _problem_for(exc) from exc
    assert edited.edited_at is not None
    return ResponseEdited(response_id=edited.id, version=edited.version, edited_at=edited.edited_at)


@router.delete(
    "/stories/{story_id}/responses/{response_id}",
    response_model=ResponseDeletedOut,
    tags=["responses"],
    responses={c: PROBLEM[c] for c in (401, 403, 404, 409, 503)},
    description=(
        "The responder deletes their own response, within 30 minutes of posting it. "
        "Published as a last version with `deleted: true`, then a tombstone. Same rules "
        "(403, 409) as a correction."
    ),
)
async def delete_response(
    request: Request, story_id: uuid.UUID, response_id: uuid.UUID, pool: Pool, staff: Staff
) -> ResponseDeletedOut:
    assert staff.organisation_id is not None
    command = DeleteResponse(
        story_id=story_id,
        response_id=response_id,
        organisation_id=staff.organisation_id,
        responder_subject=staff.subject,
    )
    try:
        async with pool.acquire() as conn, conn.transaction():
            deleted = await handlers.delete_response(conn, command, window=_edit_window(request))
    except DomainError as exc:
        raise _problem_for(exc) from exc
    return ResponseDeletedOut(response_id=deleted.id, version=deleted.version)


@router.post(
    "/stories/check",
    response_model=StoryChecked,
    tags=["stories"],
    responses={c: PROBLEM[c] for c in (400, 413, 422, 429, 503)},
    description=(
        "Check a story before sending it: the same body, validation, 422s and rate limit "
        "as `POST /v1/stories`, screened as moderation will screen it. Returns each "
        "identifying detail with the replacement that removes it, the safeguarding level, "
        "and where to get help now when that level is not `none`. Stores nothing."
    ),
)
async def check_story(request: Request, body: StoryIn, pool: Pool) -> StoryChecked:
    limiter: RateLimiter = request.app.state.submission_limiter
    client = request.client.host if request.client else "unknown"
    if (wait := await limiter.check(pool, client)) is not None:
        raise ProblemError(
            429,
            "Too many stories from this client; try again later.",
            headers=retry_after_header(wait),
        )

    async def find_organisation(organisation_id: str) -> Organisation | None:
        async with pool.acquire() as conn:
            return await repository.get_organisation(conn, organisation_id)

    command = CheckStory(
        title=body.title,
        body=body.body,
        organisation_id=body.organisation_id,
        service_id=body.service_id,
        author_name=body.author.display_name,
    )
    try:
        checked = await story_check.check_story(
            command, screener=request.app.state.safeguarding, find_organisation=find_organisation
        )
    except DomainError as exc:
        raise _problem_for(exc) from exc
    return StoryChecked.of(checked)
