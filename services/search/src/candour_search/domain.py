"""What search knows: published stories as the index holds them, and search queries.

Everything here is pure (no I/O), so it is unit-tested without servers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from candour_common.events import ANONYMOUS, ChangeMarker, Relationship, StoryLanguage, Tags
from candour_common.translatable import N_

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_QUERY_CHARS = 500
MAX_TAG_FILTERS = 10
MAX_TAG_CHARS = 100
FACET_SIZE = 20
# By relevance, the newest this many matches are ranked (a bounded first pass: ranking
# every match of a common word would read every matching document); older matches follow,
# newest first.
RELEVANCE_WINDOW = 200
PLAIN_SNIPPET_CHARS = 240


class Sort(StrEnum):
    RELEVANCE = "relevance"
    NEWEST = "newest"


class InvalidQuery(ValueError):
    """A search parameter is invalid; `parameter` names it for the client."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


# ---------------------------------------------------------------- tags


def normalise_tag(tag: str) -> str:
    """Tags are free text; one spelling per tag makes filters and facets useful."""
    return " ".join(tag.split()).lower()


def searchable_tags(tags: Tags) -> list[str]:
    """Every tag of a story, normalised and distinct, in first-seen order."""
    seen: dict[str, None] = {}
    for tag in (*tags.good, *tags.improve, *tags.feelings):
        normalised = normalise_tag(tag)
        if normalised:
            seen.setdefault(normalised, None)
    return list(seen)


# ---------------------------------------------------------------- snippets


def plain_snippet(body: str, max_chars: int = PLAIN_SNIPPET_CHARS) -> str:
    """The start of `body`, cut at a word boundary, HTML-escaped (used when nothing matched)."""
    text = " ".join(body.split())
    if len(text) > max_chars:
        cut = text[:max_chars]
        space = cut.rfind(" ")
        text = (cut[:space] if space > max_chars // 2 else cut).rstrip(" ,.;:") + " …"
    return html.escape(text, quote=True)


# ---------------------------------------------------------------- progress


class Progress(StrEnum):
    """Where a published story stands, each stage after the one before."""

    PUBLISHED = "published"
    RESPONDED = "responded"
    CHANGE_PLANNED = "change_planned"
    CHANGE_MADE = "change_made"


PROGRESS_LABELS = {
    Progress.PUBLISHED: N_("Published"),
    Progress.RESPONDED: N_("Responded"),
    Progress.CHANGE_PLANNED: N_("Change planned"),
    Progress.CHANGE_MADE: N_("Change made"),
}

# What the index's columns must be for a story to stand at each stage: a filter on
# progress is these conditions, over the stories or over the count tables alike.
PROGRESS_CONDITIONS: dict[Progress, dict[str, bool]] = {
    Progress.PUBLISHED: {"responded": False},
    Progress.RESPONDED: {"responded": True, "change_planned": False, "change_made": False},
    Progress.CHANGE_PLANNED: {"change_planned": True, "change_made": False},
    Progress.CHANGE_MADE: {"change_made": True},
}


def progress_of(*, responded: bool, change_planned: bool, change_made: bool) -> Progress:
    """The furthest stage a story has reached (a change made counts even if no response
    said it was planned first)."""
    if change_made:
        return Progress.CHANGE_MADE
    if change_planned:
        return Progress.CHANGE_PLANNED
    if responded:
        return Progress.RESPONDED
    return Progress.PUBLISHED


# ---------------------------------------------------------------- the index


@dataclass(frozen=True, slots=True)
class Ref:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class PublishedResponse:
    response_id: UUID
    posted_at: datetime
    responder_name: str
    responder_role: str
    body: str
    change: ChangeMarker | None
    edited_at: datetime | None = None  # its responder corrected it after posting


@dataclass(frozen=True, slots=True)
class PublishedStory:
    story_id: UUID
    revision: int
    title: str
    body: str
    organisation: Ref
    service: Ref | None
    author_name: str | None  # None: the author chose no name ("Anonymous")
    author_relationship: Relationship
    tags: Tags
    criticality: int | None
    experienced_at: str | None
    published_at: datetime
    responses: tuple[PublishedResponse, ...] = ()
    # From story.approved: what screening found (suicide, self_harm, ...).
    safeguarding_categories: tuple[str, ...] = ()
    language: StoryLanguage = StoryLanguage.ENGLISH

    @property
    def shown_author(self) -> str:
        """The author's name as pages, feeds and the API show it."""
        return self.author_name or ANONYMOUS

    @property
    def may_distress_readers(self) -> bool:
        """It mentions suicide or self-harm: its page offers readers help."""
        return bool({"suicide", "self_harm"} & set(self.safeguarding_categories))

    @property
    def progress(self) -> Progress:
        return progress_of(
            responded=bool(self.responses),
            change_planned=any(r.change is ChangeMarker.PLANNED for r in self.responses),
            change_made=any(r.change is ChangeMarker.MADE for r in self.responses),
        )


@dataclass(frozen=True, slots=True)
class StoryHit:
    story_id: UUID
    title: str
    snippet: str
    organisation: Ref
    service: Ref | None
    tags: tuple[str, ...]
    criticality: int | None
    published_at: datetime
    response_count: int
    rank: float | None
    change_planned: bool = False
    change_made: bool = False
    language: StoryLanguage = StoryLanguage.ENGLISH

    @property
    def progress(self) -> Progress:
        return progress_of(
            responded=self.response_count > 0,
            change_planned=self.change_planned,
            change_made=self.change_made,
        )


@dataclass(frozen=True, slots=True)
class FacetCount:
    value: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class Facets:
    organisation: tuple[FacetCount, ...] = ()
    service: tuple[FacetCount, ...] = ()
    tag: tuple[FacetCount, ...] = ()
    criticality: tuple[FacetCount, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int
    hits: tuple[StoryHit, ...]
    facets: Facets
    next_cursor: str | None
    # Counted over a sample of the index rather than over every match (many matches).
    total_is_estimate: bool = False
    facets_are_estimates: bool = False


# ---------------------------------------------------------------- queries and cursors


@dataclass(frozen=True, slots=True)
class WindowEdge:
    """The oldest story of a relevance window (see RELEVANCE_WINDOW): the window is every
    match at or after it, so later pages rank the same stories as the first did."""

    published_at: datetime
    story_id: UUID


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts: the sort key of the last hit of this page.

    `fingerprint` ties it to the query that made it, so a cursor pasted onto
    another query is refused instead of silently skipping or repeating stories.

    By relevance, `window` is the edge of the ranked window (None: the window held every
    match); `rank` is None once the pages have gone past the window into the older
    matches, which follow newest first.
    """

    sort: Sort
    published_at: datetime
    story_id: UUID
    fingerprint: str
    rank: float | None = None
    window: WindowEdge | None = None

    @property
    def past_window(self) -> bool:
        return self.sort is Sort.RELEVANCE and self.rank is None

    def encode(self) -> str:
        payload: dict[str, Any] = {
            "v": 1,
            "s": self.sort.value,
            "t": self.published_at.isoformat(),
            "i": str(self.story_id),
            "f": self.fingerprint,
        }
        if self.rank is not None:
            payload["r"] = self.rank
        if self.window is not None:
            payload["w"] = [self.window.published_at.isoformat(), str(self.window.story_id)]
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Parse a token from `encode`; InvalidQuery("cursor", ...) for anything else."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            payload = json.loads(raw)
        except (binascii.Error, ValueError) as exc:
            raise InvalidQuery("cursor", "is not a cursor this service issued") from exc
        if not isinstance(payload, dict) or payload.get("v") != 1:
            raise InvalidQuery("cursor", "is not a cursor this service issued")
        try:
            sort = Sort(payload["s"])
            published_at = datetime.fromisoformat(payload["t"])
            story_id = UUID(payload["i"])
            fingerprint = payload["f"]
            rank = payload.get("r")
            window = _window_edge(payload.get("w"))
            if not isinstance(fingerprint, str):
                raise TypeError("fingerprint")
            if published_at.tzinfo is None:
                raise ValueError("naive time")
            if sort is Sort.RELEVANCE:
                if rank is not None:
                    if isinstance(rank, bool) or not isinstance(rank, int | float):
                        raise TypeError("rank")
                    rank = float(rank)
                    if not math.isfinite(rank):
                        raise ValueError("rank")
                elif window is None:
                    raise TypeError("past a window that is not given")
            elif rank is not None or window is not None:
                raise TypeError("rank")
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidQuery("cursor", "is not a cursor this service issued") from exc
        return cls(
            sort=sort,
            published_at=published_at,
            story_id=story_id,
            fingerprint=fingerprint,
            rank=rank,
            window=window,
        )


def _window_edge(value: Any) -> WindowEdge | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise TypeError("window")
    published_at = datetime.fromisoformat(value[0])
    if published_at.tzinfo is None:
        raise ValueError("naive time")
    return WindowEdge(published_at=published_at, story_id=UUID(value[1]))


@dataclass(frozen=True, slots=True)
class SearchStories:
    """Query: find published stories (all filters combine with AND)."""

    q: str | None = None
    organisation_id: str | None = None
    service_id: str | None = None
    tags: tuple[str, ...] = ()
    min_criticality: int | None = None
    max_criticality: int | None = None
    responded: bool | None = None
    change: ChangeMarker | None = None
    progress: Progress | None = None
    published_from: date | None = None
    published_to: date | None = None
    # Only stories written in this language (None: both).
    language: StoryLanguage | None = None
    sort: Sort | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    after: Cursor | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        q = " ".join(self.q.split()) if self.q else None
        object.__setattr__(self, "q", q or None)
        object.__setattr__(
            self, "tags", tuple(dict.fromkeys(t for t in map(normalise_tag, self.tags) if t))
        )
        if self.q is not None and len(self.q) > MAX_QUERY_CHARS:
            raise InvalidQuery("q", f"must be at most {MAX_QUERY_CHARS} characters")
        if len(self.tags) > MAX_TAG_FILTERS:
            raise InvalidQuery("tag", f"at most {MAX_TAG_FILTERS} tags")
        if any(len(t) > MAX_TAG_CHARS for t in self.tags):
            raise InvalidQuery("tag", f"each tag must be at most {MAX_TAG_CHARS} characters")
        # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database.
        for name, text in (
            ("q", self.q),
            ("organisation_id", self.organisation_id),
            ("service_id", self.service_id),
            ("tag", "".join(self.tags)),
        ):
            if text is not None and "\x00" in text:
                raise InvalidQuery(name, "must not contain NUL characters")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidQuery("limit", f"must be between 1 and {MAX_LIMIT}")
        for name in ("min_criticality", "max_criticality"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 5:
                raise InvalidQuery(name, "must be between 0 and 5")
        if (
            self.min_criticality is not None
            and self.max_criticality is not None
            and self.min_criticality > self.max_criticality
        ):
            raise InvalidQuery("min_criticality", "must not be greater than max_criticality")
        if (
            self.published_from is not None
            and self.published_to is not None
            and self.published_from > self.published_to
        ):
            raise InvalidQuery("published_from", "must not be after published_to")
        if self.cursor is not None:
            after = Cursor.decode(self.cursor)
            if after.fingerprint != self.fingerprint() or after.sort is not self.effective_sort:
                raise InvalidQuery("cursor", "belongs to a different query")
            object.__setattr__(self, "after", after)

    @property
    def published_since(self) -> datetime | None:
        """Start of `published_from` (UTC), inclusive."""
        if self.published_from is None:
            return None
        return datetime.combine(self.published_from, time.min, tzinfo=UTC)

    @property
    def published_before(self) -> datetime | None:
        """Start of the day after `published_to` (UTC), exclusive; None if unbounded."""
        if self.published_to is None or self.published_to == date.max:
            return None
        return datetime.combine(self.published_to + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def effective_sort(self) -> Sort:
        """Relevance needs words to rank by; without `q` the newest come first."""
        if self.q is None:
            return Sort.NEWEST
        return self.sort or Sort.RELEVANCE

    def fingerprint(self) -> str:
        """A digest of everything that decides which stories match and in what order."""
        key = [
            self.q,
            self.organisation_id,
            self.service_id,
            sorted(self.tags),
            self.min_criticality,
            self.max_criticality,
            self.responded,
            self.change.value if self.change else None,
            self.published_from.isoformat() if self.published_from else None,
            self.published_to.isoformat() if self.published_to else None,
            self.effective_sort.value,
            # Only when set, so cursors issued before progress existed stay valid.
            *([self.progress.value] if self.progress is not None else []),
            # Likewise the language (as a pair: never mistaken for a progress).
            *([["language", self.language.value]] if self.language is not None else []),
        ]
        digest = hashlib.sha256(json.dumps(key, separators=(",", ":")).encode()).hexdigest()
        return digest[:16]

    def cursor_after(self, hit: StoryHit, window: WindowEdge | None = None) -> str:
        """The cursor of the page after `hit`; by relevance, `window` is the edge of the
        ranked window (and a hit without a rank is past it)."""
        sort = self.effective_sort
        return Cursor(
            sort=sort,
            published_at=hit.published_at,
            story_id=hit.story_id,
            fingerprint=self.fingerprint(),
            rank=hit.rank if sort is Sort.RELEVANCE else None,
            window=window if sort is Sort.RELEVANCE else None,
        ).encode()


# ---------------------------------------------------------------- statistics


class StatsGrouping(StrEnum):
    MONTH = "month"
    TAG = "tag"
    SERVICE = "service"
    CRITICALITY = "criticality"


@dataclass(frozen=True, slots=True)
class StoryStatsQuery:
    """Query: how stories were answered, over a set of stories and optionally per group.

    `published_from`/`published_to` are inclusive UTC dates, as in search.
    """

    organisation_id: str | None = None
    service_id: str | None = None
    published_from: date | None = None
    published_to: date | None = None
    group_by: StatsGrouping | None = None

    def __post_init__(self) -> None:
        for name in ("organisation_id", "service_id"):
            value = getattr(self, name)
            if value is not None and "\x00" in value:
                raise InvalidQuery(name, "must not contain NUL characters")
        if (
            self.published_from is not None
            and self.published_to is not None
            and self.published_from > self.published_to
        ):
            raise InvalidQuery("from", "must not be after to")

    @property
    def published_since(self) -> datetime | None:
        if self.published_from is None:
            return None
        return datetime.combine(self.published_from, time.min, tzinfo=UTC)

    @property
    def published_before(self) -> datetime | None:
        if self.published_to is None or self.published_to == date.max:
            return None
        return datetime.combine(self.published_to + timedelta(days=1), time.min, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StoryStats:
    """The answer figures for a set of stories."""

    stories: int
    responded: int
    median_hours_to_first_response: float | None
    change_planned: int
    change_made: int
    # Estimated from the sample of the index (large sets): see adapters/stats_repository.py.
    counts_are_estimates: bool = False
    median_is_estimate: bool = False

    @property
    def responded_share(self) -> float | None:
        """Share of the stories with at least one response (None for no stories)."""
        return self.responded / self.stories if self.stories else None


@dataclass(frozen=True, slots=True)
class StatsGroup:
    """One group's figures; `value` None is the group of stories without one (no service,
    no criticality)."""

    value: str | None
    label: str
    stats: StoryStats


@dataclass(frozen=True, slots=True)
class StatsReport:
    overall: StoryStats
    group_by: StatsGrouping | None
    groups: tuple[StatsGroup, ...] = ()


MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def month_label(value: str) -> str:
    """`2025-06` -> `June 2025`."""
    year, month = value.split("-")
    return f"{MONTH_NAMES[int(month) - 1]} {year}"
