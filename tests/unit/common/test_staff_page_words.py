"""Numbers, times and the "whose voices are missing" sentence made for the staff pages say
themselves in the page's language: English to code and APIs, Welsh on a Welsh page."""

from __future__ import annotations

import html as markup
from datetime import UTC, datetime
from pathlib import Path

import pytest

from candour_common.about_you import Characteristic
from candour_common.translatable import N_, Filled
from candour_common.web import pages
from candour_common.web.dates import TimeInWords
from candour_search.voices import CategoryShare, CharacteristicShares, VoicesView
from tests.unit.common.test_page_language import INTAKE_TEMPLATES, Links, request

pytestmark = pytest.mark.unit

SEARCH_TEMPLATES = INTAKE_TEMPLATES.parents[3] / "search/src/candour_search/templates"


def render(
    source: str, templates_dir: Path = INTAKE_TEMPLATES, **values: object
) -> tuple[str, str]:
    """`source` rendered in Welsh and in English."""
    templates = pages.create_templates(templates_dir, Links())  # type: ignore[arg-type]
    template = templates.env.from_string(source)
    welsh = template.render(**values, request=request(query="lang=cy"))
    english = template.render(**values, request=request())
    return markup.unescape(welsh), markup.unescape(english)


def test_numbers_are_grouped_by_babel_in_the_page_language() -> None:
    assert render("{{ n | number }}", n=12400) == ("12,400", "12,400")
    assert render("{{ n | number }}", n=7) == ("7", "7")


def test_a_time_in_a_message_made_in_python_is_said_in_the_page_language() -> None:
    until = TimeInWords(datetime(2025, 7, 1, 14, 5, tzinfo=UTC))
    assert until == "1 July 2025, 3:05pm BST"
    message = Filled(N_("You are working on this story until {until}."), until=until)
    welsh, english = render("{{ translate(m) }}", m=message)
    assert english == "You are working on this story until 1 July 2025, 3:05pm BST."
    assert welsh == "You are working on this story until 1 Gorffennaf 2025, 3:05yh BST."


def test_the_voices_sentence_names_the_groups_in_the_page_language() -> None:
    view = VoicesView(
        programme="mental-health",
        area="Bradford",
        areas=["Bradford"],
        summarised_at=datetime(2025, 3, 5, tzinfo=UTC),
        characteristics=[
            CharacteristicShares(
                characteristic=Characteristic.ETHNIC_GROUP,
                label="Ethnic group",
                answered=31,
                prefer_not_to_say=None,
                categories=[
                    CategoryShare(
                        "asian", "Asian, Asian British or Asian Welsh", 5, 0.16, 0.32, True
                    )
                ],
            )
        ],
    )
    sentence = view.sentence()
    assert sentence == (
        "Compared with the population of Bradford, these groups are under-represented: "
        "ethnic group: Asian, Asian British or Asian Welsh."
    )
    welsh, english = render("{{ translate(s) }}", SEARCH_TEMPLATES, s=sentence)
    assert english == sentence
    assert welsh.startswith("O'u cymharu â phoblogaeth Bradford, mae'r grwpiau hyn wedi'u")
    assert welsh.endswith(": grŵp ethnig: Asiaidd, Asiaidd Prydeinig neu Asiaidd Cymreig.")
