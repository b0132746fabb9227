from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from candour_common.events import Tags
from candour_search.domain import (
    MAX_LIMIT,
    PROGRESS_CONDITIONS,
    Cursor,
    InvalidQuery,
    Progress,
    Ref,
    SearchStories,
    Sort,
    StoryHit,
    WindowEdge,
    normalise_tag,
    plain_snippet,
    progress_of,
    searchable_tags,
)

pytestmark = pytest.mark.unit

STORY = uuid.UUID("7d1c1a4e-0000-4000-8000-000000000001")
WHEN = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def hit(rank: float | None = None) -> StoryHit:
    return StoryHit(
        story_id=STORY,
        title="t",
        snippet="s",
        organisation=Ref("RX1", "Trust"),
        service=None,
        tags=(),
        criticality=None,
        published_at=WHEN,
        response_count=0,
        rank=rank,
    )


# ---------------------------------------------------------------- cursors


@pytest.mark.parametrize("rank", [None, 0.0607927, 1e-20, 0.1 + 0.2])
def test_cursor_round_trips_exactly(rank: float | None) -> None:
    sort = Sort.NEWEST if rank is None else Sort.RELEVANCE
    cursor = Cursor(sort=sort, published_at=WHEN, story_id=STORY, fingerprint="abc", rank=rank)
    token = cursor.encode()
    assert Cursor.decode(token) == cursor
    assert "=" not in token  # URL-safe without escaping


@pytest.mark.parametrize("rank", [0.25, None])
def test_a_relevance_cursor_carries_the_edge_of_its_window(rank: float | None) -> None:
    # rank None: the pages have gone past the ranked window, into the older matches.
    edge = WindowEdge(published_at=WHEN - timedelta(days=3), story_id=uuid.uuid4())
    cursor = Cursor(
        sort=Sort.RELEVANCE,
        published_at=WHEN,
        story_id=STORY,
        fingerprint="abc",
        rank=rank,
        window=edge,
    )
    decoded = Cursor.decode(cursor.encode())
    assert decoded == cursor
    assert decoded.past_window is (rank is None)


def test_cursor_keeps_the_timezone_offset() -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=2)))
    cursor = Cursor(sort=Sort.NEWEST, published_at=local, story_id=STORY, fingerprint="f")
    assert Cursor.decode(cursor.encode()).published_at == WHEN


def _token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


GOOD = {"v": 1, "s": "newest", "t": WHEN.isoformat(), "i": str(STORY), "f": "x"}


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64!",
        "bm90IGpzb24",  # "not json"
        _token([1, 2]),
        _token({**GOOD, "v": 2}),
        _token({**GOOD, "s": "sideways"}),
        _token({**GOOD, "t": "yesterday"}),
        _token({**GOOD, "t": "2025-03-04T05:06:07"}),  # no offset
        _token({**GOOD, "i": "not-a-uuid"}),
        _token({k: v for k, v in GOOD.items() if k != "f"}),
        _token({**GOOD, "f": 7}),
        _token({**GOOD, "r": 0.5}),  # newest has no rank
        _token({**GOOD, "s": "relevance"}),  # relevance needs one
        _token({**GOOD, "s": "relevance", "r": "high"}),
        _token({**GOOD, "s": "relevance", "r": True}),
        _token({**GOOD, "s": "relevance", "r": float("nan")}),
        _token({**GOOD, "s": "relevance", "r": float("inf")}),
        _token({**GOOD, "w": [WHEN.isoformat(), str(STORY)]}),  # newest has no window
        _token({**GOOD, "s": "relevance", "r": 0.5, "w": "yesterday"}),
        _token({**GOOD, "s": "relevance", "r": 0.5, "w": [WHEN.isoformat()]}),
        _token({**GOOD, "s": "relevance", "r": 0.5, "w": ["2025-03-04T05:06:07", str(STORY)]}),
        _token({**GOOD, "s": "relevance", "r": 0.5, "w": [WHEN.isoformat(), "x"]}),
    ],
)
def test_cursor_decode_refuses_anything_it_did_not_issue(token: str) -> None:
    with pytest.raises(InvalidQuery) as caught:
        Cursor.decode(token)
    assert caught.value.parameter == "cursor"


def test_next_cursor_is_accepted_by_the_same_query() -> None:
    query = SearchStories(q="nurse", tags=("Kind",), limit=5)
    token = query.cursor_after(hit(rank=0.25))
    following = SearchStories(q="nurse", tags=("kind",), limit=50, cursor=token)
    assert following.after is not None
    assert following.after.rank == 0.25
    assert following.after.story_id == STORY


@pytest.mark.parametrize(
    "other",
    [
        {"q": "doctor"},
        {"q": "nurse", "organisation_id": "RX1"},
        {"q": "nurse", "sort": Sort.NEWEST},
        {"q": "nurse", "min_criticality": 2},
        {"q": "nurse", "responded": True},
        {"q": "nurse", "published_from": date(2025, 1, 1)},
    ],
)
def test_a_cursor_is_refused_by_a_different_query(other: dict[str, object]) -> None:
    token = SearchStories(q="nurse").cursor_after(hit(rank=0.25))
    with pytest.raises(InvalidQuery) as caught:
        SearchStories(**other, cursor=token)  # type: ignore[arg-type]
    assert caught.value.parameter == "cursor"


def test_cursor_fingerprint_ignores_limit_and_whitespace() -> None:
    assert (
        SearchStories(q=" nurse  care ", limit=3).fingerprint()
        == SearchStories(q="nurse care", limit=99).fingerprint()
    )


# ---------------------------------------------------------------- query validation


def test_defaults() -> None:
    query = SearchStories()
    assert query.q is None
    assert query.limit == 20
    assert query.effective_sort is Sort.NEWEST
    assert query.after is None


def test_empty_or_blank_q_means_newest_first() -> None:
    assert SearchStories(q="   ").q is None
    assert SearchStories(q="", sort=Sort.RELEVANCE).effective_sort is Sort.NEWEST


def test_relevance_is_the_default_with_words() -> None:
    assert SearchStories(q="nurse").effective_sort is Sort.RELEVANCE
    assert SearchStories(q="nurse", sort=Sort.NEWEST).effective_sort is Sort.NEWEST


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": MAX_LIMIT + 1}, "limit"),
        ({"min_criticality": -1}, "min_criticality"),
        ({"max_criticality": 6}, "max_criticality"),
        ({"min_criticality": 4, "max_criticality": 2}, "min_criticality"),
        ({"published_from": date(2025, 2, 1), "published_to": date(2025, 1, 1)}, "published_from"),
        ({"q": "x" * 501}, "q"),
        ({"tags": tuple(f"t{i}" for i in range(11))}, "tag"),
        ({"tags": ("x" * 101,)}, "tag"),
        ({"q": "nurse\x00"}, "q"),
        ({"organisation_id": "R\x00"}, "organisation_id"),
        ({"service_id": "\x00"}, "service_id"),
        ({"tags": ("a\x00b",)}, "tag"),
    ],
)
def test_invalid_parameters_are_named(kwargs: dict[str, object], parameter: str) -> None:
    with pytest.raises(InvalidQuery) as caught:
        SearchStories(**kwargs)  # type: ignore[arg-type]
    assert caught.value.parameter == parameter


def test_published_dates_are_whole_utc_days() -> None:
    query = SearchStories(published_from=date(2025, 1, 31), published_to=date(2025, 1, 31))
    assert query.published_since == datetime(2025, 1, 31, tzinfo=UTC)
    assert query.published_before == datetime(2025, 2, 1, tzinfo=UTC)
    assert SearchStories(published_to=date.max).published_before is None
    assert SearchStories().published_since is None


def test_limit_bounds_are_inclusive() -> None:
    assert SearchStories(limit=1).limit == 1
    assert SearchStories(limit=MAX_LIMIT).limit == MAX_LIMIT


def test_equal_bounds_are_allowed() -> None:
    query = SearchStories(min_criticality=3, max_criticality=3)
    assert (query.min_criticality, query.max_criticality) == (3, 3)


def test_tag_filters_are_normalised_and_deduplicated() -> None:
    assert SearchStories(tags=(" Kind  Staff", "kind staff", "", "Waiting")).tags == (
        "kind staff",
        "waiting",
    )


# ---------------------------------------------------------------- tags and snippets


def test_normalise_tag() -> None:
    assert normalise_tag("  Long\tWAIT  times ") == "long wait times"


def test_searchable_tags_merges_every_group_once_in_order() -> None:
    tags = Tags(good=["Kind staff", "clean"], improve=["parking", "kind STAFF"], feelings=["  "])
    assert searchable_tags(tags) == ["kind staff", "clean", "parking"]


def test_plain_snippet_escapes_markup() -> None:
    assert plain_snippet('<script>alert("x")</script> & more') == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more"
    )


def test_plain_snippet_cuts_long_text_at_a_word() -> None:
    body = "word " * 200
    snippet = plain_snippet(body, max_chars=50)
    assert snippet.endswith(" …")
    assert len(snippet) <= 52
    assert "wor …" not in snippet


def test_plain_snippet_collapses_whitespace() -> None:
    assert plain_snippet("one\n\n  two\tthree") == "one two three"


# Every combination the index can hold (a change marker comes with a response).
INDEX_STATES = [(False, False, False)] + [
    (True, planned, made) for planned in (False, True) for made in (False, True)
]


@pytest.mark.parametrize(("responded", "change_planned", "change_made"), INDEX_STATES)
def test_every_story_stands_at_exactly_the_stage_whose_conditions_it_meets(
    responded: bool, change_planned: bool, change_made: bool
) -> None:
    columns = {
        "responded": responded,
        "change_planned": change_planned,
        "change_made": change_made,
    }
    meets = [
        stage
        for stage, wanted in PROGRESS_CONDITIONS.items()
        if all(columns[name] == value for name, value in wanted.items())
    ]
    assert meets == [progress_of(**columns)]


def test_progress_filter_is_part_of_the_cursor_only_when_set() -> None:
    plain = SearchStories(q="nurse")
    assert SearchStories(q="nurse", progress=None).fingerprint() == plain.fingerprint()
    assert SearchStories(q="nurse", progress=Progress.RESPONDED).fingerprint() != (
        plain.fingerprint()
    )
