"""Alerts pages: staff manage their organisation's email subscriptions in a browser.

The same handlers as the /v1 API do the work (and the same organisation check);
the request model `SubscriptionIn` validates the form, so a page and an API
client get the same rules. Every form posts with a CSRF token and answers with a
redirect (303) on success or the page again with errors next to their fields.
The routes are left out of the OpenAPI document.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.responses import Response

from candour_common.auth import Principal, Role
from candour_common.events import CRITICALITY_LABELS
from candour_common.translatable import N_, Filled
from candour_common.web import i18n, pages
from candour_common.web.staff_sign_in import StaffArea, staff_sign_in_router
from candour_notifications.domain import Frequency, Subscribe, Subscription, SubscriptionKind
from candour_notifications.entrypoints.dependencies import new_unit_of_work
from candour_notifications.entrypoints.schemas import SubscriptionIn
from candour_notifications.service_layer import handlers
from candour_notifications.service_layer.handlers import (
    NotAllowed,
    SubscriptionNotFound,
    UnknownChoices,
)
from candour_notifications.settings import NotificationsSettings

# Not `templates/`: that folder holds the emails, whose base.html would hide the site layout.
TEMPLATES = Path(__file__).resolve().parent.parent / "page_templates"
STAFF = (Role.STAFF,)
SIGN_IN_WORDS = pages.SignInWords(
    missing=N_("Paste your staff token"),
    wrong_role=N_("That token is not a staff token for an organisation"),
)
FORM_FIELDS = ("email", "kind", "frequency", "service_ids", "tags", "min_criticality")
# Words made here and shown on the pages are marked with N_ and translated there.
KIND_LABELS = {
    SubscriptionKind.STORIES.value: N_("New stories"),
    SubscriptionKind.RESPONSES.value: N_("Responses from staff"),
    SubscriptionKind.SAFEGUARDING.value: N_(
        "Safeguarding escalations (always immediate, unfiltered)"
    ),
}
FREQUENCY_LABELS = {
    Frequency.IMMEDIATE.value: N_("As each one happens"),
    Frequency.DAILY.value: N_("A daily digest"),
}
DONE_MESSAGES = {
    "added": N_("The subscription was added."),
    "awaiting": N_(
        "The subscription was added. That address is outside your organisation's own mail "
        "domains, so we have emailed it a link: nothing is sent there until its owner "
        "confirms."
    ),
    "deleted": N_("The subscription was deleted; no more emails will be sent for it."),
}
SUBSCRIPTION_GONE = N_("That subscription no longer exists")


router = APIRouter(include_in_schema=False)


def create_alert_templates(settings: NotificationsSettings) -> Jinja2Templates:
    templates = pages.create_templates(TEMPLATES, settings)
    templates.env.globals["kind_labels"] = KIND_LABELS
    templates.env.globals["frequency_labels"] = FREQUENCY_LABELS
    templates.env.globals["criticality_labels"] = CRITICALITY_LABELS
    return templates


def _render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.alert_templates
    return pages.render(templates, request, name, context, status_code=status_code)


def _see_other(request: Request, url: str) -> RedirectResponse:
    """A 303 that keeps a language chosen with `?lang=` (in the `lang` cookie): a Welsh
    link to the alerts page leads to a Welsh sign-in form."""
    response = RedirectResponse(url, status_code=303)
    i18n.remember_language(request, response, secure=pages.secure_cookies(request))
    return response


def signed_in(request: Request) -> Principal | None:
    """The staff member whose token the cookie holds; None when absent or not staff."""
    return pages.signed_in_principal(request, STAFF)


def _items(raw: str) -> list[str]:
    """Comma- or line-separated values, blanks dropped."""
    return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]


# ------------------------------------------------------------------- sign in


router.include_router(
    staff_sign_in_router(
        StaffArea(
            home="/alerts",
            roles=STAFF,
            words=SIGN_IN_WORDS,
            template="alerts/sign_in.html",
            templates=lambda request: request.app.state.alert_templates,
        )
    )
)


# --------------------------------------------------------------- subscriptions


async def _alerts_page(
    request: Request,
    staff: Principal,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    organisation_id = staff.organisation_id or ""
    subscriptions: list[Subscription] = await handlers.list_subscriptions(
        new_unit_of_work(request.app), staff, organisation_id
    )
    choices = await handlers.alert_choices(new_unit_of_work(request.app), staff, organisation_id)
    return _render(
        request,
        "alerts/subscriptions.html",
        {
            "staff": staff,
            "subscriptions": subscriptions,
            "choices": choices,
            "values": values or {"kind": "stories", "frequency": "immediate"},
            "errors": errors or {},
            "message": message,
        },
        status_code=status_code,
    )


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    """The service's front door is the alerts page (which asks staff to sign in)."""
    return _see_other(request, "/alerts")


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request, done: str | None = None) -> Response:
    staff = signed_in(request)
    if staff is None:
        return _see_other(request, "/alerts/sign-in")
    return await _alerts_page(request, staff, message=DONE_MESSAGES.get(done or ""))


def _field_of(location: tuple[int | str, ...]) -> str:
    """The form field a validation error belongs to (whole-model errors go to `kind`)."""
    name = str(location[0]) if location else ""
    return name if name in FORM_FIELDS else "kind"


@router.post("/alerts/subscriptions", response_class=HTMLResponse)
async def add_subscription(request: Request) -> Response:
    form = await pages.checked_form(request)
    staff = signed_in(request)
    if staff is None:
        return _see_other(request, "/alerts/sign-in")
    values: dict[str, Any] = {name: pages.form_text(form, name) for name in FORM_FIELDS}
    # Checkboxes send one value each; a hand-made request may still send a list in one.
    values["service_ids"] = [i for v in form.getlist("service_ids") for i in _items(str(v))]
    values["tags"] = [i for v in form.getlist("tags") for i in _items(str(v))]
    try:
        body = SubscriptionIn(
            email=values["email"],
            organisation_id=staff.organisation_id or "",
            service_ids=values["service_ids"],
            tags=values["tags"],
            min_criticality=values["min_criticality"] or None,
            frequency=values["frequency"],
            kind=values["kind"],
        )
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            errors.setdefault(_field_of(tuple(error["loc"])), _message(error))
        return await _alerts_page(request, staff, values=values, errors=errors, status_code=422)
    command = Subscribe(
        email=str(body.email),
        organisation_id=body.organisation_id,
        frequency=body.frequency,
        kind=body.kind,
        service_ids=tuple(dict.fromkeys(body.service_ids)),
        tags=tuple(dict.fromkeys(body.tags)),
        min_criticality=body.min_criticality,
    )
    try:
        subscription = await handlers.subscribe(new_unit_of_work(request.app), staff, command)
    except NotAllowed:
        return await _alerts_page(
            request,
            staff,
            values=values,
            errors={"email": N_("You may only add subscriptions for your own organisation")},
            status_code=403,
        )
    except UnknownChoices as exc:
        unknown: dict[str, str] = {}
        if exc.services:
            unknown["service_ids"] = Filled(
                N_("Choose services from the list: {services} is not one of your services")
                if len(exc.services) == 1
                else N_("Choose services from the list: {services} are not among your services"),
                services=", ".join(exc.services),
            )
        if exc.tags:
            unknown["tags"] = Filled(
                N_("Choose tags from the list: {tags} is not a tag stories use")
                if len(exc.tags) == 1
                else N_("Choose tags from the list: {tags} are not tags stories use"),
                tags=", ".join(exc.tags),
            )
        return await _alerts_page(request, staff, values=values, errors=unknown, status_code=422)
    _wake_worker(request)
    done = "awaiting" if subscription.pending_confirmation else "added"
    return _see_other(request, f"/alerts?done={done}")


def _wake_worker(request: Request) -> None:
    wake = getattr(request.app.state, "wake_delivery_worker", None)
    if wake is not None:
        wake()


FRIENDLY_ERRORS = {
    "email": N_("Enter an email address in the right format, like name@example.org"),
    "kind": N_("Choose what the emails are about"),
    "frequency": N_("Choose how often to get them"),
    "service_ids": N_("Choose at most 50 services from the list"),
    "tags": N_("Choose at most 20 tags from the list"),
    "min_criticality": N_("Choose a criticality from the list"),
}
# The rules across fields (SubscriptionIn's model validator), as a page says them.
RULE_ERRORS = {
    "safeguarding alerts cannot be filtered by tags or criticality": N_(
        "Safeguarding alerts cannot be filtered by tags or criticality"
    ),
    "safeguarding alerts are always immediate": N_("Safeguarding alerts are always immediate"),
}


def _message(error: Any) -> str:
    location = tuple(error.get("loc", ()))
    if not location:  # A rule across fields: say it as the model does.
        rule = str(error.get("msg", "")).removeprefix("Value error, ")
        return RULE_ERRORS.get(rule, rule.capitalize())
    return FRIENDLY_ERRORS.get(_field_of(location), str(error.get("msg", "")))


async def _subscription_of(
    request: Request, staff: Principal, subscription_id: uuid.UUID
) -> Subscription | Response:
    try:
        return await handlers.get_subscription(
            new_unit_of_work(request.app), staff, subscription_id
        )
    except (SubscriptionNotFound, NotAllowed):
        # Someone else's subscription is "not found" too: its existence is not ours to tell.
        return await _alerts_page(
            request,
            staff,
            errors={"subscriptions": SUBSCRIPTION_GONE},
            status_code=404,
        )


@router.get("/alerts/subscriptions/{subscription_id}/delete", response_class=HTMLResponse)
async def confirm_delete(request: Request, subscription_id: uuid.UUID) -> Response:
    """Asks before deleting: what the subscription sends, and a button to confirm."""
    staff = signed_in(request)
    if staff is None:
        return _see_other(request, "/alerts/sign-in")
    found = await _subscription_of(request, staff, subscription_id)
    if isinstance(found, Response):
        return found
    choices = await handlers.alert_choices(
        new_unit_of_work(request.app), staff, found.organisation_id
    )
    return _render(
        request,
        "alerts/delete_confirm.html",
        {"staff": staff, "subscription": found, "choices": choices},
    )


@router.post("/alerts/subscriptions/{subscription_id}/delete", response_class=HTMLResponse)
async def delete_subscription(request: Request, subscription_id: uuid.UUID) -> Response:
    form = await pages.checked_form(request)
    staff = signed_in(request)
    if staff is None:
        return _see_other(request, "/alerts/sign-in")
    if pages.form_text(form, "confirmed") != "yes":  # not from the confirmation page: ask
        return await confirm_delete(request, subscription_id)
    try:
        await handlers.delete_subscription(new_unit_of_work(request.app), staff, subscription_id)
    except (SubscriptionNotFound, NotAllowed):
        return await _alerts_page(
            request,
            staff,
            errors={"subscriptions": SUBSCRIPTION_GONE},
            status_code=404,
        )
    return _see_other(request, "/alerts?done=deleted")


# ----------------------------------------------------------------- unsubscribe


def _render_without_csrf(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    """A page reached with a signed token from an email: the token is the authority
    there, so no sign-in and no CSRF cookie (RFC 8058 mail clients post it)."""
    templates: Jinja2Templates = request.app.state.alert_templates
    return pages.render(templates, request, name, context, csrf=False)


def unsubscribe_page(request: Request, *, done: bool, what: str, action: str) -> HTMLResponse:
    """The one-click unsubscribe confirmation in the site's layout."""
    return _render_without_csrf(
        request, "alerts/unsubscribe.html", {"done": done, "what": what, "action": action}
    )


def confirm_page(
    request: Request, *, done: bool, waiting: bool, changed: bool, what: str, action: str
) -> HTMLResponse:
    """Double opt-in: the page the confirmation email links to. A GET only shows the
    button (mail scanners follow links); the POST, with the signed token, confirms."""
    return _render_without_csrf(
        request,
        "alerts/confirm.html",
        {"done": done, "waiting": waiting, "changed": changed, "what": what, "action": action},
    )


def acknowledge_page(
    request: Request, acknowledgement: handlers.Acknowledgement, *, action: str
) -> HTMLResponse:
    """A safeguarding alert's acknowledgement: a GET shows the button (mail scanners
    follow links), the POST with the signed token acknowledges."""
    return _render_without_csrf(
        request,
        "alerts/acknowledge.html",
        {
            "found": acknowledgement.found,
            "organisation_name": acknowledgement.organisation_name,
            "acknowledged_by": acknowledgement.acknowledged_by,
            "acknowledged_at": acknowledgement.acknowledged_at,
            "changed": acknowledgement.changed,
            "action": action,
        },
    )
