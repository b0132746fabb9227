"""The search page says "about" for counts estimated from the sample, and nothing for exact."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest

from candour_search.domain import FacetCount, Facets, Ref, SearchPage, StoryHit
from candour_search.entrypoints import pages
from candour_search.settings import SearchSettings

pytestmark = pytest.mark.unit


def page(*, estimated: bool, total: int) -> SearchPage:
    hit = StoryHit(
        story_id=uuid.uuid4(),
        title="Kind nurses",
        snippet="The <mark>nurses</mark> were kind.",
        organisation=Ref("R1", "Riverside"),
        service=None,
        tags=(),
        criticality=2,
        published_at=datetime(2025, 6, 1, tzinfo=UTC),
        response_count=0,
        rank=0.5,
    )
    return SearchPage(
        total=total,
        hits=(hit,),
        facets=Facets(
            organisation=(FacetCount("R1", "Riverside", total),),
            criticality=(FacetCount("2", "moderately critical", total),),
        ),
        next_cursor=None,
        total_is_estimate=estimated,
        facets_are_estimates=estimated,
    )


def rendered(result: SearchPage) -> str:
    templates = pages.create_templates(SearchSettings())
    form = pages.SearchForm(q="nurses")
    context = pages._search_context(form, result, {})
    html = templates.env.get_template("search.html").render(
        {**context, "request": None, "csrf_token": "x"}
    )
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_an_estimated_total_and_facets_say_about() -> None:
    text = rendered(page(estimated=True, total=412_000))
    assert "About 412,000 stories matching “nurses”" in text
    assert "Riverside (about 412,000)" in text
    assert "or more (about 412,000)" in text


def test_an_exact_total_is_shown_as_it_is() -> None:
    text = rendered(page(estimated=False, total=1_234))
    assert "1,234 stories matching “nurses”" in text
    assert "Riverside (1,234)" in text
    assert "about 1,234" not in text.lower()
