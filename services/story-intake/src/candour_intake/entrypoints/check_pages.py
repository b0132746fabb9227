"""The share page's "Check my story" step: a server round trip, so it works without
JavaScript (share.js makes "Remove it" instant where it can).

`POST /share/check` takes the whole share form, screens the title and the story as
moderation will (the same use case as `POST /v1/stories/check`) and shows the form
again with each identifying detail marked and a "Remove it" button per detail; a
"Remove it" posts the form back here with the detail named, and the suggested
replacement is put in. Nothing is stored: the story is sent with "Send my story" as
before. Where to get help now comes first when screening matched something.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData
from starlette.responses import Response

from candour_common.http.limits import retry_after_header
from candour_common.translatable import N_
from candour_common.web import pages as web_pages
from candour_intake.domain import Organisation, UnknownOrganisation, UnknownService
from candour_intake.entrypoints import pages, submission
from candour_intake.service_layer.check import CHECKED_FIELDS, CheckStory, StoryCheck, check_story
from candour_screening import Redaction, apply_redactions

router = APIRouter(include_in_schema=False)

# The button that removes one detail sends "field:start:end"; this one removes them all.
REMOVE_FIELD = "remove"
REMOVE_ALL = "all"

# What each kind of detail is, in the author's words.
KIND_LABELS = {
    "email": N_("an email address"),
    "nhs_number": N_("an NHS number"),
    "hospital_number": N_("a hospital number"),
    "phone": N_("a phone number"),
    "postcode": N_("a postcode"),
    "address": N_("an address"),
    "social_handle": N_("a social media name"),
    "author_name": N_("your name"),
    "person_name": N_("a name"),
    "date": N_("a date"),
    "time": N_("a time"),
}
FIELD_LABELS = {"title": N_("Title"), "body": N_("Your story")}


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of the author's text; `detail` is the number of the detail it is, if any."""

    text: str
    detail: int | None = None


@dataclass(frozen=True, slots=True)
class Detail:
    number: int
    redaction: Redaction
    label: str

    @property
    def button_value(self) -> str:
        r = self.redaction
        return f"{r.field}:{r.start}:{r.end}"


def marked(text: str, details: list[Detail]) -> list[Piece]:
    """`text` cut into plain runs and the details in it (in order, never overlapping)."""
    pieces: list[Piece] = []
    position = 0
    for detail in sorted(details, key=lambda d: d.redaction.start):
        r = detail.redaction
        if r.start < position or text[r.start : r.end] != r.text:
            continue  # screening never overlaps them; a stale detail is not shown
        if r.start > position:
            pieces.append(Piece(text[position : r.start]))
        pieces.append(Piece(r.text, detail.number))
        position = r.end
    if position < len(text):
        pieces.append(Piece(text[position:]))
    return pieces


def check_view(values: dict[str, Any], checked: StoryCheck) -> dict[str, Any]:
    """What `_check.html` shows: the level, the details and each field's marked text."""
    details = [
        Detail(number=n, redaction=r, label=KIND_LABELS.get(r.kind.value, N_("a detail")))
        for n, r in enumerate(checked.redactions, start=1)
    ]
    return {
        "level": checked.level.value,
        "support": checked.support,
        "details": details,
        "fields": [
            {
                "name": field,
                "label": FIELD_LABELS[field],
                "pieces": marked(values[field], [d for d in details if d.redaction.field == field]),
            }
            for field in CHECKED_FIELDS
            if values[field]
        ],
    }


def removed(values: dict[str, Any], checked: StoryCheck, choice: str) -> bool:
    """Put the replacement in for the detail `choice` names (or every detail); False when
    the text has changed since and no detail is there any more."""
    chosen = [
        r
        for r in checked.redactions
        if choice == REMOVE_ALL or f"{r.field}:{r.start}:{r.end}" == choice
    ]
    for field in CHECKED_FIELDS:
        in_field = [r for r in chosen if r.field == field]
        if in_field:
            values[field] = apply_redactions(values[field], in_field)
    return bool(chosen)


async def _check(
    request: Request, values: dict[str, Any], organisations: list[Organisation]
) -> StoryCheck:
    async def find(organisation_id: str) -> Organisation | None:
        # The directory the form lists (read once per request for the page anyway).
        return next((o for o in organisations if o.id == organisation_id), None)

    return await check_story(
        CheckStory(
            title=values["title"],
            body=values["body"],
            organisation_id=values["organisation_id"],
            service_id=values["service_id"],
            author_name=values["display_name"] or None,
        ),
        screener=request.app.state.safeguarding,
        find_organisation=find,
    )


def read_story_form(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    values, errors = pages._read_share_form(form)
    # Browsers send a textarea's line breaks as CRLF but count them as one character in
    # the page: offsets must match the text as the page holds it.
    for field in CHECKED_FIELDS:
        values[field] = values[field].replace("\r\n", "\n")
    return values, errors


@router.post("/share/check", response_class=HTMLResponse)
async def share_check(request: Request) -> Response:
    form = await web_pages.checked_form(request)
    if (wait := await submission.seconds_to_wait(request)) is not None:
        response = pages._message(
            request,
            N_("Too many stories at once"),
            N_(
                "We have had a lot of stories from your connection in a short time. "
                "Please wait a few minutes and check your story again."
            ),
            status_code=429,
        )
        response.headers.update(retry_after_header(wait))
        return response
    pages.refuse_operator_fields(form)
    values, errors = read_story_form(form)
    story, errors = pages.validated_story(values, errors)
    organisations = await pages._organisations(request)
    if story is None or errors:
        context = pages._share_context(organisations, values, errors)
        return pages._render(request, "share.html", context, status_code=422)
    try:
        check = await checked_view(request, form, values, organisations)
    except (UnknownOrganisation, UnknownService):
        errors = {"place": N_("Choose an organisation or service from the list")}
        context = pages._share_context(organisations, values, errors)
        return pages._render(request, "share.html", context, status_code=422)
    context = pages._share_context(organisations, values, {})
    context["check"] = check
    return pages._render(request, "share.html", context)


async def checked_view(
    request: Request, form: FormData, values: dict[str, Any], organisations: list[Organisation]
) -> dict[str, Any]:
    """The check step of a story form (the share page's, the edit page's): the detail a
    "Remove it" names taken out of `values` first, then what `_check.html` shows. Raises
    UnknownOrganisation or UnknownService for a place the directory does not have."""
    checked = await _check(request, values, organisations)
    choice = web_pages.form_text(form, REMOVE_FIELD)
    notice = None
    if choice and removed(values, checked, choice):
        notice = N_("We took every detail out.") if choice == REMOVE_ALL else N_("We took it out.")
        checked = await _check(request, values, organisations)
    elif choice:
        notice = N_("Your story had changed since it was checked, so we checked it again.")
    return {**check_view(values, checked), "notice": notice}
