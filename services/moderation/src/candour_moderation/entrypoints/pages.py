"""The moderation console: server-rendered pages over the same handlers as the API.

Every page needs a moderator (or operator) token kept in the sign-in cookie;
every form posts with a CSRF token and answers with a redirect (303) on success
or the same page again with the errors next to their fields. The routes are left
out of the OpenAPI document: the /v1 API is the documented contract.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.responses import Response

from candour_common.auth import Principal, Role
from candour_common.events import (
    CRITICALITY_LABELS,
    RELATIONSHIP_LABELS,
    SOURCE_LABELS,
    RejectionReason,
)
from candour_common.translatable import N_, Filled, Localisable
from candour_common.web import pages
from candour_common.web.dates import TimeInWords
from candour_common.web.staff_sign_in import StaffArea, staff_sign_in_router
from candour_moderation.domain.escalations import NOTE_MAX as ESCALATION_NOTE_MAX
from candour_moderation.domain.escalations import NothingToRaise, RaiseSafeguarding
from candour_moderation.domain.feedback import (
    FeedbackNotPossible,
    GiveScreeningFeedback,
    Verdict,
)
from candour_moderation.domain.model import (
    ClaimedByAnother,
    ClaimStory,
    ModerationError,
    NotPending,
    QueueItem,
    RejectStory,
    ReleaseClaim,
    SafeguardingNotAcknowledged,
    Status,
    StoryNotFound,
)
from candour_moderation.entrypoints.dependencies import (
    get_lease,
    get_metrics,
    get_unit_of_work,
)
from candour_moderation.entrypoints.http import decode_cursor, encode_cursor
from candour_moderation.entrypoints.review import (
    BODY_MAX,
    TITLE_MAX,
    accepted_text,
    approval,
    segments,
)
from candour_moderation.service_layer import handlers
from candour_moderation.service_layer.unit_of_work import ModerationUnitOfWork
from candour_moderation.settings import ModerationSettings
from candour_screening import (
    CATEGORY_LABELS,
    LanguageKind,
    RedactionKind,
    SafeguardingCategory,
    SafeguardingLevel,
    localised_limit,
    localised_reason,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
QUEUE_PAGE_SIZE = 25
ALLOWED_ROLES = (Role.MODERATOR, Role.OPERATOR)
SIGN_IN_WORDS = pages.SignInWords(
    missing=N_("Paste your moderator token"),
    wrong_role=N_("That token is not a moderator's token"),
)
NOTE_MAX = 2000

REJECTION_LABELS: dict[RejectionReason, str] = {
    RejectionReason.COMMERCIAL: N_("Advertising or commercial"),
    RejectionReason.NOT_ABOUT_CARE: N_("Not about care"),
    RejectionReason.TOO_OLD: N_("Too old"),
    RejectionReason.DUPLICATE: N_("Duplicate"),
    RejectionReason.SAFEGUARDING_ESCALATED: N_("Safeguarding: escalated, not published"),
    RejectionReason.OFFENSIVE: N_("Offensive"),
    RejectionReason.OTHER: N_("Other"),
}
REDACTION_LABELS: dict[str, str] = {
    RedactionKind.EMAIL: N_("email address"),
    RedactionKind.NHS_NUMBER: N_("NHS number"),
    RedactionKind.HOSPITAL_NUMBER: N_("hospital number"),
    RedactionKind.PHONE: N_("phone number"),
    RedactionKind.POSTCODE: N_("postcode"),
    RedactionKind.ADDRESS: N_("address"),
    RedactionKind.SOCIAL_HANDLE: N_("social media handle"),
    RedactionKind.AUTHOR_NAME: N_("the author's name"),
    RedactionKind.PERSON_NAME: N_("a person's name"),
    RedactionKind.DATE: N_("date"),
    RedactionKind.TIME: N_("time"),
}
# Where in the story screening found something ("in the title").
FIELD_LABELS = {"title": N_("in the title"), "body": N_("in the story")}
LEVEL_LABELS = {
    SafeguardingLevel.CONCERN.value: N_("concern"),
    SafeguardingLevel.SERIOUS.value: N_("serious"),
}
STATUS_LABELS = {
    Status.PENDING.value: N_("pending"),
    Status.APPROVED.value: N_("approved"),
    Status.REJECTED.value: N_("rejected"),
    Status.WITHDRAWN.value: N_("withdrawn"),
}
LANGUAGE_KIND_LABELS: dict[str, str] = {
    LanguageKind.SWEARING: N_("swearing"),
    LanguageKind.DISCRIMINATORY: N_("discriminatory language"),
    LanguageKind.CAPITALS: N_("written in capitals"),
}

router = APIRouter(include_in_schema=False)


def create_console_templates(settings: ModerationSettings) -> Jinja2Templates:
    templates = pages.create_templates(TEMPLATES, settings)
    templates.env.globals["criticality_labels"] = CRITICALITY_LABELS
    templates.env.globals["rejection_labels"] = {r.value: t for r, t in REJECTION_LABELS.items()}
    templates.env.globals["redaction_labels"] = REDACTION_LABELS
    templates.env.globals["category_labels"] = {c.value: t for c, t in CATEGORY_LABELS.items()}
    templates.env.globals["field_labels"] = FIELD_LABELS
    templates.env.globals["level_labels"] = LEVEL_LABELS
    templates.env.globals["status_labels"] = STATUS_LABELS
    templates.env.globals["language_kind_labels"] = LANGUAGE_KIND_LABELS
    templates.env.globals["relationship_labels"] = RELATIONSHIP_LABELS
    templates.env.globals["source_labels"] = SOURCE_LABELS
    return templates


def _now() -> datetime:
    return datetime.now(UTC)


def _render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.console_templates
    return pages.render(templates, request, name, context, status_code=status_code)


async def _render_story(
    request: Request, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """The story page, with the story's safeguarding escalations and their state."""
    item: QueueItem = context["item"]
    escalations = await handlers.escalations_of(_uow(request), item.story_id)
    context = {**context, "escalations": escalations}
    return _render(request, "console/story.html", context, status_code=status_code)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def signed_in(request: Request) -> Principal | None:
    """The moderator whose token the cookie holds; None when absent, invalid or not allowed."""
    return pages.signed_in_principal(request, ALLOWED_ROLES)


def _uow(request: Request) -> ModerationUnitOfWork:
    """A fresh unit of work for this page's use cases."""
    return get_unit_of_work(request)


# ------------------------------------------------------------------- sign in


router.include_router(
    staff_sign_in_router(
        StaffArea(
            home="/console",
            roles=ALLOWED_ROLES,
            words=SIGN_IN_WORDS,
            template="console/sign_in.html",
            templates=lambda request: request.app.state.console_templates,
        )
    )
)


# --------------------------------------------------------------------- queue

DONE_MESSAGES = {
    "approved": N_("The story was approved; it will be published shortly."),
    "rejected": N_("The story was rejected; it will not be published."),
}


@router.get("/", response_class=HTMLResponse)
async def home() -> Response:
    """The service's front door is the console (which asks moderators to sign in)."""
    return _see_other("/console")


@router.get("/console", response_class=HTMLResponse)
async def queue_page(
    request: Request, cursor: str | None = None, done: str | None = None
) -> Response:
    moderator = signed_in(request)
    if moderator is None:
        return pages.see_other(request, "/console/sign-in")
    after = decode_cursor(cursor) if cursor else None
    items = await handlers.list_queue(
        _uow(request), Status.PENDING, limit=QUEUE_PAGE_SIZE + 1, after=after
    )
    page, more = items[:QUEUE_PAGE_SIZE], len(items) > QUEUE_PAGE_SIZE
    now = _now()
    return _render(
        request,
        "console/queue.html",
        {
            "moderator": moderator,
            "rows": [
                {
                    "item": item,
                    "level": _level(item),
                    "holder": item.holder(now),
                    "redactions": len(item.screening.redactions) if item.screening else 0,
                    "categories": item.screening.safeguarding.categories if item.screening else (),
                }
                for item in page
            ],
            "next_cursor": encode_cursor(page[-1].position) if more else None,
            "first_page": cursor is None,
            "message": DONE_MESSAGES.get(done or ""),
        },
    )


class _ScreeningWords(Localisable):
    """A screening explanation stored in English (a match's reason, a limit), said in
    the page's language by the screening library's own messages."""

    say: Callable[[str, Callable[[str], str]], str]

    def __new__(cls, text: str, say: Callable[[str, Callable[[str], str]], str]) -> Self:
        words = super().__new__(cls, text)
        words.say = say
        return words

    def localised(self, gettext: Callable[[str], str], locale: str) -> str:
        return self.say(str(self), gettext)


def _level(item: QueueItem) -> str:
    return item.screening.safeguarding.level.value if item.screening else "none"


# --------------------------------------------------------------------- story


def _story_context(
    item: QueueItem,
    moderator: Principal,
    *,
    accepted: set[int] | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    preview: bool = False,
    feedback: list[Any] | None = None,
) -> dict[str, Any]:
    redactions = list(item.screening.redactions) if item.screening else []
    chosen = set(range(len(redactions))) if accepted is None else accepted
    now = _now()
    pending = item.status is Status.PENDING and item.title is not None
    published = accepted_text(item, chosen) if pending else None
    return {
        "moderator": moderator,
        "item": item,
        "pending": pending,
        "level": _level(item),
        "serious": _level(item) == SafeguardingLevel.SERIOUS.value,
        "safeguarding": [
            (index, match, _ScreeningWords(match.reason, localised_reason))
            for index, match in enumerate(item.screening.safeguarding.matches)
        ]
        if item.screening
        else [],
        "categories": item.screening.safeguarding.categories if item.screening else (),
        "limits": [_ScreeningWords(limit, localised_limit) for limit in item.screening.limits]
        if item.screening
        else [],
        "feedback": feedback or [],
        "language": item.screening.language if item.screening else (),
        "title_segments": segments(item, "title"),
        "body_segments": segments(item, "body"),
        "redactions": list(enumerate(redactions)),
        "accepted": chosen,
        "published": published,
        "preview": preview,
        "holder": item.holder(now),
        "claim_expires_at": item.claim_expires_at,
        "values": values or {},
        "errors": errors or {},
        "message": message,
    }


async def _load(request: Request, story_id: UUID) -> QueueItem | None:
    try:
        item, _ = await handlers.get_story(_uow(request), story_id)
    except StoryNotFound:
        return None
    return item


def _not_found(request: Request, moderator: Principal) -> Response:
    return _render(request, "console/not_found.html", {"moderator": moderator}, status_code=404)


CLAIM_MESSAGES = {
    "claimed": N_("You have claimed this story: other moderators cannot decide it meanwhile."),
    "released": N_("You released your claim: the story is back in the queue for anyone."),
    "feedback": N_("Thank you: screening will learn from it when the labels are next exported."),
    "raised": N_(
        "Safeguarding raised: the story, its screening matches and your note are on their "
        "way to the organisation's safeguarding contacts."
    ),
}


@router.get("/console/stories/{story_id}", response_class=HTMLResponse)
async def story_page(request: Request, story_id: UUID, done: str | None = None) -> Response:
    moderator = signed_in(request)
    if moderator is None:
        return pages.see_other(request, "/console/sign-in")
    item = await _load(request, story_id)
    if item is None:
        return _not_found(request, moderator)
    feedback = await handlers.screening_feedback_on(_uow(request), story_id)
    return await _render_story(
        request,
        _story_context(item, moderator, message=CLAIM_MESSAGES.get(done or ""), feedback=feedback),
    )


@router.post("/console/stories/{story_id}/screening-feedback", response_class=HTMLResponse)
async def screening_feedback(request: Request, story_id: UUID) -> Response:
    """Mark a safeguarding flag wrong, or add one screening missed."""
    form = await pages.checked_form(request)
    moderator = signed_in(request)
    if moderator is None:
        return pages.see_other(request, "/console/sign-in")
    values = {
        name: pages.form_text(form, name)
        for name in ("verdict", "match", "category", "level", "text", "note")
    }
    errors: dict[str, str] = {}
    command: GiveScreeningFeedback | None = None
    if values["verdict"] == Verdict.WRONG.value and values["match"].isdigit():
        command = GiveScreeningFeedback(
            story_id, moderator.subject, Verdict.WRONG, match=int(values["match"])
        )
    elif values["verdict"] == Verdict.MISSED.value:
        try:
            category = SafeguardingCategory(values["category"])
        except ValueError:
            errors["category"] = N_("Choose the category screening missed")
        level = (
            SafeguardingLevel.SERIOUS
            if values["level"] == SafeguardingLevel.SERIOUS.value
            else SafeguardingLevel.CONCERN
        )
        if len(values["text"]) > 500:
            errors["text"] = Filled(N_("Quote at most {limit} characters"), limit=500)
        if not errors:
            command = GiveScreeningFeedback(
                story_id,
                moderator.subject,
                Verdict.MISSED,
                category=category,
                level=level,
                text=values["text"] or None,
            )
    else:
        errors["verdict"] = N_("Choose a flag to mark wrong, or add a missed one")
    item = await _load(request, story_id)
    if item is None:
        return _not_found(request, moderator)
    if command is not None:
        try:
            await handlers.give_screening_feedback(_uow(request), command, now=_now())
        except FeedbackNotPossible as exc:
            errors["verdict"] = exc.why
        else:
            return _see_other(f"/console/stories/{story_id}?done=feedback#safeguarding-title")
    feedback = await handlers.screening_feedback_on(_uow(request), story_id)
    return await _render_story(
        request,
        _story_context(item, moderator, errors=errors, values=values, feedback=feedback),
        status_code=422,
    )


def _conflict_message(exc: ModerationError) -> str:
    if isinstance(exc, ClaimedByAnother):
        return Filled(
            N_(
                "{moderator} is working on this story until {until}: you cannot claim or "
                "decide it until they finish or their claim expires."
            ),
            moderator=exc.moderator,
            until=TimeInWords(exc.until),
        )
    if isinstance(exc, NotPending):
        return Filled(
            N_("This story was already {status}: nothing was changed."),
            status=Localisable(STATUS_LABELS.get(exc.status.value, exc.status.value)),
        )
    return str(exc)


async def _conflict(
    request: Request, story_id: UUID, moderator: Principal, exc: ModerationError, **kept: Any
) -> Response:
    """The same story page again, freshly loaded, with what went wrong at the top."""
    item = await _load(request, story_id)
    if item is None:
        return _not_found(request, moderator)
    context = _story_context(item, moderator, **kept)
    context["errors"] = {**context["errors"], "decision": _conflict_message(exc)}
    return await _render_story(request, context, status_code=409)


@router.post("/console/stories/{story_id}/claim")
async def claim(request: Request, story_id: UUID) -> Response:
    await pages.checked_form(request)
    moderator = signed_in(request)
    if moderator is None:
        return pages.see_other(request, "/console/sign-in")
    try:
        await handlers.claim_story(
            _uow(request),
            ClaimStory(story_id, moderator.subject, get_lease(request)),
            now=_now(),
        )
    except StoryNotFound:
        return _not_found(request, moderator)
    except ModerationError as exc:
        return await _conflict(request, story_id, moderator, exc)
    return _see_other(f"/console/stories/{story_id}?done=claimed")


@router.post("/console/stories/{story_id}/release")
async def release(request: Request, story_id: UUID) -> Response:
    await pages.checked_form(request)
    moderator = signed_in(request)
    if moderator is None:
        return pages.see_other(request, "/console/sign-in")
    try:
        await handlers.release_claim(
            _uow(request), ReleaseClaim(story_id, moderator.subject), now=_now()
        )
    except StoryNotFound:
        return _not_found(request, moderator)
    except ModerationError as exc:
        return await _conflict(request, story_id, moderator, exc)
    return _see_other(f"/console/stories/{story_id}?done=released")


@router.post("/console/stories/{story_id}/approve", response_class=HTMLResponse)
async def approve(request: Request, story_id: UUID) -> Response:
    form = await pages.checked_form(request)
    moderator = signed_in(request)
    if moderator is None:
        return pages.see_other(request, "/console/sign-in")
    item = await _load(request, story_id)
    if item is None:
        return _not_found(request, moderator)
    count = len(item.screening.redactions) if item.screening else 0
    accepted = {
        int(v) for v in form.getlist("redaction") if isinstance(v, str) and v.isdigit()
    } & set(range(count))
    values = {
        name: pages.form_text(form, name)
        for name in ("criticality", "edited_title", "edited_body", "acknowledge_safeguarding")
    }
    errors: dict[str, str] = {}
    criticality = _criticality(values["criticality"])
    if criticality is None:
        errors["criticality"] = N_("Choose how critical the story is")
    if len(values["edited_title"]) > TITLE_MAX:
        errors["edited_title"] = Filled(
            N_("The title must be {limit} characters or fewer"), limit=f"{TITLE_MAX:,}"
        )
    if len(values["edited_body"]) > BODY_MAX:
        errors["edited_body"] = Filled(
            N_("The story must be {limit} characters or fewer"), limit=f"{BODY_MAX:,}"
        )
    kept: dict[str, Any] = {"accepted": accepted, "values": values}
    if form.get("action") == "preview":
        return await _render_story(request, _story_context(item, moderator, preview=True, **kept))
    if item.status is Status.PENDING and errors:
        return await _render_story(
            request,
            _story_context(item, moderator, errors=errors, **kept),
            status_code=422,
        )
    try:
        if item.status is not Status.PENDING or item.title is None:
            raise NotPending(item.story_id, item.status)
        assert criticality is not None
        command = approval(
            item,
            moderator=moderator.subject,
            criticality=criticality,
            accepted=accepted,
            edited_title=values["edited_title"] or None,
            edited_body=values["edited_body"] or None,
            acknowledge_safeguarding=values["acknowledge_safeguarding"] == "yes",
            version=_version_read(form),
        )
        await handlers.decide(
            _uow(request),
            command,
            now=_now(),
            observe=get_metrics(request).observe_decision,
        )
    except SafeguardingNotAcknowledged:
        errors["acknowledge_safeguarding"] = N_(
            "This story has a serious safeguarding match: confirm it has been escalated "
            "and may be published, or reject it"
        )
        return await _render_story(
            request,
            _story_context(item, moderator, errors=errors, **kept),
            status_code=422,
        )
    except StoryNotFound:
        return _not_found(request, moderator)
    except ModerationError as exc:
        return await _conflict(request, story_id, moderator, exc, **kept)
    return _see_other("/console?done=approved")


def _version_read(form: FormData) -> int | None:
    """The author's version the page showed: a decision on an older one is refused."""
    raw = pages.form_text(form, "version")
    return int(raw) if raw.isdigit() else None


def _criticality(raw: str) -> int | None:
    if raw.isdigit() and int(raw) in CRITICALITY_LABELS:
        return int(raw)
    return None


@router.post("/console/stories/{story_id}/reject", response_class=HTMLResponse)
async def reject(request: Request, story_id: UUID) -> Response:
    form = await pages.checked_form(request)
    moderator = signed_in(request)
    if moderator is None:
        return pages.see_other(request, "/console/sign-in")
    values = {"reason": pages.form_text(form, "reason"), "note": pages.form_text(form, "note")}
    errors: dict[str, str] = {}
    reason: RejectionReason | None = None
    try:
        reason = RejectionReason(values["reason"])
    except ValueError:
        errors["reason"] = N_("Choose why the story is rejected")
    if len(values["note"]) > NOTE_MAX:
        errors["note"] = Filled(
            N_("The note must be {limit} characters or fewer"), limit=f"{NOTE_MAX:,}"
        )
    if errors:
        item = await _load(request, story_id)
        if item is None:
            return _not_found(request, moderator)
        return await _render_story(
            request,
            _story_context(item, moderator, errors=errors, values=values),
            status_code=422,
        )
    assert reason is not None
    try:
        await handlers.decide(
            _uow(request),
            RejectStory(
                story_id,
                moderator.subject,
                reason,
                values["note"] or None,
                version=_version_read(form),
            ),
            now=_now(),
            observe=get_metrics(request).observe_decision,
        )
    except StoryNotFound:
        return _not_found(request, moderator)
    except ModerationError as exc:
        return await _conflict(request, story_id, moderator, exc, values=values)
    return _see_other("/console?done=rejected")


@router.post("/console/stories/{story_id}/safeguarding", response_class=HTMLResponse)
async def raise_safeguarding(request: Request, story_id: UUID) -> Response:
    """Raise safeguarding with a note: the story goes to the safeguarding contacts now."""
    form = await pages.checked_form(request)
    moderator = signed_in(request)
    if moderator is None:
        return pages.see_other(request, "/console/sign-in")
    values = {"safeguarding_note": pages.form_text(form, "safeguarding_note")}
    errors: dict[str, str] = {}
    note = values["safeguarding_note"].strip()
    if not note:
        errors["safeguarding_note"] = N_(
            "Say why you raise it and what the safeguarding contacts need to know"
        )
    elif len(note) > ESCALATION_NOTE_MAX:
        errors["safeguarding_note"] = Filled(
            N_("The note must be {limit} characters or fewer"), limit=f"{ESCALATION_NOTE_MAX:,}"
        )
    if not errors:
        try:
            await handlers.raise_escalation(
                _uow(request),
                RaiseSafeguarding(story_id, moderator.subject, note),
                now=_now(),
            )
        except StoryNotFound:
            return _not_found(request, moderator)
        except NothingToRaise:
            errors["safeguarding_note"] = N_(
                "The author withdrew this story: its text is erased, there is nothing to raise"
            )
        else:
            return _see_other(f"/console/stories/{story_id}?done=raised#escalations-title")
    item = await _load(request, story_id)
    if item is None:
        return _not_found(request, moderator)
    return await _render_story(
        request,
        _story_context(item, moderator, errors=errors, values=values),
        status_code=422,
    )
