"""HTTP routes of moderation (thin: authenticate, validate, call a handler, shape the answer)."""

from __future__ import annotations

import base64
import binascii
import inspect
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from candour_common.auth import Principal, Role
from candour_common.events import Tags
from candour_common.http.bearer import require_role
from candour_common.http.problems import FieldError, Problem, ProblemError
from candour_moderation.domain.escalations import NothingToRaise, RaiseSafeguarding
from candour_moderation.domain.feedback import (
    FeedbackNotPossible,
    GiveScreeningFeedback,
    Verdict,
)
from candour_moderation.domain.model import (
    ApproveStory,
    ClaimedByAnother,
    ClaimStory,
    Decision,
    ModerationError,
    NotPending,
    QueuePosition,
    RejectStory,
    ReleaseClaim,
    SafeguardingNotAcknowledged,
    Status,
    StoryNotFound,
)
from candour_moderation.entrypoints.dependencies import get_lease, get_metrics, get_unit_of_work
from candour_moderation.entrypoints.schemas import (
    ApproveIn,
    AuditOut,
    ClaimOut,
    DecisionIn,
    DecisionOut,
    EscalationOut,
    QueueItemDetail,
    QueueItemOut,
    QueuePage,
    RaiseSafeguardingIn,
    ReleaseOut,
    ScreeningFeedbackIn,
    ScreeningFeedbackOut,
    WrongFlagIn,
)
from candour_moderation.service_layer import handlers
from candour_moderation.service_layer.handlers import QueueMetrics
from candour_moderation.service_layer.unit_of_work import ModerationUnitOfWork
from candour_screening import SafeguardingLevel

PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}
AUTH_PROBLEMS: dict[int | str, dict[str, object]] = {401: PROBLEM, 403: PROBLEM}

router = APIRouter(prefix="/v1", tags=["queue"], responses=AUTH_PROBLEMS)

Moderator = Annotated[Principal, Depends(require_role(Role.MODERATOR, Role.OPERATOR))]


Uow = Annotated[ModerationUnitOfWork, Depends(get_unit_of_work)]
Metrics = Annotated[QueueMetrics, Depends(get_metrics)]
Lease = Annotated[timedelta, Depends(get_lease)]


def _now() -> datetime:
    return datetime.now(UTC)


def _problem(exc: ModerationError) -> ProblemError:
    if isinstance(exc, StoryNotFound):
        return ProblemError(404, str(exc))
    if isinstance(exc, NotPending):
        return ProblemError(409, str(exc), title="Already decided")
    if isinstance(exc, ClaimedByAnother):
        return ProblemError(409, str(exc), title="Claimed by another moderator")
    if isinstance(exc, FeedbackNotPossible):
        return ProblemError(422, str(exc), errors=[FieldError(field="body", message=exc.why)])
    if isinstance(exc, NothingToRaise):
        return ProblemError(409, str(exc), title="Withdrawn by its author")
    if isinstance(exc, SafeguardingNotAcknowledged):
        return ProblemError(
            422,
            str(exc),
            errors=[FieldError(field="body.acknowledge_safeguarding", message=str(exc))],
        )
    return ProblemError(409, str(exc))


DECISION_TAGS = ("approve", "reject")


def name_decision_fields(app: FastAPI) -> None:
    """Name decision fields as clients wrote them: `body.criticality`, not
    `body.approve.criticality`; an unknown `decision` is an error in `body.decision`.

    Wraps the platform's validation handler, which shapes the problem document.
    """
    platform_handler = app.exception_handlers[RequestValidationError]

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = []
        for error in exc.errors():
            loc = tuple(error.get("loc", ()))
            if error.get("type") in ("union_tag_invalid", "union_tag_not_found"):
                loc = ("body", "decision")
            elif loc[:1] == ("body",) and len(loc) > 1 and loc[1] in DECISION_TAGS:
                loc = ("body", *loc[2:])
            errors.append({**error, "loc": loc})
        response = platform_handler(request, RequestValidationError(errors, body=exc.body))
        return await response if inspect.isawaitable(response) else response

    app.add_exception_handler(RequestValidationError, handler)


def encode_cursor(position: QueuePosition) -> str:
    raw = json.dumps(
        [position.priority_rank, position.submitted_at.isoformat(), str(position.story_id)]
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> QueuePosition:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        rank, submitted_at, story_id = json.loads(raw)
        position = QueuePosition(int(rank), datetime.fromisoformat(submitted_at), UUID(story_id))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ProblemError(
            422,
            "The cursor is not one this service issued.",
            errors=[FieldError(field="query.cursor", message="invalid cursor")],
        ) from exc
    if position.submitted_at.tzinfo is None:
        raise ProblemError(
            422,
            "The cursor is not one this service issued.",
            errors=[FieldError(field="query.cursor", message="invalid cursor")],
        )
    return position


@router.get("/queue", response_model=QueuePage, responses={422: PROBLEM})
async def list_queue(
    moderator: Moderator,
    uow: Uow,
    status: Annotated[Status, Query(description="Which items to list.")] = Status.PENDING,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> QueuePage:
    """Stories in priority order: serious safeguarding first, then concern, then oldest first."""
    after = decode_cursor(cursor) if cursor else None
    items = await handlers.list_queue(uow, status, limit=limit + 1, after=after)
    now = _now()
    page, more = items[:limit], len(items) > limit
    return QueuePage(
        items=[QueueItemOut.of(item, now) for item in page],
        next_cursor=encode_cursor(page[-1].position) if more else None,
    )


@router.get("/queue/{story_id}", response_model=QueueItemDetail, responses={404: PROBLEM})
async def get_story(story_id: UUID, moderator: Moderator, uow: Uow) -> QueueItemDetail:
    """One story with its screening and its audit trail."""
    try:
        item, audit = await handlers.get_story(uow, story_id)
    except ModerationError as exc:
        raise _problem(exc) from exc
    feedback = await handlers.screening_feedback_on(uow, story_id)
    escalations = await handlers.escalations_of(uow, story_id)
    return QueueItemDetail(
        **QueueItemOut.of(item, _now()).model_dump(),
        audit=[AuditOut.of(a) for a in audit],
        screening_feedback=[ScreeningFeedbackOut.of(f) for f in feedback],
        escalations=[EscalationOut.of(e) for e in escalations],
    )


@router.post(
    "/queue/{story_id}/safeguarding",
    response_model=EscalationOut,
    status_code=201,
    responses={404: PROBLEM, 409: PROBLEM, 422: PROBLEM},
)
async def raise_safeguarding(
    story_id: UUID,
    moderator: Moderator,
    uow: Uow,
    body: Annotated[RaiseSafeguardingIn, Body()],
) -> EscalationOut:
    """Raise safeguarding: the story as written, its screening matches and your note go to
    the organisation's safeguarding contacts at once (`safeguarding.raised`), whatever its
    status (not once withdrawn). Each call is a new escalation."""
    try:
        escalation = await handlers.raise_escalation(
            uow, RaiseSafeguarding(story_id, moderator.subject, body.note), now=_now()
        )
    except ModerationError as exc:
        raise _problem(exc) from exc
    return EscalationOut.of(escalation)


@router.post(
    "/queue/{story_id}/screening-feedback",
    response_model=ScreeningFeedbackOut,
    status_code=201,
    responses={404: PROBLEM, 422: PROBLEM},
)
async def give_screening_feedback(
    story_id: UUID,
    moderator: Moderator,
    uow: Uow,
    feedback: Annotated[ScreeningFeedbackIn, Body()],
) -> ScreeningFeedbackOut:
    """Teach screening: mark one of the story's safeguarding flags wrong
    (`verdict: wrong`, `match`: its index), or add one it missed (`verdict: missed`,
    `category`, `level`). `candour screening export-labels` turns these into corpus rows."""
    if isinstance(feedback, WrongFlagIn):
        command = GiveScreeningFeedback(
            story_id, moderator.subject, Verdict.WRONG, match=feedback.match, note=feedback.note
        )
    else:
        command = GiveScreeningFeedback(
            story_id,
            moderator.subject,
            Verdict.MISSED,
            category=feedback.category,
            level=SafeguardingLevel(feedback.level),
            text=feedback.text,
            note=feedback.note,
        )
    try:
        given = await handlers.give_screening_feedback(uow, command, now=_now())
    except ModerationError as exc:
        raise _problem(exc) from exc
    return ScreeningFeedbackOut.of(given)


@router.post(
    "/queue/{story_id}/claim", response_model=ClaimOut, responses={404: PROBLEM, 409: PROBLEM}
)
async def claim_story(story_id: UUID, moderator: Moderator, uow: Uow, lease: Lease) -> ClaimOut:
    """Take (or renew) a lease on the story so no other moderator works on it meanwhile."""
    try:
        item = await handlers.claim_story(
            uow, ClaimStory(story_id, moderator.subject, lease), now=_now()
        )
    except ModerationError as exc:
        raise _problem(exc) from exc
    assert item.claimed_by is not None
    assert item.claim_expires_at is not None
    return ClaimOut(
        story_id=item.story_id, claimed_by=item.claimed_by, expires_at=item.claim_expires_at
    )


@router.delete(
    "/queue/{story_id}/claim", response_model=ReleaseOut, responses={404: PROBLEM, 409: PROBLEM}
)
async def release_claim(story_id: UUID, moderator: Moderator, uow: Uow) -> ReleaseOut:
    """Give the story back to the queue before the lease expires."""
    try:
        item = await handlers.release_claim(
            uow, ReleaseClaim(story_id, moderator.subject), now=_now()
        )
    except ModerationError as exc:
        raise _problem(exc) from exc
    return ReleaseOut(story_id=item.story_id)


@router.post(
    "/queue/{story_id}/decision",
    response_model=DecisionOut,
    responses={404: PROBLEM, 409: PROBLEM, 422: PROBLEM},
)
async def decide(
    story_id: UUID,
    moderator: Moderator,
    uow: Uow,
    metrics: Metrics,
    decision: Annotated[DecisionIn, Body()],
) -> DecisionOut:
    """Approve (emits `story.approved`) or reject (`story.rejected`); a story is decided once."""
    command: Decision
    if isinstance(decision, ApproveIn):
        command = ApproveStory(
            story_id=story_id,
            moderator=moderator.subject,
            criticality=decision.criticality,
            title=decision.title,
            body=decision.body,
            tags=Tags(**decision.tags.model_dump()) if decision.tags is not None else None,
            apply_suggested=decision.apply_suggested,
            acknowledge_safeguarding=decision.acknowledge_safeguarding,
            version=decision.version,
        )
    else:
        command = RejectStory(
            story_id=story_id,
            moderator=moderator.subject,
            reason=decision.reason,
            note=decision.note or None,
            version=decision.version,
        )
    try:
        item, event_id = await handlers.decide(
            uow, command, now=_now(), observe=metrics.observe_decision
        )
    except ModerationError as exc:
        raise _problem(exc) from exc
    assert item.decided_by is not None
    assert item.decided_at is not None
    return DecisionOut(
        story_id=item.story_id,
        status=item.status,
        decided_by=item.decided_by,
        decided_at=item.decided_at,
        event_id=event_id,
    )
