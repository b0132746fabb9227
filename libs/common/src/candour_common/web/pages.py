"""Templates, static files, CSRF and the session cookie for server-rendered pages."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.datastructures import FormData
from starlette.responses import Response

from candour_common.auth import InvalidToken, Principal, Role, verify_token
from candour_common.http.problems import ProblemError
from candour_common.settings import ServiceSettings
from candour_common.translatable import N_
from candour_common.web import i18n
from candour_common.web.dates import FILTERS as DATE_FILTERS
from candour_common.web.sessions import SESSION_COOKIE, end_session, key_id, open_session

COMMON_TEMPLATES = Path(__file__).parent / "templates"
COMMON_STATIC = Path(__file__).parent / "static"
CSRF_COOKIE = "candour_csrf"
CSRF_FIELD = "csrf_token"


def create_templates(service_templates: Path, settings: ServiceSettings) -> Jinja2Templates:
    """Jinja2 with autoescaping on, the service's templates first, then the shared layout,
    the shared date filters (`uk_time`, `uk_date`, `month_in_words`), `number`, `cell_heading`, and
    gettext in the request's language (English or Welsh, see `i18n`) from the
    catalogue in `locale/` beside `service_templates`, then the shared one."""
    env = Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(service_templates), FileSystemLoader(COMMON_TEMPLATES)]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["links"] = settings.public_links()
    env.globals["service_name"] = settings.service_name
    env.globals["cell_heading"] = cell_heading
    env.filters.update(i18n.localised_date_filters(DATE_FILTERS))
    env.filters["number"] = i18n.number_in_words
    i18n.install_translations(
        env, i18n.load_translations([service_templates.parent / "locale", i18n.COMMON_LOCALE])
    )
    return Jinja2Templates(env=env)


def cell_heading(text: str) -> Markup:
    """A table cell's column heading, shown beside its value when an NHS.UK responsive
    table stacks its rows on a small screen (screen readers use the real <th>)."""
    return Markup('<span class="nhsuk-table__heading" aria-hidden="true">{} </span>').format(
        escape(text)
    )


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=COMMON_STATIC), name="static")


def csrf_token(request: Request) -> str:
    """The token to put in a form (the same value as the CSRF cookie)."""
    existing = request.cookies.get(CSRF_COOKIE)
    token = existing or secrets.token_urlsafe(24)
    request.state.csrf_new = None if existing else token
    return token


def render(
    templates: Jinja2Templates,
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    csrf: bool = True,
) -> HTMLResponse:
    """Render a page with a CSRF token in its context (and its cookie when new), in the
    request's language (remembered in a cookie when chosen with `?lang=`). `csrf=False`
    for a page whose form carries its own authority (a signed token from an email):
    no token, no CSRF cookie."""
    extra = {CSRF_FIELD: csrf_token(request)} if csrf else {}
    with i18n.rendering_in(i18n.request_language(request)):
        response = templates.TemplateResponse(
            request, name, {**(context or {}), **extra}, status_code=status_code
        )
    if csrf and getattr(request.state, "csrf_new", None):
        response.set_cookie(
            CSRF_COOKIE,
            extra[CSRF_FIELD],
            httponly=True,
            samesite="strict",
            secure=_secure(request),
        )
    i18n.remember_language(request, response, secure=_secure(request))
    response.headers["Content-Language"] = i18n.request_language(request)
    response.headers.append("Vary", "Accept-Language, Cookie")
    return response


def see_other(request: Request, url: str) -> RedirectResponse:
    """A 303 to `url` that keeps a language chosen with `?lang=` (in the cookie), so a
    Welsh link to a staff page leads to a Welsh sign-in form."""
    response = RedirectResponse(url, status_code=303)
    i18n.remember_language(request, response, secure=_secure(request))
    return response


def verify_csrf(request: Request, submitted: str | None) -> None:
    """Double-submit check: the form's token must equal the cookie's (403 otherwise)."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise ProblemError(
            403, "The form expired or did not come from this site; reload and retry."
        )


def secure_cookies(request: Request) -> bool:
    """Cookies are Secure everywhere but on a developer's machine (CANDOUR_ENV=dev)."""
    platform = getattr(request.app.state, "platform", None)
    return platform is None or bool(platform.settings.secure_cookies)


_secure = secure_cookies


def _platform_pool(request: Request) -> Any:
    return request.app.state.platform.pool


async def sign_in(response: Response, request: Request, token: str) -> None:
    """Open a server-side session for the holder of `token` (checked first with
    `token_problem`) and give the browser its id in an HttpOnly, SameSite cookie."""
    jwt_key = _jwt_secret(request)
    principal = verify_token(jwt_key, token)
    session_id, ends = await open_session(_platform_pool(request), principal, key_id(jwt_key))
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=max(1, int((ends - datetime.now(UTC)).total_seconds())),
    )


async def sign_out(response: Response, request: Request) -> None:
    """End the session on the server (a kept copy of the cookie no longer works)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await end_session(_platform_pool(request), session_id)
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="strict", secure=_secure(request)
    )


def _jwt_secret(request: Request) -> str:
    secret: str = request.app.state.platform.settings.jwt_key()
    return secret


def signed_in_principal(request: Request, roles: Collection[Role]) -> Principal | None:
    """Who the session cookie belongs to; None when absent, ended or not in `roles`.

    The session is looked up once per request by `sessions.load_session`, a
    dependency every route of a service gets from `runtime.build_app`.
    """
    principal: Principal | None = getattr(request.state, "session_principal", None)
    return principal if principal is not None and principal.role in roles else None


@dataclass(frozen=True, slots=True)
class SignInWords:
    """What a sign-in form says about a token that cannot sign in, in a page's own words."""

    missing: str
    wrong_role: str
    invalid: str = N_("That token is not valid or has expired: ask an operator for a new one")


def token_problem(
    request: Request, token: str, roles: Collection[Role], words: SignInWords
) -> str | None:
    """Why `token` cannot sign in to a page for `roles` (None when it can)."""
    if not token:
        return words.missing
    try:
        principal = verify_token(_jwt_secret(request), token)
    except InvalidToken:
        return words.invalid
    return None if principal.role in roles else words.wrong_role


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token checks out (403 problem otherwise)."""
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    verify_csrf(request, submitted if isinstance(submitted, str) else None)
    return form


def form_text(form: FormData, name: str) -> str:
    """A form field's text, trimmed; "" when absent or a file."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


__all__ = [
    "CSRF_FIELD",
    "SignInWords",
    "cell_heading",
    "checked_form",
    "create_templates",
    "csrf_token",
    "form_text",
    "mount_static",
    "render",
    "sign_in",
    "sign_out",
    "signed_in_principal",
    "token_problem",
    "verify_csrf",
]
