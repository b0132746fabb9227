"""Atom 1.0 feeds of published stories and of responses (RFC 4287), with feedgen.

Each entry's id is a tag URI (RFC 4151) holding the story (or response) id, so it
never changes however the site's pages move. A feed's ETag is a digest of what it
says, and its Last-Modified the newest entry's time: a reader that asks again with
either gets 304 until something changes.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator

from candour_common.events import ANONYMOUS, CRITICALITY_LABELS

SUMMARY_CHARS = 500
FEED_ENTRIES = 50
# The year Candour's tag URIs were minted: part of every entry id, never to change.
TAG_YEAR = "2026"
CRITICALITY_SCHEME = "https://candour.example/criticality"
TAG_SCHEME = "https://candour.example/tags"


@dataclass(frozen=True, slots=True)
class FeedStory:
    story_id: uuid.UUID
    title: str
    body: str
    author_name: str | None
    organisation_name: str
    service_name: str | None
    tags: tuple[str, ...]
    criticality: int | None
    published_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FeedResponse:
    response_id: uuid.UUID
    story_id: uuid.UUID
    story_title: str
    organisation_name: str
    responder_name: str
    responder_role: str
    body: str
    change: str | None
    posted_at: datetime


@dataclass(frozen=True, slots=True)
class Feed:
    xml: bytes
    etag: str
    last_modified: datetime


# What XML 1.0 cannot carry at all (C0 controls but tab, newline and return; the
# surrogates; U+FFFE and U+FFFF): a filter value or a story may hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def trimmed(text: str, limit: int = SUMMARY_CHARS) -> str:
    text = " ".join(xml_text(text).split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def tag_uri(base_url: str, kind: str, thing: uuid.UUID | str) -> str:
    host = urlsplit(base_url).hostname or "candour.invalid"
    return f"tag:{host},{TAG_YEAR}:{kind}/{thing}"


def stories_feed(stories: Sequence[FeedStory], *, base_url: str, self_url: str, title: str) -> Feed:
    fg = _feed(base_url, self_url, title, kind="stories", key=self_url)
    newest = max((s.updated_at for s in stories), default=datetime(2000, 1, 1, tzinfo=UTC))
    fg.updated(newest)
    for story in reversed(stories):  # feedgen prepends: add oldest first
        entry = fg.add_entry()
        entry.id(tag_uri(base_url, "story", story.story_id))
        entry.title(xml_text(story.title))
        entry.author({"name": xml_text(story.author_name or ANONYMOUS)})
        entry.link(href=f"{base_url}/stories/{story.story_id}", rel="alternate", type="text/html")
        entry.published(story.published_at)
        entry.updated(story.updated_at)
        about = story.organisation_name + (f", {story.service_name}" if story.service_name else "")
        entry.summary(f"About {xml_text(about)}. {trimmed(story.body)}")
        for tag in story.tags:
            entry.category(term=xml_text(tag), scheme=TAG_SCHEME, label=xml_text(tag))
        if story.criticality is not None:
            entry.category(
                term=str(story.criticality),
                scheme=CRITICALITY_SCHEME,
                label=CRITICALITY_LABELS[story.criticality],
            )
    return _finish(fg, newest, [(s.story_id, s.updated_at) for s in stories], self_url)


def responses_feed(
    responses: Sequence[FeedResponse], *, base_url: str, self_url: str, title: str
) -> Feed:
    fg = _feed(base_url, self_url, title, kind="responses", key=self_url)
    newest = max((r.posted_at for r in responses), default=datetime(2000, 1, 1, tzinfo=UTC))
    fg.updated(newest)
    for response in reversed(responses):
        entry = fg.add_entry()
        entry.id(tag_uri(base_url, "response", response.response_id))
        entry.title(xml_text(f"{response.organisation_name} responded to “{response.story_title}”"))
        entry.author({"name": xml_text(f"{response.responder_name}, {response.responder_role}")})
        entry.link(
            href=f"{base_url}/stories/{response.story_id}#response-{response.response_id}",
            rel="alternate",
            type="text/html",
        )
        entry.published(response.posted_at)
        entry.updated(response.posted_at)
        entry.summary(trimmed(response.body))
        if response.change:
            entry.category(
                term=f"change-{response.change}",
                scheme="https://candour.example/progress",
                label=f"change {response.change}",
            )
    return _finish(fg, newest, [(r.response_id, r.posted_at) for r in responses], self_url)


def _feed(base_url: str, self_url: str, title: str, *, kind: str, key: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(tag_uri(base_url, f"feed/{kind}", hashlib.sha256(key.encode()).hexdigest()[:16]))
    fg.title(xml_text(title))
    fg.author({"name": "Candour"})
    fg.link(href=self_url, rel="self", type="application/atom+xml")
    fg.link(href=f"{base_url}/search", rel="alternate", type="text/html")
    fg.language("en")
    return fg


def _finish(
    fg: FeedGenerator,
    newest: datetime,
    entries: Sequence[tuple[uuid.UUID, datetime]],
    self_url: str,
) -> Feed:
    digest = hashlib.sha256(self_url.encode())
    for thing, when in entries:
        digest.update(f"{thing}@{when.isoformat()}".encode())
    xml: bytes = fg.atom_str(pretty=True)
    return Feed(xml=xml, etag=f'"{digest.hexdigest()[:32]}"', last_modified=newest)
