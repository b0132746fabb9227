"""HTTP routes of story-intake (thin: validate, call a handler, shape the answer)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse

from candour_common.auth import Principal, Role
from candour_common.events import Responder
from candour_common.http.bearer import bearer_credentials, require_role
from candour_common.http.limits import retry_after_header
from candour_common.http.problems import FieldError, Problem, ProblemError
from candour_intake.domain import (
    AlreadyImported,
    AnswerWithdrawn,
    DeleteResponse,
    DomainError,
    EditResponse,
    EditWindowClosed,
    KeyReusedWithDifferentRequest,
    NotTheAuthor,
    NotYourResponse,
    Organisation,
    PostResponse,
    ResponseDeleted,
    ResponseNotFound,
    StaffResponse,
    StoredAnswer,
    Story,
    StoryNotEditable,
    StoryNotFound,
    StoryNotOpenForResponses,
    UnknownOrganisation,
    UnknownService,
    WrongOrganisation,
    request_fingerprint,
)
from candour_intake.entrypoints import submission
from candour_intake.entrypoints.dependencies import edit_window, get_unit_of_work, idempotency_ttl
from candour_intake.entrypoints.schemas import (
    OrganisationOut,
    ResponseCreated,
    ResponseDeletedOut,
    ResponseEdited,
    ResponseIn,
    ServiceOut,
    StoryChecked,
    StoryCreated,
    StoryEdited,
    StoryEditIn,
    StoryIn,
    StoryStatusOut,
    WithdrawalAccepted,
)
from candour_intake.service_layer import check as story_check
from candour_intake.service_layer import handlers
from candour_intake.service_layer.check import CheckStory
from candour_intake.service_layer.idempotency import KeyedRequest, answer_once
from candour_intake.service_layer.unit_of_work import IntakeUnitOfWork

router = APIRouter(prefix="/v1")
PROBLEM: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404, 409, 410, 413, 422, 429, 503)
}


Uow = Annotated[IntakeUnitOfWork, Depends(get_unit_of_work)]
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
    if isinstance(exc, StoryNotEditable):
        return ProblemError(
            409,
            str(exc),
            title="This story can no longer be edited",
            type_=f"{PROBLEM_TYPES}/story-not-editable",
        )
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


async def _keyed(request: Request, key: str | None) -> KeyedRequest | None:
    """The request under its Idempotency-Key (None without one)."""
    if key is None:
        return None
    return KeyedRequest(
        key=key,
        scope=f"{request.method} {request.url.path}",
        fingerprint=request_fingerprint(request.method, request.url.path, await request.body()),
        ttl=idempotency_ttl(request),
    )


async def _answered_once(keyed: Awaitable[tuple[StoredAnswer, bool]]) -> JSONResponse:
    """The answer (the first one, for a repeated key) as JSON; each refusal as a problem."""
    try:
        answer, _ = await keyed
    except AnswerWithdrawn as exc:
        raise ProblemError(
            410,
            "The story this Idempotency-Key created has been withdrawn; "
            "use a new key to send it again.",
        ) from exc
    except KeyReusedWithDifferentRequest as exc:
        raise ProblemError(
            422,
            "This Idempotency-Key was used with a different request body.",
            errors=[
                FieldError(field="header.Idempotency-Key", message="reused with a different body")
            ],
        ) from exc
    except DomainError as exc:
        raise _problem_for(exc) from exc
    return JSONResponse(answer.body, status_code=answer.status_code)


async def _within_rate_limit(request: Request) -> None:
    """Count the request against the submission limit; 429 once it is spent."""
    if (wait := await submission.seconds_to_wait(request)) is not None:
        raise ProblemError(
            429,
            "Too many stories from this client; try again later.",
            headers=retry_after_header(wait),
        )


def _organisation_out(org: Organisation) -> OrganisationOut:
    return OrganisationOut(
        id=org.id,
        name=org.name,
        name_cy=org.name_cy,
        type=org.type,
        services=[ServiceOut(id=s.id, name=s.name, name_cy=s.name_cy) for s in org.services],
    )


@router.get("/organisations", response_model=list[OrganisationOut], tags=["directory"])
async def list_organisations(uow: Uow) -> list[OrganisationOut]:
    return [_organisation_out(o) for o in await handlers.organisations(uow)]


@router.get(
    "/organisations/{ods_code}",
    response_model=OrganisationOut,
    tags=["directory"],
    responses={404: PROBLEM[404]},
)
async def get_organisation(ods_code: str, uow: Uow) -> OrganisationOut:
    org = await handlers.organisation(uow, ods_code)
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
    request: Request, body: StoryIn, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    await _within_rate_limit(request)

    def answer(story: Story, token: str) -> dict[str, Any]:
        return StoryCreated(story_id=story.id, author_token=token).model_dump(mode="json")

    keyed = await _keyed(request, idempotency_key)
    return await _answered_once(submission.submit(request, body, keyed, answer))


@router.get(
    "/stories/{story_id}/status",
    response_model=StoryStatusOut,
    tags=["stories"],
    responses={c: PROBLEM[c] for c in (401, 404)},
    description="The author's view of their story. `Authorization: Bearer <author_token>`.",
)
async def story_status(request: Request, story_id: uuid.UUID, uow: Uow) -> StoryStatusOut:
    token = await bearer_credentials(request)
    try:
        state = await handlers.authored_story(uow, story_id, token)
    except DomainError as exc:
        raise _problem_for(exc) from exc
    return StoryStatusOut(
        story_id=state.id,
        status=state.status.value,
        rejection_reason=state.rejection_reason,
        response_count=state.response_count,
    )


@router.put(
    "/stories/{story_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=StoryEdited,
    tags=["stories"],
    responses={c: PROBLEM[c] for c in (400, 401, 404, 409, 413, 422, 429, 503)},
    description=(
        "The author edits their story and sends it again. `Authorization: Bearer "
        "<author_token>`; the body of `POST /v1/stories` without `author` (the name and "
        "contact given first stay), with the same validation, 422s and rate limit. "
        "Allowed while the story is `submitted` or `rejected`: it is `submitted` again, "
        "as the next `version`, and a moderator reads the new text. 409 once it is "
        "published or withdrawn; 401 and 404 as for the status."
    ),
)
async def edit_story(request: Request, story_id: uuid.UUID, body: StoryEditIn) -> StoryEdited:
    await _within_rate_limit(request)
    token = await bearer_credentials(request)
    try:
        edited = await submission.edit(request, story_id, token, body)
    except DomainError as exc:
        raise _problem_for(exc) from exc
    return StoryEdited(story_id=edited.id, version=edited.version)


@router.delete(
    "/stories/{story_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WithdrawalAccepted,
    tags=["stories"],
    responses={c: PROBLEM[c] for c in (401, 404)},
    description="The author withdraws their story everywhere. Withdrawing twice is harmless.",
)
async def withdraw_story(request: Request, story_id: uuid.UUID, uow: Uow) -> WithdrawalAccepted:
    token = await bearer_credentials(request)
    try:
        await handlers.withdraw_story(uow, story_id, token)
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
    uow: Uow,
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

    async def work() -> tuple[StoredAnswer, uuid.UUID]:
        created = ResponseCreated(response_id=await handlers.post_response(uow, command))
        return StoredAnswer(201, created.model_dump(mode="json")), story_id

    keyed = await _keyed(request, idempotency_key)
    return await _answered_once(answer_once(uow, keyed, work))


async def _changed(
    request: Request, uow: IntakeUnitOfWork, command: EditResponse | DeleteResponse
) -> StaffResponse:
    try:
        return await handlers.change_response(uow, command, window=edit_window(request))
    except DomainError as exc:
        raise _problem_for(exc) from exc


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
    uow: Uow,
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
    edited = await _changed(request, uow, command)
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
    request: Request, story_id: uuid.UUID, response_id: uuid.UUID, uow: Uow, staff: Staff
) -> ResponseDeletedOut:
    assert staff.organisation_id is not None
    command = DeleteResponse(
        story_id=story_id,
        response_id=response_id,
        organisation_id=staff.organisation_id,
        responder_subject=staff.subject,
    )
    deleted = await _changed(request, uow, command)
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
async def check_story(request: Request, body: StoryIn, uow: Uow) -> StoryChecked:
    await _within_rate_limit(request)

    async def find_organisation(organisation_id: str) -> Organisation | None:
        return await handlers.organisation(uow, organisation_id)

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
