"""HTTP routes of notifications (thin: validate, call a handler, shape the answer)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse

from candour_common.auth import Principal, Role
from candour_common.http.bearer import require_role
from candour_common.http.problems import FieldError, Problem, ProblemError
from candour_notifications.domain import (
    DeliveryStatus,
    InvalidAcknowledgementToken,
    InvalidConfirmationToken,
    InvalidUnsubscribeToken,
    Subscribe,
    UnsubscribeTarget,
    verify_acknowledgement,
    verify_confirmation,
    verify_unsubscribe,
)
from candour_notifications.entrypoints.dependencies import get_unit_of_work
from candour_notifications.entrypoints.pages import acknowledge_page as render_acknowledge
from candour_notifications.entrypoints.pages import confirm_page as render_confirm
from candour_notifications.entrypoints.pages import unsubscribe_page as render_unsubscribe
from candour_notifications.entrypoints.schemas import (
    AlertChoicesOut,
    DeliveryOut,
    MailDomainsIn,
    MailDomainsOut,
    ServiceChoice,
    SubscriptionIn,
    SubscriptionOut,
)
from candour_notifications.service_layer import handlers
from candour_notifications.service_layer.handlers import (
    NotAllowed,
    SubscriptionNotFound,
    UnknownChoices,
)
from candour_notifications.service_layer.unit_of_work import NotificationsUnitOfWork

router = APIRouter(prefix="/v1")
PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}
AUTH_PROBLEMS: dict[int | str, dict[str, object]] = {401: PROBLEM, 403: PROBLEM}


Uow = Annotated[NotificationsUnitOfWork, Depends(get_unit_of_work)]
StaffOrOperator = Annotated[Principal, Depends(require_role(Role.STAFF, Role.OPERATOR))]
Operator = Annotated[Principal, Depends(require_role(Role.OPERATOR))]


def _unknown_choices(exc: UnknownChoices) -> ProblemError:
    errors = []
    if exc.services:
        errors.append(
            FieldError(
                field="body.service_ids",
                message="not a service of this organisation: " + ", ".join(exc.services),
                type="unknown_service",
            )
        )
    if exc.tags:
        errors.append(
            FieldError(
                field="body.tags",
                message="not a tag stories carry: " + ", ".join(exc.tags),
                type="unknown_tag",
            )
        )
    return ProblemError(
        422,
        "The subscription names services or tags that do not exist, so it would never send "
        "anything; GET /v1/organisations/{ods}/alert-choices lists those that do.",
        errors=errors,
    )


def _forbidden(organisation_id: str) -> ProblemError:
    return ProblemError(
        403, f"You may not manage subscriptions of organisation {organisation_id!r}."
    )


@router.post(
    "/subscriptions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionOut,
    tags=["subscriptions"],
    responses={**AUTH_PROBLEMS, 422: PROBLEM},
)
async def create_subscription(
    request: Request, body: SubscriptionIn, principal: StaffOrOperator, uow: Uow
) -> SubscriptionOut:
    """Staff subscribing an address outside their organisation's own mail domains get a
    subscription with `confirmed: false`: a link goes to that address and nothing else
    does until its owner follows it. Operators' subscriptions need no confirmation.

    Staff may name only services and tags that exist (`GET
    /v1/organisations/{ods}/alert-choices` lists them); anything else is a 422 naming
    `body.service_ids` or `body.tags`. Operators may name services and tags not (yet) in
    the directory (a trust set up before its directory entry is imported)."""
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
        subscription = await handlers.subscribe(uow, principal, command)
    except NotAllowed as exc:
        raise _forbidden(body.organisation_id) from exc
    except UnknownChoices as exc:
        raise _unknown_choices(exc) from exc
    if subscription.pending_confirmation:
        _wake_worker(request)
    return SubscriptionOut.of(subscription)


def _wake_worker(request: Request) -> None:
    wake = getattr(request.app.state, "wake_delivery_worker", None)
    if wake is not None:
        wake()


@router.get(
    "/subscriptions",
    response_model=list[SubscriptionOut],
    tags=["subscriptions"],
    responses=AUTH_PROBLEMS,
)
async def list_subscriptions(
    principal: StaffOrOperator,
    uow: Uow,
    organisation_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=20,
            description="ODS code; staff default to their own, operators see all without it.",
        ),
    ] = None,
) -> list[SubscriptionOut]:
    try:
        found = await handlers.list_subscriptions(uow, principal, organisation_id)
    except NotAllowed as exc:
        raise _forbidden(organisation_id or "") from exc
    return [SubscriptionOut.of(s) for s in found]


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["subscriptions"],
    responses={**AUTH_PROBLEMS, 404: PROBLEM},
)
async def delete_subscription(
    subscription_id: uuid.UUID, principal: StaffOrOperator, uow: Uow
) -> Response:
    try:
        await handlers.delete_subscription(uow, principal, subscription_id)
    except SubscriptionNotFound as exc:
        raise ProblemError(404, f"No subscription {subscription_id}.") from exc
    except NotAllowed as exc:
        raise ProblemError(403, "You may not manage this subscription.") from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/deliveries",
    response_model=list[DeliveryOut],
    tags=["deliveries"],
    responses={**AUTH_PROBLEMS, 422: PROBLEM},
    summary="Emails owed, newest change first (operators; `state=failed` for what needs help)",
)
async def list_deliveries(
    _: Operator,
    uow: Uow,
    state: Annotated[
        DeliveryStatus | None,
        Query(description="Only deliveries in this state; all states without it."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many.")] = 50,
) -> list[DeliveryOut]:
    found = await handlers.list_deliveries(uow, state, limit)
    return [DeliveryOut.of(d) for d in found]


OdsCode = Annotated[str, Path(min_length=1, max_length=20, description="ODS code.")]


@router.get(
    "/organisations/{organisation_id}/mail-domains",
    response_model=MailDomainsOut,
    tags=["subscriptions"],
    responses=AUTH_PROBLEMS,
    summary="The organisation's own mail domains (its staff, or operators)",
)
async def get_mail_domains(
    organisation_id: OdsCode, principal: StaffOrOperator, uow: Uow
) -> MailDomainsOut:
    try:
        domains = await handlers.organisation_mail_domains(uow, principal, organisation_id)
    except NotAllowed as exc:
        raise _forbidden(organisation_id) from exc
    return MailDomainsOut(organisation_id=organisation_id, domains=domains)


@router.put(
    "/organisations/{organisation_id}/mail-domains",
    response_model=MailDomainsOut,
    tags=["subscriptions"],
    responses={**AUTH_PROBLEMS, 422: PROBLEM},
    summary="Set the organisation's own mail domains (operators): staff may subscribe "
    "addresses in them without the owner confirming",
)
async def put_mail_domains(
    organisation_id: OdsCode, body: MailDomainsIn, _: Operator, uow: Uow
) -> MailDomainsOut:
    domains = await handlers.set_organisation_mail_domains(uow, organisation_id, body.domains)
    return MailDomainsOut(organisation_id=organisation_id, domains=domains)


TokenQuery = Annotated[
    str,
    Query(min_length=1, max_length=200, description="The signed token from the email's link."),
]


def _target(request: Request, token: str) -> UnsubscribeTarget:
    secret = request.app.state.platform.settings.unsubscribe_key()
    try:
        return verify_unsubscribe(secret, token)
    except InvalidUnsubscribeToken as exc:
        raise ProblemError(
            400,
            "The unsubscribe link is not valid; copy the whole link from the email.",
            errors=[FieldError(field="query.token", message=str(exc))],
        ) from exc


@router.get(
    "/unsubscribe",
    response_class=HTMLResponse,
    tags=["unsubscribe"],
    responses={400: PROBLEM},
    summary="Confirmation page with a one-click button (a GET changes nothing: link "
    "scanners follow links)",
)
async def unsubscribe_page(request: Request, token: TokenQuery, uow: Uow) -> HTMLResponse:
    target = _target(request, token)
    what = await handlers.describe_unsubscribe(uow, target)
    action = f"{request.url.path}?token={token}"
    return render_unsubscribe(request, done=False, what=what, action=action)


@router.post(
    "/unsubscribe",
    response_class=HTMLResponse,
    tags=["unsubscribe"],
    responses={400: PROBLEM},
    summary="RFC 8058 one-click unsubscribe (no login; the token is the authority)",
)
async def unsubscribe(request: Request, token: TokenQuery, uow: Uow) -> HTMLResponse:
    target = _target(request, token)
    result = await handlers.unsubscribe(uow, target)
    return render_unsubscribe(request, done=True, what=result.what, action="")


def _subscription_to_confirm(request: Request, token: str) -> uuid.UUID:
    # Signed with the same key as unsubscribe links (CANDOUR_UNSUBSCRIBE_SECRET), not
    # the JWT key: rotating either leaves the other's links and tokens working.
    secret = request.app.state.platform.settings.unsubscribe_key()
    try:
        return verify_confirmation(secret, token)
    except InvalidConfirmationToken as exc:
        raise ProblemError(
            400,
            "The confirmation link is not valid; copy the whole link from the email.",
            errors=[FieldError(field="query.token", message=str(exc))],
        ) from exc


@router.get(
    "/subscriptions/confirm",
    response_class=HTMLResponse,
    tags=["subscriptions"],
    responses={400: PROBLEM},
    summary="Double opt-in: the page with a button to confirm (a GET changes nothing)",
)
async def confirm_subscription_page(request: Request, token: TokenQuery, uow: Uow) -> HTMLResponse:
    subscription_id = _subscription_to_confirm(request, token)
    state = await handlers.describe_confirmation(uow, subscription_id)
    return render_confirm(
        request,
        done=False,
        waiting=state.changed,
        changed=False,
        what=state.what,
        action=f"{request.url.path}?token={token}",
    )


@router.post(
    "/subscriptions/confirm",
    response_class=HTMLResponse,
    tags=["subscriptions"],
    responses={400: PROBLEM},
    summary="Double opt-in: the address's owner confirms (no login; the token is the authority)",
)
async def confirm_subscription(request: Request, token: TokenQuery, uow: Uow) -> HTMLResponse:
    subscription_id = _subscription_to_confirm(request, token)
    result = await handlers.confirm_subscription(uow, subscription_id)
    return render_confirm(
        request, done=True, waiting=False, changed=result.changed, what=result.what, action=""
    )


def _delivery_to_acknowledge(request: Request, token: str) -> uuid.UUID:
    # Signed with the unsubscribe key (CANDOUR_UNSUBSCRIBE_SECRET), its own HMAC domain.
    secret = request.app.state.platform.settings.unsubscribe_key()
    try:
        return verify_acknowledgement(secret, token)
    except InvalidAcknowledgementToken as exc:
        raise ProblemError(
            400,
            "The acknowledgement link is not valid; copy the whole link from the email.",
            errors=[FieldError(field="query.token", message=str(exc))],
        ) from exc


@router.get(
    "/safeguarding/acknowledge",
    response_class=HTMLResponse,
    tags=["safeguarding"],
    responses={400: PROBLEM},
    summary="Safeguarding alert: the page with a button to acknowledge it (a GET changes "
    "nothing: mail scanners follow links)",
)
async def acknowledge_page(request: Request, token: TokenQuery, uow: Uow) -> HTMLResponse:
    delivery_id = _delivery_to_acknowledge(request, token)
    state = await handlers.describe_acknowledgement(uow, delivery_id)
    return render_acknowledge(request, state, action=f"{request.url.path}?token={token}")


@router.post(
    "/safeguarding/acknowledge",
    response_class=HTMLResponse,
    tags=["safeguarding"],
    responses={400: PROBLEM},
    summary="Safeguarding alert: its recipient acknowledges it (no login; the token, one "
    "per recipient, is the authority); no re-alert follows and moderation is told",
)
async def acknowledge(request: Request, token: TokenQuery, uow: Uow) -> HTMLResponse:
    delivery_id = _delivery_to_acknowledge(request, token)
    result = await handlers.acknowledge(uow, delivery_id)
    return render_acknowledge(request, result, action="")


@router.get(
    "/organisations/{organisation_id}/alert-choices",
    response_model=AlertChoicesOut,
    tags=["subscriptions"],
    responses=AUTH_PROBLEMS,
)
async def get_alert_choices(
    organisation_id: str, principal: StaffOrOperator, uow: Uow
) -> AlertChoicesOut:
    """The organisation's services (id and name) and the tags a subscription can filter on:
    the share page's vocabulary and any other tag its stories have carried."""
    try:
        found = await handlers.alert_choices(uow, principal, organisation_id)
    except NotAllowed as exc:
        raise _forbidden(organisation_id) from exc
    return AlertChoicesOut(
        organisation_id=found.organisation_id,
        organisation_name=found.organisation_name,
        services=[ServiceChoice(id=s.id, name=s.name) for s in found.services],
        tags=list(found.tags),
    )
