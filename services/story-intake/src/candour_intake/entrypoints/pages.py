"""Story-intake's web pages: share a story, follow or withdraw it, and staff responses.

Server-rendered and usable without JavaScript: every form is a plain POST that
either re-renders with errors next to the fields (422) or redirects (303). The
pages call the same service-layer handlers as the /v1 API and stay out of the
OpenAPI document.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from candour_common.about_you import ANSWERS, ETHNIC_CATEGORIES, ETHNIC_GROUPS, Characteristic
from candour_common.auth import Principal, Role
from candour_common.events import (
    CRITICALITY_LABELS,
    TAG_VOCABULARY,
    ChangeMarker,
    RejectionReason,
    Relationship,
    Responder,
)
from candour_common.http.limits import retry_after_header
from candour_common.http.problems import FieldError, ProblemError
from candour_common.translatable import N_, Filled
from candour_common.web import pages
from candour_common.web.i18n import request_language
from candour_common.web.staff_sign_in import StaffArea, staff_sign_in_router
from candour_intake.domain import (
    AnswerWithdrawn,
    DeleteResponse,
    DomainError,
    EditResponse,
    EditWindowClosed,
    InboxQuery,
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
    StoryNotFound,
    StoryNotOpenForResponses,
    StoryState,
    StoryStatus,
    UnknownOrganisation,
    UnknownService,
    WrongOrganisation,
    request_fingerprint,
)
from candour_intake.entrypoints import submission
from candour_intake.entrypoints.dependencies import edit_window, idempotency_ttl, new_unit_of_work
from candour_intake.entrypoints.schemas import (
    MAX_WORDS,
    OPERATOR_ONLY_FIELDS,
    ResponseIn,
    StoryEditIn,
    StoryIn,
)
from candour_intake.service_layer import handlers
from candour_intake.service_layer.idempotency import KeyedRequest, answer_once, replay
from candour_intake.service_layer.unit_of_work import IntakeUnitOfWork
from candour_intake.settings import IntakeSettings

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
SHARE_SCRIPT = STATIC_DIR / "share.js"
PRIVATE_LINK_SCRIPT = STATIC_DIR / "private_link.js"

router = APIRouter(include_in_schema=False)

RELATIONSHIP_LABELS: dict[str, str] = {
    Relationship.PATIENT: N_("I am the patient"),
    Relationship.SERVICE_USER: N_("I use the service"),
    Relationship.CARER: N_("I care for the person who used it"),
    Relationship.PARENT_GUARDIAN: N_("I am their parent or guardian"),
    Relationship.RELATIVE: N_("I am a relative"),
    Relationship.FRIEND: N_("I am a friend"),
    Relationship.STAFF: N_("I work there"),
    Relationship.OTHER: N_("Something else"),
}

# Names to show with a story that say how the author knows the care, not who they are.
SUGGESTED_NAMES = (
    N_("A patient"),
    N_("A carer"),
    N_("A parent"),
    N_("A relative"),
    N_("A friend"),
    N_("A service user"),
    N_("A member of staff"),
)

TAG_CHOICES = TAG_VOCABULARY
TAG_LEGENDS = {
    "good": N_("What was good?"),
    "improve": N_("What could be improved?"),
    "feelings": N_("How did you feel?"),
}

REJECTION_EXPLANATIONS: dict[RejectionReason, str] = {
    RejectionReason.COMMERCIAL: N_("it was advertising or selling something."),
    RejectionReason.NOT_ABOUT_CARE: N_("it was not about an experience of health or care."),
    RejectionReason.TOO_OLD: N_("the experience happened more than three years ago."),
    RejectionReason.DUPLICATE: N_("the same story had already been shared."),
    RejectionReason.SAFEGUARDING_ESCALATED: N_(
        "it raised a concern about someone's safety, which we have passed to the people "
        "who can help."
    ),
    RejectionReason.OFFENSIVE: N_("it contained language or content we cannot publish."),
    RejectionReason.OTHER: N_("it did not meet our publishing rules."),
}

CHANGE_LABELS = {
    "": N_("No change to report"),
    ChangeMarker.PLANNED.value: N_("We are planning a change because of this story"),
    ChangeMarker.MADE.value: N_("We have made a change because of this story"),
}

STAFF = (Role.STAFF,)
SIGN_IN_WORDS = pages.SignInWords(
    missing=N_("Paste the staff token you were given"),
    wrong_role=N_("This is not a staff token; responses need a staff token"),
    invalid=N_("This token is not valid or has expired; ask for a new one"),
)
# Pages that show an author's private token must not be cached or leak it as a referrer.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

# Post/redirect/get for the share form: the form carries its own idempotency key
# (made when the form is rendered), claimed like an API Idempotency-Key, so a double
# click or a resent form finds the first answer instead of making a second story.
# The confirmation page after the redirect finds that answer again with the key, kept
# in a short-lived cookie for /share only: never in the URL (it unlocks the private code).
SUBMISSION_FIELD = "submission_key"
SUBMISSION_COOKIE = "candour_share"
SUBMISSION_COOKIE_SECONDS = 3600
SHARE_SCOPE = "POST /share"
# The response forms (a new response, a correction) carry one too, made with the form and
# kept through the preview: publishing claims it, so a resent publish (a refresh of the
# answer, a double click) finds the first answer instead of publishing twice.
RESPONSE_FIELD = "response_key"


def create_templates(settings: IntakeSettings) -> Jinja2Templates:
    """This service's templates, falling back to the shared layout and macros."""
    templates = pages.create_templates(TEMPLATES_DIR, settings)
    return templates


def _templates(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


def _uow(request: Request) -> IntakeUnitOfWork:
    """A fresh unit of work for this page's use cases."""
    return new_unit_of_work(request.app)


def _render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    response = pages.render(_templates(request), request, name, context, status_code=status_code)
    response.headers.update(headers or {})
    return response


def _message(
    request: Request,
    title: str,
    message: str,
    *,
    status_code: int,
    staff: Principal | None = None,
) -> HTMLResponse:
    context = {"title": title, "message": message, "staff": staff}
    return _render(request, "message.html", context, status_code=status_code)


def _texts(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


# ---------------------------------------------------------------- share a story


def about_you_questions() -> list[dict[str, Any]]:
    """The optional "about you" questions as the form lists them (ethnic group in its
    5 census groups)."""
    questions: list[dict[str, Any]] = []
    for characteristic in Characteristic:
        if characteristic is Characteristic.ETHNIC_GROUP:
            groups = [
                (label, [(c, name) for c, (g, name) in ETHNIC_CATEGORIES.items() if g == group])
                for group, label in ETHNIC_GROUPS.items()
            ]
        else:
            groups = [("", list(ANSWERS[characteristic].items()))]
        questions.append(
            {
                "name": f"about_{characteristic.value}",
                "key": characteristic.value,
                "label": ABOUT_YOU_QUESTIONS[characteristic],
                "groups": groups,
            }
        )
    return questions


ABOUT_YOU_QUESTIONS = {
    Characteristic.AGE_BAND: N_("Your age"),
    Characteristic.SEX: N_("Your sex"),
    Characteristic.ETHNIC_GROUP: N_("Your ethnic group"),
    Characteristic.DISABILITY: N_("Are you disabled under the Equality Act?"),
}


async def _organisations(request: Request) -> list[Organisation]:
    """The directory for the share page's picker, in the order of the names the page
    shows (a Welsh page lists "Bwrdd Iechyd Prifysgol ..." where the Welsh name is)."""
    language = request_language(request)
    return sorted(
        (
            dataclasses.replace(
                organisation,
                services=tuple(
                    sorted(organisation.services, key=lambda s: s.name_in(language).casefold())
                ),
            )
            for organisation in await handlers.organisations(_uow(request))
        ),
        key=lambda o: (o.name_in(language).casefold(), o.id),
    )


def _share_context(
    organisations: list[Organisation], values: Mapping[str, Any], errors: Mapping[str, str]
) -> dict[str, Any]:
    return {
        # A form shown again after an error keeps its key: that attempt sent nothing.
        "submission_key": values.get(SUBMISSION_FIELD) or secrets.token_urlsafe(24),
        "organisations": organisations,
        "values": values,
        "errors": errors,
        "relationships": RELATIONSHIP_LABELS,
        "tag_choices": TAG_CHOICES,
        "tag_legends": TAG_LEGENDS,
        "max_words": MAX_WORDS,
        "about_you": about_you_questions(),
        "suggested_names": SUGGESTED_NAMES,
    }


@router.get("/share/enhance.js")
async def share_script() -> Response:
    return Response(
        SHARE_SCRIPT.read_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/share/private-link.js")
async def private_link_script() -> Response:
    return Response(
        PRIVATE_LINK_SCRIPT.read_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/", response_class=HTMLResponse)
async def home() -> Response:
    """The front door of story-intake is the share page."""
    return RedirectResponse("/share", status_code=303)


@router.get("/share", response_class=HTMLResponse)
async def share_form(request: Request) -> HTMLResponse:
    # A story's language starts as the page's: a Welsh page offers Welsh first.
    empty: dict[str, Any] = {
        "tags": {kind: [] for kind in TAG_CHOICES},
        "language": request_language(request),
    }
    return _render(request, "share.html", _share_context(await _organisations(request), empty, {}))


# Where each part of StoryIn is shown on the form, and what to say when it is wrong.
_FIELD_FOR_LOC: dict[tuple[str, ...], str] = {
    ("title",): "title",
    ("body",): "body",
    ("organisation_id",): "place",
    ("service_id",): "place",
    ("author", "display_name"): "display_name",
    ("author", "relationship"): "relationship",
    ("author", "email"): "email",
    ("experienced_at",): "experienced_at",
    ("language",): "language",
    **{("about_you", c.value): f"about_{c.value}" for c in Characteristic},
}
_MISSING_MESSAGES = {
    "title": N_("Enter a title for your story"),
    "body": N_("Tell us your story"),
    "place": N_("Choose the organisation or service your story is about"),
    "relationship": N_("Choose how you are related to the care"),
}


def _friendly(field: str, error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind == "unknown_category":
        return N_("Choose one of the listed answers, or leave it blank")
    if kind in {"missing", "string_too_short"} and field in _MISSING_MESSAGES:
        return _MISSING_MESSAGES[field]
    if kind == "string_too_long":
        limit = (error.get("ctx") or {}).get("max_length")
        return Filled(N_("This must be {limit} characters or fewer"), limit=limit)
    if field == "body" and "words" in str(error.get("msg", "")):
        return Filled(N_("Your story must be {limit} words or fewer"), limit=f"{MAX_WORDS:,}")
    if field == "email":
        return N_("Enter an email address like name@example.org")
    if field == "relationship":
        return _MISSING_MESSAGES["relationship"]
    if field == "experienced_at":
        return N_("Enter a month within the last 3 years, like 2025-03")
    if field == "language":
        return N_("Choose the language your story is in")
    return str(error.get("msg", "This is not valid")).removeprefix("Value error, ")


def _field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        field = _FIELD_FOR_LOC.get(loc) or _FIELD_FOR_LOC.get(loc[:2]) or loc[0]
        errors.setdefault(field, _friendly(field, error))
    return errors


def _read_share_form(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The form as entered (to re-show it) and the errors pydantic cannot see."""
    place = pages.form_text(form, "place")
    organisation_id, _, service_id = place.partition("|")
    values: dict[str, Any] = {
        "place": place,
        "organisation_id": organisation_id,
        "service_id": service_id or None,
        "title": pages.form_text(form, "title"),
        "body": pages.form_text(form, "body"),
        "display_name": pages.form_text(form, "display_name"),
        "relationship": pages.form_text(form, "relationship"),
        "email": pages.form_text(form, "email"),
        "notify_on_response": pages.form_text(form, "notify_on_response") == "yes",
        "experienced_at": pages.form_text(form, "experienced_at"),
        "language": pages.form_text(form, "language"),
        "tags": {kind: _texts(form, f"tags_{kind}") for kind in TAG_CHOICES},
        "about_you": {c.value: pages.form_text(form, f"about_{c.value}") for c in Characteristic},
        SUBMISSION_FIELD: pages.form_text(form, SUBMISSION_FIELD)[:200],
    }
    errors: dict[str, str] = {}
    for kind, chosen in values["tags"].items():
        if any(tag not in TAG_CHOICES[kind] for tag in chosen):
            errors[f"tags_{kind}"] = N_("Choose from the listed options")
    if values["notify_on_response"] and not values["email"]:
        errors["email"] = N_("Enter your email address so we can tell you when they respond")
    return values, errors


def refuse_operator_fields(form: FormData) -> None:
    """The form has no such fields: a request that sends them was made by hand."""
    if refused := [name for name in OPERATOR_ONLY_FIELDS if name in form]:
        raise ProblemError(
            422,
            "Operator-only fields cannot be set from the share page.",
            errors=[
                FieldError(
                    field=f"form.{name}",
                    message=f"{name} is set only by operators (`candour import feedback`)",
                    type="operator_only",
                )
                for name in refused
            ],
        )


def _story_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """The form's story (all but its author) as the API's body has it."""
    return {
        "title": values["title"],
        "body": values["body"],
        "organisation_id": values["organisation_id"],
        "service_id": values["service_id"],
        "tags": values["tags"],
        "experienced_at": values["experienced_at"] or None,
        "about_you": {k: v for k, v in values["about_you"].items() if v} or None,
        # The form always sends one (the page's language is chosen at first); without
        # one, the API's default.
        **({"language": values["language"]} if values.get("language") else {}),
    }


def validated_story(
    values: Mapping[str, Any], errors: Mapping[str, str]
) -> tuple[StoryIn | None, dict[str, str]]:
    """The share form as the API's body (the same rules), and every error on the form."""
    try:
        story = StoryIn.model_validate(
            {
                **_story_fields(values),
                "author": {
                    # No name is fine: the story is shown as "Anonymous".
                    "display_name": values["display_name"] or None,
                    "relationship": values["relationship"] or None,
                    "email": values["email"] or None,
                    "notify_on_response": values["notify_on_response"],
                },
            }
        )
    except ValidationError as exc:
        return None, {**_field_errors(exc), **errors}
    return story, dict(errors)


def validated_edit(
    values: Mapping[str, Any], errors: Mapping[str, str]
) -> tuple[StoryEditIn | None, dict[str, str]]:
    """The edit form as `PUT /v1/stories/{id}`'s body (the same rules), and its errors."""
    try:
        story = StoryEditIn.model_validate(_story_fields(values))
    except ValidationError as exc:
        return None, {**_field_errors(exc), **errors}
    return story, dict(errors)


def too_many_stories(request: Request, wait: float) -> HTMLResponse:
    """The page for a client past the submission rate limit (sending or editing)."""
    response = _message(
        request,
        N_("Too many stories at once"),
        N_(
            "We have had a lot of stories from your connection in a short time. "
            "Please wait a few minutes and send your story again."
        ),
        status_code=429,
    )
    response.headers.update(retry_after_header(wait))
    return response


@router.post("/share", response_class=HTMLResponse)
async def share_submit(request: Request) -> Response:
    form = await pages.checked_form(request)
    if (wait := await submission.seconds_to_wait(request)) is not None:
        return too_many_stories(request, wait)

    refuse_operator_fields(form)
    values, errors = _read_share_form(form)
    story, errors = validated_story(values, errors)
    if story is not None and not errors:
        key = values[SUBMISSION_FIELD] or secrets.token_urlsafe(24)
        keyed = KeyedRequest(
            key=key,
            scope=SHARE_SCOPE,
            fingerprint=_form_fingerprint(form, "/share"),
            ttl=idempotency_ttl(request),
        )

        def answer(created: Story, token: str) -> dict[str, Any]:
            author = created.author
            return {
                "story_id": str(created.id),
                "token": token,
                "email_on_response": bool(author.email and author.notify_on_response),
            }

        try:
            # A form sent again (a refresh, a double click) finds its first answer.
            await submission.submit(request, story, keyed, answer)
        except (UnknownOrganisation, UnknownService):
            errors["place"] = N_("Choose an organisation or service from the list")
        except KeyReusedWithDifferentRequest:
            return _message(
                request,
                N_("This form has already been sent"),
                N_(
                    "Your story was sent the first time. To send another story, "
                    "open Share your story again."
                ),
                status_code=409,
            )
        except AnswerWithdrawn:
            return _message(
                request,
                N_("This story was withdrawn"),
                N_(
                    "The story this form sent has since been withdrawn. To send a story "
                    "again, open Share your story again."
                ),
                status_code=410,
            )
        else:
            sent = RedirectResponse("/share/sent", status_code=303)
            sent.set_cookie(
                SUBMISSION_COOKIE,
                key,
                max_age=SUBMISSION_COOKIE_SECONDS,
                path="/share",
                httponly=True,
                samesite="strict",
                secure=pages.secure_cookies(request),
            )
            return sent
    context = _share_context(await _organisations(request), values, errors)
    return _render(request, "share.html", context, status_code=422)


def _form_fingerprint(form: FormData, path: str) -> bytes:
    """The form as sent, less the CSRF token: the same form sent twice matches."""
    fields = sorted(
        (name, value)
        for name, value in form.multi_items()
        if name != pages.CSRF_FIELD and isinstance(value, str)
    )
    return request_fingerprint("POST", path, repr(fields).encode())


@router.get("/share/sent", response_class=HTMLResponse)
async def share_sent(request: Request) -> HTMLResponse:
    """The confirmation: what happens next, the story reference and the private code.

    Reloading it shows the same story again; it never sends anything."""
    key = request.cookies.get(SUBMISSION_COOKIE, "")
    answer: StoredAnswer | None = None
    state: StoryState | None = None
    if key:
        try:
            answer = await replay(_uow(request), key=key, scope=SHARE_SCOPE)
        except AnswerWithdrawn:
            answer = None
        if answer is not None:
            try:
                state = await handlers.story_state(
                    _uow(request), uuid.UUID(answer.body["story_id"])
                )
            except StoryNotFound:
                state = None
    if answer is None or state is None:
        response = _message(
            request,
            N_("This page has expired"),
            N_(
                "Your story reference and private code were shown once, after you sent your "
                "story. If you kept them, you can follow your story with them."
            ),
            status_code=404,
        )
        response.headers.update(PRIVATE_HEADERS)
        return response
    story_id, token = answer.body["story_id"], answer.body["token"]
    links: dict[str, str] = _templates(request).env.globals["links"]  # type: ignore[assignment]
    return _render(
        request,
        "share_done.html",
        {
            "story_id": story_id,
            "token": token,
            "state": state,
            "email_on_response": answer.body.get("email_on_response", False),
            # The code rides in the fragment: browsers never send it to a server, so it
            # reaches no log and no referrer; the follow page reads it from there.
            "follow_link": f"{links['intake']}/follow#story={story_id}&code={token}",
        },
        headers=PRIVATE_HEADERS,
    )


# ---------------------------------------------------------------- follow or withdraw


async def _authored(request: Request, story: str, token: str) -> StoryState | None:
    """The story if `token` is its author token; None for any unknown or wrong link."""
    try:
        story_id = uuid.UUID(story)
    except ValueError:
        return None
    if not token:
        return None
    try:
        return await handlers.authored_story(_uow(request), story_id, token)
    except (StoryNotFound, NotTheAuthor):
        return None


def _link_not_recognised(request: Request) -> HTMLResponse:
    response = _message(
        request,
        N_("We could not find your story"),
        N_(
            "The story reference or the private code is not right. Copy both exactly as "
            "you were given them when you shared your story and try again."
        ),
        status_code=404,
    )
    response.headers.update(PRIVATE_HEADERS)
    return response


def _follow_page(
    request: Request, state: StoryState, token: str, *, sent_again: bool = False
) -> HTMLResponse:
    """The author's page; `sent_again` when they have just sent an edit of it."""
    reason = REJECTION_EXPLANATIONS.get(state.rejection_reason) if state.rejection_reason else None
    return _render(
        request,
        "follow.html",
        {
            "state": state,
            "token": token,
            "rejection_explanation": reason,
            "sent_again": sent_again,
        },
        headers=PRIVATE_HEADERS,
    )


@router.get("/follow", response_class=HTMLResponse, name="follow")
async def follow_lookup(request: Request, story: str = "", token: str = "") -> HTMLResponse:
    """The form that asks for the story reference and private code.

    A private code in the query string (links of earlier versions) is never used:
    the form asks for it again, so it goes in a request body from now on.
    """
    context = {"story": story if _is_uuid(story) else "", "code_in_link": bool(token)}
    return _render(request, "follow_lookup.html", context, headers=PRIVATE_HEADERS)


async def _posted_story(request: Request) -> tuple[FormData, StoryState | None, str]:
    """The checked form, the story its reference and private code open (None for any
    wrong pair), and the code: only ever read from a POST body."""
    form = await pages.checked_form(request)
    story, token = pages.form_text(form, "story"), pages.form_text(form, "token")
    return form, await _authored(request, story, token), token


@router.post("/follow", response_class=HTMLResponse)
async def follow(request: Request) -> HTMLResponse:
    _, state, token = await _posted_story(request)
    if state is None:
        return _link_not_recognised(request)
    return _follow_page(request, state, token)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@router.post("/follow/withdraw", response_class=HTMLResponse)
async def withdraw(request: Request) -> Response:
    form, state, token = await _posted_story(request)
    if state is None:
        return _link_not_recognised(request)
    if state.status is StoryStatus.WITHDRAWN:
        return _follow_page(request, state, token)
    if pages.form_text(form, "confirmed") != "yes":
        return _render(
            request,
            "withdraw_confirm.html",
            {"state": state, "token": token},
            headers=PRIVATE_HEADERS,
        )
    await handlers.withdraw_story(_uow(request), state.id, token)
    return _follow_page(request, dataclasses.replace(state, status=StoryStatus.WITHDRAWN), token)


# ---------------------------------------------------------------- staff responses


def _signed_in_staff(request: Request) -> Principal | None:
    return pages.signed_in_principal(request, STAFF)


RESPOND = StaffArea(
    home="/respond",
    roles=STAFF,
    words=SIGN_IN_WORDS,
    template="sign_in.html",
    templates=_templates,
)
router.include_router(staff_sign_in_router(RESPOND))


def _staff_or_sign_in(request: Request, target: str) -> Principal | Response:
    staff = _signed_in_staff(request)
    if staff is None or staff.organisation_id is None:
        return pages.see_other(request, RESPOND.sign_in_url(after=target))
    return staff


ANSWERED_CHOICES = {"": N_("All stories"), "no": N_("Not yet answered"), "yes": N_("Answered")}


def _inbox_query(
    organisation_id: str, service: str, criticality: str, answered: str, page: str
) -> tuple[InboxQuery, dict[str, str]]:
    """The inbox filters as asked for, and an error for each one that makes no sense."""
    errors: dict[str, str] = {}
    min_criticality: int | None = None
    if criticality:
        if criticality.isdigit() and 0 <= int(criticality) <= 5:
            min_criticality = int(criticality)
        else:
            errors["criticality"] = N_("Choose a criticality from the list")
    if answered not in ANSWERED_CHOICES:
        errors["answered"] = N_("Choose answered, not yet answered or all stories")
    page_number = int(page) if page.isdigit() and int(page) >= 1 else 1
    query = InboxQuery(
        organisation_id=organisation_id,
        service_id=service or None,
        min_criticality=min_criticality,
        answered=None if answered not in {"yes", "no"} else answered == "yes",
        page=page_number,
        page_size=INBOX_PAGE_SIZE,
    )
    return query, errors


INBOX_PAGE_SIZE = 20


@router.get("/respond", response_class=HTMLResponse)
async def respond_home(
    request: Request,
    posted: str = "",
    story: str = "",
    service: str = "",
    criticality: str = "",
    answered: str = "",
    page: str = "1",
) -> Response:
    """The organisation's inbox: its published stories, those not yet answered first."""
    staff = _staff_or_sign_in(request, "/respond")
    if isinstance(staff, Response):
        return staff
    assert staff.organisation_id is not None
    if story and _is_uuid(story):  # links of earlier versions: ?story=<id>
        return RedirectResponse(f"/respond/{uuid.UUID(story)}", status_code=303)
    query, errors = _inbox_query(staff.organisation_id, service, criticality, answered, page)
    if story:
        errors["story"] = N_("Enter a story reference like 1b2c3d4e-…")
    organisation = await handlers.organisation(_uow(request), staff.organisation_id)
    found = await handlers.inbox(_uow(request), query) if not errors else None
    services = organisation.services if organisation else ()
    if service and not any(s.id == service for s in services):
        errors["service"] = N_("Choose one of your organisation's services")
        found = None
    values = {"service": service, "criticality": criticality, "answered": answered}
    filters = {k: v for k, v in values.items() if v}
    return _render(
        request,
        "respond_home.html",
        {
            "staff": staff,
            "organisation": organisation,
            "services": services,
            "inbox": found,
            "values": values,
            "filters": filters,
            "errors": errors,
            "answered_choices": ANSWERED_CHOICES,
            "criticality_labels": CRITICALITY_LABELS,
            "posted": posted if _is_uuid(posted) else "",
        },
        status_code=422 if errors else 200,
    )


def _staff_message(request: Request, exc: DomainError, staff: Principal) -> HTMLResponse:
    """What a staff member is told when a story or response cannot be acted on."""
    if isinstance(exc, StoryNotFound):
        return _message(
            request,
            N_("Story not found"),
            N_("There is no story with this reference."),
            status_code=404,
            staff=staff,
        )
    if isinstance(exc, WrongOrganisation):
        return _message(
            request,
            N_("Not your organisation's story"),
            N_("You can respond only to stories about your own organisation."),
            status_code=403,
            staff=staff,
        )
    if isinstance(exc, StoryNotOpenForResponses):
        return _not_open(request, exc.status, staff)
    if isinstance(exc, ResponseNotFound | ResponseDeleted):
        return _message(
            request,
            N_("Response not found"),
            N_("This response does not exist or has been deleted."),
            status_code=404,
            staff=staff,
        )
    if isinstance(exc, NotYourResponse):
        return _message(
            request,
            N_("Not your response"),
            N_("Only the person who posted a response can change or delete it."),
            status_code=403,
            staff=staff,
        )
    if isinstance(exc, EditWindowClosed):
        return _message(
            request,
            N_("This response can no longer be changed"),
            Filled(
                N_(
                    "A response can be changed or deleted for {duration} after it is posted, "
                    "and that time has passed. If something in it must change, contact the "
                    "moderators."
                ),
                duration=_minutes(edit_window(request)),
            ),
            status_code=409,
            staff=staff,
        )
    return _message(request, N_("Something is not right"), str(exc), status_code=422, staff=staff)


def _minutes(window: timedelta) -> Filled:
    """ "30 minutes" ("30 munud" on a Welsh page)."""
    minutes = round(window.total_seconds() / 60)
    if minutes == 1:
        return Filled(N_("{count} minute"), count=minutes)
    return Filled(N_("{count} minutes"), count=f"{minutes:,}")


def _not_open(request: Request, status: StoryStatus, staff: Principal) -> HTMLResponse:
    explanation = {
        StoryStatus.SUBMITTED: N_(
            "It is still being checked by a moderator. You can respond once it is published."
        ),
        StoryStatus.REJECTED: N_("It was not published, so it cannot be answered in public."),
        StoryStatus.WITHDRAWN: N_("Its author withdrew it, so it can no longer be answered."),
    }.get(status, N_("It cannot take responses now."))
    return _message(
        request, N_("This story cannot take a response"), explanation, status_code=409, staff=staff
    )


async def _story_to_answer(
    request: Request, story_id: uuid.UUID, staff: Principal
) -> handlers.StoryToAnswer | HTMLResponse:
    assert staff.organisation_id is not None
    try:
        return await handlers.story_to_answer(_uow(request), story_id, staff.organisation_id)
    except DomainError as exc:
        return _staff_message(request, exc, staff)


def _respond_context(
    request: Request,
    staff: Principal,
    found: handlers.StoryToAnswer,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    **extra: Any,
) -> dict[str, Any]:
    window = edit_window(request)
    now = datetime.now(UTC)
    return {
        "staff": staff,
        "story": found.story,
        "responses": found.responses,
        "editable": {r.id for r in found.responses if r.editable_by(staff.subject, now, window)},
        "edit_window": window,
        "values": values,
        "errors": errors,
        "change_labels": CHANGE_LABELS,
        "criticality_labels": CRITICALITY_LABELS,
        "max_words": MAX_WORDS,
        # A form shown again (an error, the preview, going back) keeps its key.
        "response_key": values.get(RESPONSE_FIELD) or secrets.token_urlsafe(24),
        **extra,
    }


@router.get("/stories/{story_id}/respond")
async def respond_form_moved(story_id: uuid.UUID) -> Response:
    """Where the response form was before the inbox: links in older emails still work."""
    return RedirectResponse(f"/respond/{story_id}", status_code=308)


@router.post("/stories/{story_id}/respond")
async def respond_submit_moved(story_id: uuid.UUID) -> Response:
    return RedirectResponse(f"/respond/{story_id}", status_code=308)


@router.get("/respond/{story_id}", response_class=HTMLResponse)
async def respond_form(request: Request, story_id: uuid.UUID, posted: str = "") -> Response:
    """The story as published, its earlier responses, and the response form."""
    staff = _staff_or_sign_in(request, f"/respond/{story_id}")
    if isinstance(staff, Response):
        return staff
    found = await _story_to_answer(request, story_id, staff)
    if isinstance(found, HTMLResponse):
        return found
    context = _respond_context(
        request, staff, found, {"change": ""}, {}, done=DONE_MESSAGES.get(posted)
    )
    return _render(request, "respond.html", context)


DONE_MESSAGES = {
    "posted": N_("Your response has been published."),
    "edited": N_("Your response has been changed."),
    "deleted": N_("Your response has been deleted."),
}

_RESPONSE_FIELDS = {
    ("body",): "body",
    ("responder", "display_name"): "responder_name",
    ("responder", "role"): "responder_role",
    ("change",): "change",
}
_RESPONSE_MISSING = {
    "body": N_("Write your response"),
    "responder_name": N_("Enter your name as it should be shown"),
    "responder_role": N_("Enter your role, for example Ward manager"),
    "change": N_("Choose whether a change is planned or made"),
}


def _read_response_form(form: FormData) -> tuple[dict[str, str], ResponseIn | None, dict[str, str]]:
    """The response as typed, the checked answer (None when wrong), and what is wrong."""
    values = {
        "body": pages.form_text(form, "body"),
        "responder_name": pages.form_text(form, "responder_name"),
        "responder_role": pages.form_text(form, "responder_role"),
        "change": pages.form_text(form, "change"),
        RESPONSE_FIELD: pages.form_text(form, RESPONSE_FIELD),
    }
    try:
        answer = ResponseIn.model_validate(
            {
                "body": values["body"],
                "responder": {
                    "display_name": values["responder_name"],
                    "role": values["responder_role"],
                },
                "change": values["change"] or None,
            }
        )
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = tuple(str(part) for part in error["loc"])
            field = _RESPONSE_FIELDS.get(loc[:2]) or _RESPONSE_FIELDS.get(loc[:1]) or loc[0]
            kind = error.get("type", "")
            message: str
            if kind in {"missing", "string_too_short", "enum"}:
                message = _RESPONSE_MISSING.get(field, N_("This is not valid"))
            elif field == "body" and "words" in str(error.get("msg", "")):
                message = Filled(
                    N_("Your response must be {limit} words or fewer"), limit=f"{MAX_WORDS:,}"
                )
            elif kind == "string_too_long":
                message = Filled(
                    N_("This must be {limit} characters or fewer"),
                    limit=(error.get("ctx") or {}).get("max_length"),
                )
            else:
                message = N_("This is not valid")
            errors.setdefault(field, message)
        return values, None, errors
    return values, answer, {}


def _responder(answer: ResponseIn) -> Responder:
    return Responder(display_name=answer.responder.display_name, role=answer.responder.role)


@router.post("/respond/{story_id}", response_class=HTMLResponse)
async def respond_submit(request: Request, story_id: uuid.UUID) -> Response:
    """Preview first (action=preview), then publish (action=publish) or go back to change
    it (action=change). Each step is a plain form post: no JavaScript needed."""
    form = await pages.checked_form(request)
    staff = _staff_or_sign_in(request, f"/respond/{story_id}")
    if isinstance(staff, Response):
        return staff
    assert staff.organisation_id is not None
    found = await _story_to_answer(request, story_id, staff)
    if isinstance(found, HTMLResponse):
        return found
    values, answer, errors = _read_response_form(form)
    action = pages.form_text(form, "action")
    if errors or answer is None or action == "change":
        context = _respond_context(request, staff, found, values, errors)
        return _render(request, "respond.html", context, status_code=422 if errors else 200)
    if action != "publish":  # the form's own button, or anything else: show the preview
        context = _respond_context(
            request, staff, found, values, {}, action_url=f"/respond/{story_id}", editing=None
        )
        return _render(request, "respond_preview.html", context)
    command = PostResponse(
        story_id=story_id,
        organisation_id=staff.organisation_id,
        responder_subject=staff.subject,
        responder=_responder(answer),
        body=answer.body,
        change=answer.change,
    )
    path = f"/respond/{story_id}"

    async def post(uow: IntakeUnitOfWork) -> uuid.UUID:
        return await handlers.post_response(uow, command)

    sent = await _publish_once(request, staff, form, values, story_id, path, post)
    if sent is not None:
        return sent
    return RedirectResponse(f"{path}?posted=posted#responses", status_code=303)


async def _publish_once(
    request: Request,
    staff: Principal,
    form: FormData,
    values: Mapping[str, str],
    story_id: uuid.UUID,
    path: str,
    publish: Callable[[IntakeUnitOfWork], Awaitable[uuid.UUID]],
) -> HTMLResponse | None:
    """Run `publish` unless this form's key has run it already; None when the response
    is (or was already) published, else the page that says why not."""
    keyed = KeyedRequest(
        key=values[RESPONSE_FIELD] or secrets.token_urlsafe(24),
        scope=f"POST {path}",
        fingerprint=_form_fingerprint(form, path),
        ttl=idempotency_ttl(request),
    )
    uow = _uow(request)

    async def work() -> tuple[StoredAnswer, uuid.UUID]:
        response_id = await publish(uow)
        return StoredAnswer(303, {"response_id": str(response_id)}), story_id

    try:
        await answer_once(uow, keyed, work)
    except DomainError as exc:
        return _staff_message(request, exc, staff)
    except KeyReusedWithDifferentRequest:
        return _message(
            request,
            N_("This form has already been published"),
            N_(
                "Your response was published the first time this form was sent. To write "
                "another response, open the story again."
            ),
            status_code=409,
            staff=staff,
        )
    except AnswerWithdrawn:
        return _staff_message(request, StoryNotOpenForResponses(StoryStatus.WITHDRAWN), staff)
    return None


async def _own_response(
    request: Request, story_id: uuid.UUID, response_id: uuid.UUID, staff: Principal
) -> tuple[handlers.StoryToAnswer, StaffResponse] | HTMLResponse:
    """The story and the staff member's own response while they may still change it."""
    found = await _story_to_answer(request, story_id, staff)
    if isinstance(found, HTMLResponse):
        return found
    response = next((r for r in found.responses if r.id == response_id), None)
    if response is None:
        return _staff_message(request, ResponseNotFound(response_id), staff)
    if response.responder_subject != staff.subject:
        return _staff_message(request, NotYourResponse(), staff)
    window = edit_window(request)
    if not response.editable_by(staff.subject, datetime.now(UTC), window):
        return _staff_message(request, EditWindowClosed(response.editable_until(window)), staff)
    return found, response


@router.get("/respond/{story_id}/responses/{response_id}/edit", response_class=HTMLResponse)
async def edit_form(request: Request, story_id: uuid.UUID, response_id: uuid.UUID) -> Response:
    staff = _staff_or_sign_in(request, f"/respond/{story_id}")
    if isinstance(staff, Response):
        return staff
    own = await _own_response(request, story_id, response_id, staff)
    if isinstance(own, HTMLResponse):
        return own
    found, response = own
    values = {
        "body": response.body,
        "responder_name": response.responder.display_name,
        "responder_role": response.responder.role,
        "change": response.change.value if response.change else "",
    }
    context = _respond_context(request, staff, found, values, {}, editing=response)
    return _render(request, "respond.html", context)


@router.post("/respond/{story_id}/responses/{response_id}/edit", response_class=HTMLResponse)
async def edit_submit(request: Request, story_id: uuid.UUID, response_id: uuid.UUID) -> Response:
    form = await pages.checked_form(request)
    staff = _staff_or_sign_in(request, f"/respond/{story_id}")
    if isinstance(staff, Response):
        return staff
    assert staff.organisation_id is not None
    own = await _own_response(request, story_id, response_id, staff)
    if isinstance(own, HTMLResponse):
        return own
    found, response = own
    values, answer, errors = _read_response_form(form)
    action = pages.form_text(form, "action")
    if errors or answer is None or action == "change":
        context = _respond_context(request, staff, found, values, errors, editing=response)
        return _render(request, "respond.html", context, status_code=422 if errors else 200)
    if action != "publish":
        context = _respond_context(
            request,
            staff,
            found,
            values,
            {},
            action_url=f"/respond/{story_id}/responses/{response_id}/edit",
            editing=response,
        )
        return _render(request, "respond_preview.html", context)
    command = EditResponse(
        story_id=story_id,
        response_id=response_id,
        organisation_id=staff.organisation_id,
        responder_subject=staff.subject,
        responder=_responder(answer),
        body=answer.body,
        change=answer.change,
    )
    window = edit_window(request)

    async def edit(uow: IntakeUnitOfWork) -> uuid.UUID:
        return (await handlers.change_response(uow, command, window=window)).id

    path = f"/respond/{story_id}/responses/{response_id}/edit"
    sent = await _publish_once(request, staff, form, values, story_id, path, edit)
    if sent is not None:
        return sent
    return RedirectResponse(f"/respond/{story_id}?posted=edited#responses", status_code=303)


@router.get("/respond/{story_id}/responses/{response_id}/delete", response_class=HTMLResponse)
async def delete_confirm(request: Request, story_id: uuid.UUID, response_id: uuid.UUID) -> Response:
    staff = _staff_or_sign_in(request, f"/respond/{story_id}")
    if isinstance(staff, Response):
        return staff
    own = await _own_response(request, story_id, response_id, staff)
    if isinstance(own, HTMLResponse):
        return own
    found, response = own
    context = _respond_context(request, staff, found, {}, {}, response=response)
    return _render(request, "response_delete.html", context)


@router.post("/respond/{story_id}/responses/{response_id}/delete", response_class=HTMLResponse)
async def delete_submit(request: Request, story_id: uuid.UUID, response_id: uuid.UUID) -> Response:
    await pages.checked_form(request)
    staff = _staff_or_sign_in(request, f"/respond/{story_id}")
    if isinstance(staff, Response):
        return staff
    assert staff.organisation_id is not None
    command = DeleteResponse(
        story_id=story_id,
        response_id=response_id,
        organisation_id=staff.organisation_id,
        responder_subject=staff.subject,
    )
    try:
        await handlers.change_response(_uow(request), command, window=edit_window(request))
    except DomainError as exc:
        return _staff_message(request, exc, staff)
    return RedirectResponse(f"/respond/{story_id}?posted=deleted#responses", status_code=303)
