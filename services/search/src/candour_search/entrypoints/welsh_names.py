"""Organisations named in Welsh on Welsh pages: the directory's Welsh name (`name_cy` on
directory.organisations) where it has one, else the English name stories carry.

A page that names organisations renders through `render_naming_organisations`, which
reads the Welsh names once for a Welsh page (none for an English one) and keeps them
in a context variable while the page renders, for the `organisation_name` template
function (the story list macros are imported without the page's context).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from candour_common.web import i18n, pages
from candour_search.entrypoints.dependencies import new_unit_of_work
from candour_search.service_layer import handlers

_rendering: ContextVar[Mapping[str, str] | None] = ContextVar("candour_welsh_names", default=None)


def organisation_name(organisation_id: str, name: str) -> str:
    """The organisation's name as the page being rendered shows it."""
    return (_rendering.get() or {}).get(organisation_id, name)


async def page_welsh_names(request: Request) -> Mapping[str, str]:
    """The directory's Welsh names, by organisation id, for a Welsh page; none for an
    English one."""
    if i18n.request_language(request) != i18n.WELSH:
        return {}
    return await handlers.welsh_names(new_unit_of_work(request.app))


async def render_naming_organisations(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    welsh_names: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """`pages.render` for a page that names organisations: on a Welsh page, in Welsh
    (`welsh_names` when the route has read them already)."""
    names = welsh_names if welsh_names is not None else await page_welsh_names(request)
    templates: Jinja2Templates = request.app.state.templates
    token = _rendering.set(names)
    try:
        return pages.render(templates, request, name, context)
    finally:
        _rendering.reset(token)
