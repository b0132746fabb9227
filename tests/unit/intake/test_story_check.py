"""The author's check before sending (service_layer.check) with fakes of its adapters."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from candour_intake.domain import Organisation, Service, UnknownOrganisation, UnknownService
from candour_intake.entrypoints.check_pages import REMOVE_ALL, check_view, removed
from candour_intake.service_layer.check import SUPPORT, CheckStory, StoryCheck, check_story
from candour_screening import (
    Redaction,
    RedactionKind,
    Safeguarding,
    SafeguardingCategory,
    SafeguardingLevel,
    SafeguardingMatch,
    Screening,
)

TRUST = Organisation(
    id="TAD",
    name="Bradford District Care NHS Foundation Trust",
    type="nhs_trust",
    services=(Service(id="TAD-CMHT", name="Community mental health team"),),
)


class FakeScreener:
    """Answers with a fixed screening and remembers what it was asked."""

    def __init__(self, screening: Screening) -> None:
        self.screening = screening
        self.calls: list[tuple[dict[str, str], str | None]] = []

    async def screen(
        self, fields: Mapping[str, str], *, author_name: str | None = None
    ) -> Screening:
        self.calls.append((dict(fields), author_name))
        return self.screening


async def find(organisation_id: str) -> Organisation | None:
    return TRUST if organisation_id == TRUST.id else None


def command(**changes: object) -> CheckStory:
    values: dict[str, object] = {
        "title": "Jo was kind",
        "body": "Call me on 07700 900123.",
        "organisation_id": "TAD",
        "service_id": "TAD-CMHT",
        "author_name": "Sam Jones",
    }
    values.update(changes)
    return CheckStory(**values)  # type: ignore[arg-type]


NAME = Redaction("title", 0, 2, "Jo", RedactionKind.PERSON_NAME, "[name]")
PHONE = Redaction("body", 11, 23, "07700 900123", RedactionKind.PHONE, "[phone number]")
# Screening also reads who helped write a story; the author's check never shows that.
HELPER = Redaction("assisted_by", 0, 3, "Ann", RedactionKind.PERSON_NAME, "[name]")


async def test_the_check_screens_title_and_body_with_the_authors_name() -> None:
    screener = FakeScreener(
        Screening(safeguarding=Safeguarding(SafeguardingLevel.NONE), redactions=(NAME, PHONE))
    )
    checked = await check_story(command(), screener=screener, find_organisation=find)
    assert screener.calls == [
        ({"title": "Jo was kind", "body": "Call me on 07700 900123."}, "Sam Jones")
    ]
    assert checked.redactions == (NAME, PHONE)
    assert checked.level is SafeguardingLevel.NONE
    assert checked.support is None


async def test_only_the_authors_own_fields_are_suggested() -> None:
    screener = FakeScreener(
        Screening(safeguarding=Safeguarding(SafeguardingLevel.NONE), redactions=(NAME, HELPER))
    )
    checked = await check_story(command(), screener=screener, find_organisation=find)
    assert checked.redactions == (NAME,)


@pytest.mark.parametrize("level", [SafeguardingLevel.CONCERN, SafeguardingLevel.SERIOUS])
async def test_support_comes_with_any_safeguarding_match(level: SafeguardingLevel) -> None:
    match = SafeguardingMatch(
        "body", 0, 4, "Call", SafeguardingCategory.SUICIDE, level, "intent + plan"
    )
    screener = FakeScreener(Screening(safeguarding=Safeguarding(level, matches=(match,))))
    checked = await check_story(command(), screener=screener, find_organisation=find)
    assert checked.level is level
    assert checked.categories == (SafeguardingCategory.SUICIDE,)
    assert checked.support is SUPPORT
    numbers = [c.phone for c in SUPPORT.contacts]
    assert numbers == ["116 123", "111", "999"]


async def test_an_anonymous_author_is_screened_without_a_name() -> None:
    screener = FakeScreener(Screening(safeguarding=Safeguarding(SafeguardingLevel.NONE)))
    await check_story(command(author_name=None), screener=screener, find_organisation=find)
    assert screener.calls[0][1] is None


@pytest.mark.parametrize(
    ("changes", "error"),
    [({"organisation_id": "NOPE"}, UnknownOrganisation), ({"service_id": "X"}, UnknownService)],
)
async def test_the_directory_rules_of_sending_apply_before_screening(
    changes: dict[str, object], error: type[Exception]
) -> None:
    screener = FakeScreener(Screening(safeguarding=Safeguarding(SafeguardingLevel.NONE)))
    with pytest.raises(error):
        await check_story(command(**changes), screener=screener, find_organisation=find)
    assert screener.calls == []


# ---------------------------------------------------------------- the page's check step


def checked(*redactions: Redaction) -> StoryCheck:
    return StoryCheck(redactions=redactions, level=SafeguardingLevel.NONE, categories=())


def test_the_page_marks_each_detail_in_its_field() -> None:
    values = {"title": "Jo was kind", "body": "Call me on 07700 900123."}
    view = check_view(values, checked(NAME, PHONE))
    title, body = view["fields"]
    assert [(p.text, p.detail) for p in title["pieces"]] == [("Jo", 1), (" was kind", None)]
    assert [(p.text, p.detail) for p in body["pieces"]] == [
        ("Call me on ", None),
        ("07700 900123", 2),
        (".", None),
    ]
    assert [d.button_value for d in view["details"]] == ["title:0:2", "body:11:23"]
    assert view["support"] is None


def test_remove_it_puts_the_replacement_in_for_that_detail_only() -> None:
    values = {"title": "Jo was kind", "body": "Call me on 07700 900123."}
    assert removed(values, checked(NAME, PHONE), "body:11:23")
    assert values == {"title": "Jo was kind", "body": "Call me on [phone number]."}


def test_remove_them_all_and_a_stale_choice() -> None:
    values = {"title": "Jo was kind", "body": "Call me on 07700 900123."}
    assert not removed(dict(values), checked(NAME, PHONE), "body:3:9")
    assert removed(values, checked(NAME, PHONE), REMOVE_ALL)
    assert values == {"title": "[name] was kind", "body": "Call me on [phone number]."}
