"""One staff sign-in for every service's pages: the form, the check of the pasted
token, the server-side session cookie, sign-out, and where the browser goes next.

A service describes its area (`StaffArea`: where its pages live, who may sign in,
its template and its words) and includes `staff_sign_in_router(area)`; the pages
behind it ask `signed_in_principal(request, area.roles)`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from candour_common.auth import Role
from candour_common.web import pages


@dataclass(frozen=True, slots=True)
class StaffArea:
    """A service's staff pages: `home` is where they start (`/console`), the sign-in
    form is at `{home}/sign-in` and signing out at `{home}/sign-out`."""

    home: str
    roles: Collection[Role]
    words: pages.SignInWords
    template: str
    templates: Callable[[Request], Jinja2Templates]

    @property
    def sign_in_path(self) -> str:
        return f"{self.home}/sign-in"

    def sign_in_url(self, after: str | None = None) -> str:
        """The sign-in form, coming back to `after` (a path on this site) once signed in."""
        return self.sign_in_path if after is None else f"{self.sign_in_path}?next={after}"

    def safe_next(self, target: str) -> str:
        """Only a path on this site (never `//host`, a full URL or a backslash trick)
        may follow sign-in; anything else goes home."""
        if target.startswith("/") and not target.startswith("//") and "\\" not in target:
            return target
        return self.home


def staff_sign_in_router(area: StaffArea) -> APIRouter:
    """GET and POST `{home}/sign-in`, POST `{home}/sign-out`. A refused token shows the
    form again with the reason beside the field (422); a good one opens a session and
    goes to `next` (default: home)."""
    router = APIRouter(include_in_schema=False)

    def render(request: Request, context: dict[str, Any], status_code: int) -> HTMLResponse:
        return pages.render(
            area.templates(request), request, area.template, context, status_code=status_code
        )

    @router.get(area.sign_in_path, response_class=HTMLResponse)
    async def sign_in_form(
        request: Request, next_page: Annotated[str, Query(alias="next")] = ""
    ) -> HTMLResponse:
        context = {"next": area.safe_next(next_page), "errors": {}}
        return render(request, context, 200)

    @router.post(area.sign_in_path, response_class=HTMLResponse)
    async def sign_in(request: Request) -> Response:
        form = await pages.checked_form(request)
        token = pages.form_text(form, "token")
        target = area.safe_next(pages.form_text(form, "next"))
        if error := pages.token_problem(request, token, area.roles, area.words):
            return render(request, {"next": target, "errors": {"token": error}}, 422)
        response = RedirectResponse(target, status_code=303)
        await pages.sign_in(response, request, token)
        return response

    @router.post(f"{area.home}/sign-out")
    async def sign_out(request: Request) -> Response:
        await pages.checked_form(request)
        response = RedirectResponse(area.sign_in_path, status_code=303)
        await pages.sign_out(response, request)
        return response

    return router
