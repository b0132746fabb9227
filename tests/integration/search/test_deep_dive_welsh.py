"""The deep dive and its "whose voices are missing" section in Welsh, on a real search
database: the page's words, months and numbers through Babel, the sentence made in Python
said in Welsh (the API keeps it English), and the language switch.

The fixtures and helpers are those of the English theme and voices tests.
"""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.integration.search.conftest import SearchHarness
from tests.integration.search.test_themes import PROGRAMME, _load, _rebuild
from tests.integration.search.test_voices import _voices, harness, summary

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

__all__ = ["harness"]  # the fixture, found by its name

WELSH_MONTHS = re.compile(
    r"\b(Ionawr|Chwefror|Mawrth|Ebrill|Mai|Mehefin|Gorffennaf|Awst|Medi|Hydref|Tachwedd|Rhagfyr)"
    r" \d{4}\b"
)


async def test_the_deep_dive_page_in_welsh(search_service: SearchHarness) -> None:
    await _load(search_service, 300)
    empty = await search_service.client.get(f"/insight/{PROGRAMME}?lang=cy")
    assert '<html lang="cy">' in empty.text
    assert "Does dim themâu wedi'u canfod ar gyfer y rhaglen hon eto." in unescape(empty.text)

    await _rebuild(search_service)
    page = await search_service.client.get(f"/insight/{PROGRAMME}", params={"lang": "cy"})
    assert page.status_code == 200
    html = unescape(page.text)
    assert '<html lang="cy">' in html
    assert "<h1>Archwiliad manwl: mental health</h1>" in html
    assert re.search(r'id="language-switch" href="[^"]*lang=en" hreflang="en"', html)
    assert "300 o gofnodion wedi'u cyhoeddi" in html
    assert "<h2>Themâu</h2>" in html and "Beth ddywedodd pobl" in html
    assert re.search(
        r"Newid yn (Ionawr|Chwefror|Mawrth|Ebrill|Mai|Mehefin|Gorffennaf|Awst|Medi|"
        r"Hydref|Tachwedd|Rhagfyr) \d{4}",
        html,
    )
    assert WELSH_MONTHS.search(html)  # the sparklines' months
    assert re.search(r"\d+ cofnod; ffynonellau: gwe \d+", html)
    assert "Pa leisiau sydd ar goll" in html
    assert "published entries" not in html and "Whose voices" not in html

    english = await search_service.client.get(f"/insight/{PROGRAMME}", params={"lang": "en"})
    assert "<h1>Deep dive: mental health</h1>" in english.text
    assert "300 published entries" in english.text

    missing = await search_service.client.get("/insight/no%20such?lang=cy")
    assert missing.status_code == 404 and "Heb ddod o hyd i'r rhaglen" in unescape(missing.text)


async def test_whose_voices_are_missing_in_welsh(harness: SearchHarness) -> None:
    await harness.consumed(await harness.publish(summary()))

    page = await harness.client.get(f"/insight/{PROGRAMME}?lang=cy")
    html = unescape(page.text)
    assert '<html lang="cy">' in html
    assert "O'u cymharu â phoblogaeth Bradford, mae'r grwpiau hyn wedi'u tangynrychioli:" in html
    assert "grŵp ethnig: " in html  # the characteristic, from the shared catalogue
    assert "is na phedair rhan o bump" in html  # the rule
    assert "llai na 5" in html and "32%" in html
    assert "Atebodd 31 o bobl" in html
    assert "Cyfrifwyd ddiwethaf 5 Mawrth 2025." in html
    assert "under-represented" not in html

    # The API stays English.
    body = await _voices(harness)
    assert str(body["sentence"]).startswith("Compared with the population of Bradford")
