"""Searching by language (issue 20), without servers: the query, its cursor, which counts
can answer it, and how its words are matched against stories of each language."""

from __future__ import annotations

import pytest

from candour_common.events import StoryLanguage
from candour_search.adapters.sql import Params, match
from candour_search.counting import rollup_plan
from candour_search.domain import InvalidQuery, SearchStories, Sort
from tests.unit.search.test_domain import hit

pytestmark = pytest.mark.unit


def test_a_cursor_belongs_to_its_language() -> None:
    welsh = SearchStories(q="aros", language=StoryLanguage.WELSH)
    both = SearchStories(q="aros")
    assert welsh.fingerprint() != both.fingerprint()
    assert (
        welsh.fingerprint() != SearchStories(q="aros", language=StoryLanguage.ENGLISH).fingerprint()
    )
    # A query without a language keeps the fingerprint it had before languages existed.
    assert both.fingerprint() == SearchStories(q="aros", sort=Sort.RELEVANCE).fingerprint()


def test_a_welsh_cursor_is_refused_on_another_language() -> None:
    cursor = SearchStories(language=StoryLanguage.WELSH).cursor_after(hit())
    SearchStories(language=StoryLanguage.WELSH, cursor=cursor)  # its own query: fine
    with pytest.raises(InvalidQuery) as caught:
        SearchStories(language=StoryLanguage.ENGLISH, cursor=cursor)
    assert caught.value.parameter == "cursor"


def test_the_count_tables_do_not_answer_a_language() -> None:
    assert rollup_plan(SearchStories(organisation_id="RXA")) is not None
    assert rollup_plan(SearchStories(organisation_id="RXA", language=StoryLanguage.WELSH)) is None


def test_one_language_matches_its_own_configuration_only() -> None:
    params = Params()
    m = match(SearchStories(q="aros", language=StoryLanguage.WELSH), params)
    assert "websearch_to_tsquery('candour_welsh'" in m.source
    assert "'english'" not in m.source
    assert m.words == "s.document @@ tsq"
    assert params.values == ["aros", "cy"]
    assert "s.language = $2" in m.filters


def test_both_languages_match_each_story_by_its_own_form_of_the_words() -> None:
    m = match(SearchStories(q="staff -waiting"), Params())
    # One tsquery for the index (a constant the planner estimates), built in the database.
    assert "search_words_any_language($1) AS tsq" in m.source
    assert m.words == "s.document @@ tsq"
    # Each story's own form ranks it and marks its snippet.
    assert "websearch_to_tsquery('english', $1) AS tsq_en" in m.source
    assert "websearch_to_tsquery('candour_welsh', $1) AS tsq_cy" in m.source
    assert m.story_words == "CASE WHEN s.language = 'cy' THEN tsq_cy ELSE tsq_en END"
    assert not any("language" in f for f in m.filters)
