"""The follow page's "Edit and send again": the author changes a story that is waiting
for a moderator, or that was not published, and sends it again.

The same form and the same "Check my story" step as the share page (`_check.html`,
service_layer/check.py, share.js), and the same edit path as `PUT /v1/stories/{id}`
(entrypoints/submission.py: one rate limit, one safeguarding check, one handler). The
private code only ever travels in POST bodies, as on the follow and withdraw pages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData
from starlette.responses import Response

from candour_common.translatable import N_
from candour_common.web import pages as web_pages
from candour_intake.domain import (
    NotTheAuthor,
    Organisation,
    Story,
    StoryNotEditable,
    StoryNotFound,
    UnknownOrganisation,
    UnknownService,
)
from candour_intake.entrypoints import check_pages, pages, submission
from candour_intake.entrypoints.schemas import StoryEditIn
from candour_intake.service_layer import handlers

router = APIRouter(include_in_schema=False)

CHECK_ACTION = "/follow/edit/check"
PLACE_ERROR = N_("Choose an organisation or service from the list")


async def _authored_text(request: Request, form: FormData) -> tuple[Story | None, str]:
    """The story the form's reference and private code open, as its author sent it
    last (None for any wrong pair), and the code."""
    story, token = web_pages.form_text(form, "story"), web_pages.form_text(form, "token")
    state = await pages._authored(request, story, token)
    if state is None:
        return None, token
    try:
        return await handlers.authored_story_text(pages._uow(request), state.id, token), token
    except (StoryNotFound, NotTheAuthor):
        return None, token


def _values_of(story: Story) -> dict[str, Any]:
    """The edit form filled in with the story as it was sent last."""
    place = story.organisation.id + (f"|{story.service.id}" if story.service else "")
    tags = story.tags.model_dump()
    return {
        "place": place,
        "organisation_id": story.organisation.id,
        "service_id": story.service.id if story.service else None,
        "title": story.title,
        "body": story.body,
        "experienced_at": story.experienced_at or "",
        "tags": {kind: list(tags.get(kind, [])) for kind in pages.TAG_CHOICES},
        "language": story.language.value,
    }


def _edit_page(
    request: Request,
    story: Story,
    token: str,
    organisations: list[Organisation],
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    check: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = pages._share_context(organisations, values, errors)
    context.update(
        {"story_id": story.id, "token": token, "check": check, "check_action": CHECK_ACTION}
    )
    return pages._render(
        request, "edit.html", context, status_code=status_code, headers=pages.PRIVATE_HEADERS
    )


async def _opened(request: Request) -> tuple[FormData, Story | None, str, Response | None]:
    """The checked form, its story and code; or the page to show instead (a wrong code,
    or a story that can no longer be edited: the follow page says why)."""
    form = await web_pages.checked_form(request)
    story, token = await _authored_text(request, form)
    if story is None:
        return form, None, token, pages._link_not_recognised(request)
    state = await handlers.story_state(pages._uow(request), story.id)
    if not state.editable:
        return form, story, token, pages._follow_page(request, state, token)
    return form, story, token, None


@router.post("/follow/edit", response_class=HTMLResponse)
async def edit_form(request: Request) -> Response:
    """The edit form, filled in with the story as it was sent last."""
    _, story, token, instead = await _opened(request)
    if instead is not None:
        return instead
    assert story is not None
    organisations = await pages._organisations(request)
    return _edit_page(request, story, token, organisations, _values_of(story), {})


async def _changed(
    request: Request,
) -> tuple[FormData, Story, str, dict[str, Any], StoryEditIn | None, dict[str, str]] | Response:
    """An edit form sent to be checked or sent: the form, its story and code, the values
    as entered, the edit they make (None if invalid) and the errors; or the page to show
    instead (a wrong code, a story no longer editable, the rate limit)."""
    form, story, token, instead = await _opened(request)
    if instead is not None:
        return instead
    assert story is not None
    if (wait := await submission.seconds_to_wait(request)) is not None:
        return pages.too_many_stories(request, wait)
    pages.refuse_operator_fields(form)
    values, _ = check_pages.read_story_form(form)
    # The check looks for the author's own name: the one given when it was first sent.
    values["display_name"] = story.author.display_name or ""
    edit, errors = pages.validated_edit(values, {})
    return form, story, token, values, edit, errors


@router.post(CHECK_ACTION, response_class=HTMLResponse)
async def edit_check(request: Request) -> Response:
    """ "Check my story" on the edit form: as on the share page; nothing is sent."""
    changed = await _changed(request)
    if isinstance(changed, Response):
        return changed
    form, story, token, values, edit, errors = changed
    organisations = await pages._organisations(request)
    if edit is None or errors:
        return _edit_page(request, story, token, organisations, values, errors, status_code=422)
    try:
        check = await check_pages.checked_view(request, form, values, organisations)
    except (UnknownOrganisation, UnknownService):
        errors = {"place": PLACE_ERROR}
        return _edit_page(request, story, token, organisations, values, errors, status_code=422)
    return _edit_page(request, story, token, organisations, values, {}, check=check)


@router.post("/follow/edit/send", response_class=HTMLResponse)
async def edit_send(request: Request) -> Response:
    """Send the changed story: the same path as `PUT /v1/stories/{id}`."""
    changed = await _changed(request)
    if isinstance(changed, Response):
        return changed
    _, story, token, values, edit, errors = changed
    if edit is not None and not errors:
        try:
            await submission.edit(request, story.id, token, edit)
        except (UnknownOrganisation, UnknownService):
            errors = {"place": PLACE_ERROR}
        except StoryNotEditable:
            pass  # published or withdrawn meanwhile: the follow page says which
        except (StoryNotFound, NotTheAuthor):
            return pages._link_not_recognised(request)
        if not errors:
            state = await handlers.story_state(pages._uow(request), story.id)
            return pages._follow_page(request, state, token, sent_again=state.editable)
    organisations = await pages._organisations(request)
    return _edit_page(request, story, token, organisations, values, errors, status_code=422)
