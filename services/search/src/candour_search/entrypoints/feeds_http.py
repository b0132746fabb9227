"""`/v1/feeds/stories.atom` and `/v1/feeds/responses.atom`: follow a search in a feed
reader. The same filters as `/v1/search`; newest first; conditional GET."""

from __future__ import annotations

from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from candour_search.domain import SearchStories
from candour_search.entrypoints.dependencies import Uow
from candour_search.entrypoints.http import search_query
from candour_search.feeds import FEED_ENTRIES, Feed, responses_feed, stories_feed
from candour_search.service_layer import open_data

router = APIRouter(prefix="/v1/feeds", tags=["feeds"])
ATOM = "application/atom+xml"
FEED_RESPONSES = {
    200: {"content": {ATOM: {}}, "description": "An Atom 1.0 feed."},
    304: {"description": "Not modified since the reader's copy (ETag or Last-Modified)."},
}


def _base_url(request: Request) -> str:
    base: str = request.app.state.platform.settings.public_links()["search"]
    return base


def _title(query: SearchStories, what: str) -> str:
    parts = []
    if query.q:
        parts.append(f"“{query.q}”")
    if query.organisation_id:
        parts.append(f"organisation {query.organisation_id}")
    if query.service_id:
        parts.append(f"service {query.service_id}")
    parts += [f"tag “{t}”" for t in query.tags]
    if query.language is not None:
        parts.append({"en": "in English", "cy": "in Welsh"}[query.language.value])
    return f"Candour: {what}" + (f" ({', '.join(parts)})" if parts else "")


def _answer(request: Request, feed: Feed) -> Response:
    headers = {
        "ETag": feed.etag,
        "Last-Modified": format_datetime(feed.last_modified, usegmt=True),
        "Cache-Control": "public, max-age=60",
    }
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        if feed.etag in {tag.strip() for tag in if_none_match.split(",")} or if_none_match == "*":
            return Response(status_code=304, headers=headers)
    elif (since := request.headers.get("if-modified-since")) is not None:
        try:
            if feed.last_modified.replace(microsecond=0) <= parsedate_to_datetime(since):
                return Response(status_code=304, headers=headers)
        except (TypeError, ValueError):
            pass  # an unreadable date: answer in full
    return Response(feed.xml, media_type=f"{ATOM}; charset=utf-8", headers=headers)


@router.get("/stories.atom", response_class=Response, responses=FEED_RESPONSES)  # type: ignore[arg-type]
async def stories_atom(
    request: Request, query: Annotated[SearchStories, Depends(search_query)], uow: Uow
) -> Response:
    """The 50 newest published stories matching the filters (`sort`, `limit` and `cursor`
    do not apply). A withdrawn story leaves the feed at once."""
    stories = await open_data.newest_stories(uow, query, FEED_ENTRIES)
    feed = stories_feed(
        stories,
        base_url=_base_url(request),
        self_url=str(request.url),
        title=_title(query, "stories"),
    )
    return _answer(request, feed)


@router.get("/responses.atom", response_class=Response, responses=FEED_RESPONSES)  # type: ignore[arg-type]
async def responses_atom(
    request: Request, query: Annotated[SearchStories, Depends(search_query)], uow: Uow
) -> Response:
    """The 50 newest responses to published stories matching the filters."""
    responses = await open_data.newest_responses(uow, query, FEED_ENTRIES)
    feed = responses_feed(
        responses,
        base_url=_base_url(request),
        self_url=str(request.url),
        title=_title(query, "responses"),
    )
    return _answer(request, feed)
