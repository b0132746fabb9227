"""HTTP response bodies of search."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from candour_common.events import ChangeMarker, Relationship, StoryLanguage
from candour_search.counting import (
    EXACT_COUNT_LIMIT,
    SAMPLE_RATE,
    SAMPLE_TIERS,
    STATS_EXACT_LIMIT,
)
from candour_search.domain import Progress, StatsGrouping


class RefOut(BaseModel):
    id: str
    name: str


class SearchResultOut(BaseModel):
    story_id: UUID
    title: str
    snippet: str = Field(
        description="HTML-safe extract of the story; matched words are wrapped in `<mark>`."
    )
    organisation: RefOut
    service: RefOut | None
    tags: list[str] = Field(description="The story's tags, normalised (lower case).")
    criticality: int | None = Field(description="0 (not critical) .. 5 (severely critical).")
    published_at: datetime
    response_count: int
    progress: Progress = Field(
        description="Where the story stands: published, then responded, then change planned, "
        "then change made (a response saying a change was made counts even without one "
        "saying it was planned)."
    )
    language: StoryLanguage = Field(
        description="The language the story is written in: `en` (English) or `cy` (Welsh)."
    )


class FacetOut(BaseModel):
    value: str = Field(description="What to pass as the filter parameter to select these.")
    label: str
    count: int = Field(description="How many of all matching stories have this value.")


class FacetsOut(BaseModel):
    organisation: list[FacetOut]
    service: list[FacetOut]
    tag: list[FacetOut]
    criticality: list[FacetOut]


class SearchOut(BaseModel):
    total: int = Field(
        description="How many stories match (all pages); an estimate when "
        "`total_is_estimate` is true."
    )
    total_is_estimate: bool = Field(
        description="True when more stories match than are counted one by one (over "
        f"{EXACT_COUNT_LIMIT:,}, for searches with words or dates, several tags, or a tag "
        "with an organisation or service): `total` is then estimated from a uniform sample "
        f"of 1 story in {SAMPLE_RATE} (or a part of it: 1 in {SAMPLE_TIERS[0][0]:,} or "
        f"{SAMPLE_TIERS[1][0]}), rounded to the precision the sample supports. Searches by "
        "filters alone (organisation, service, one tag, criticality, responded, change, "
        "progress) are "
        "always exact."
    )
    results: list[SearchResultOut]
    facets: FacetsOut = Field(
        description="Counts over every matching story (top 20 values per facet); estimates "
        "when `facets_are_estimates` is true."
    )
    facets_are_estimates: bool = Field(
        description="True when the facet counts are estimated from the sample (as `total`)."
    )
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same other parameters) for the next page."
    )


class AuthorOut(BaseModel):
    display_name: str = Field(
        description='The name the author chose to show; "Anonymous" when they chose none.'
    )
    relationship: Relationship


class TagsOut(BaseModel):
    good: list[str]
    improve: list[str]
    feelings: list[str]


class ResponderOut(BaseModel):
    display_name: str
    role: str


class ResponseOut(BaseModel):
    response_id: UUID
    posted_at: datetime
    responder: ResponderOut
    body: str
    change: ChangeMarker | None


class StoryOut(BaseModel):
    story_id: UUID
    revision: int
    title: str
    body: str
    organisation: RefOut
    service: RefOut | None
    author: AuthorOut
    tags: TagsOut
    criticality: int | None
    criticality_label: str | None
    experienced_at: str | None
    published_at: datetime
    response_count: int
    progress: Progress = Field(
        description="Where the story stands: published, then responded, then change planned, "
        "then change made (a response saying a change was made counts even without one "
        "saying it was planned)."
    )
    language: StoryLanguage = Field(
        description="The language the story is written in: `en` (English) or `cy` (Welsh)."
    )
    responses: list[ResponseOut] = Field(description="Oldest first.")


class StoryStatsOut(BaseModel):
    stories: int = Field(description="How many published stories.")
    responded: int = Field(description="How many of them have at least one response.")
    responded_share: float | None = Field(
        description="responded / stories, 0..1 (null when there are no stories)."
    )
    median_hours_to_first_response: float | None = Field(
        description="Median hours from publication to the first response, over the stories "
        "that have one (null when none has)."
    )
    change_planned: int = Field(description="Stories with a response saying a change is planned.")
    change_made: int = Field(description="Stories with a response saying a change was made.")
    counts_are_estimates: bool = Field(
        description="True when the counts above are estimated from a uniform sample of 1 "
        f"story in {SAMPLE_RATE} (more than {STATS_EXACT_LIMIT:,} stories in scope and a "
        "grouping by tag or criticality over a date range), rounded to the precision the "
        "sample supports."
    )
    median_is_estimate: bool = Field(
        description="True when the median is taken over the sample (more than "
        f"{STATS_EXACT_LIMIT:,} stories in scope); it is then null when the sample holds no "
        "answered story."
    )


class StatsGroupOut(StoryStatsOut):
    value: str | None = Field(
        description="The group: `2025-06` (month), a tag, a service id or a criticality 0..5; "
        "null for stories without a service or a criticality."
    )
    label: str


class StatsOut(BaseModel):
    overall: StoryStatsOut
    group_by: StatsGrouping | None
    groups: list[StatsGroupOut] = Field(
        description="Per group (empty without `group_by`). By tag a story counts once in each "
        "of its tags, so tag groups may add up to more than the overall figures."
    )
