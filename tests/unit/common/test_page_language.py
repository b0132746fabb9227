"""Which language a page is shown in (`?lang=`, the `lang` cookie, Accept-Language), and
that a page rendered in Welsh says so: `<html lang="cy">`, hreflang alternates, the
switch to English, Welsh words from the catalogues (also inside imported macros), and
Welsh dates."""

from __future__ import annotations

import html as markup
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from candour_common.translatable import N_, Filled
from candour_common.web import i18n, pages

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
INTAKE_TEMPLATES = ROOT / "services/story-intake/src/candour_intake/templates"


@pytest.mark.parametrize(
    ("query", "cookie", "header", "expected"),
    [
        ("cy", None, None, i18n.LanguageChoice("cy", from_query=True)),
        ("CY", "en", "en", i18n.LanguageChoice("cy", from_query=True)),
        ("cy-GB", None, None, i18n.LanguageChoice("cy", from_query=True)),
        ("en", "cy", "cy", i18n.LanguageChoice("en", from_query=True)),
        (None, "cy", "en", i18n.LanguageChoice("cy")),
        (None, None, "cy", i18n.LanguageChoice("cy")),
        (None, None, "cy-GB,cy;q=0.9,en;q=0.8", i18n.LanguageChoice("cy")),
        # q-values decide, not the order; q=0 means "not this one".
        (None, None, "en;q=0.5, cy;q=0.9", i18n.LanguageChoice("cy")),
        (None, None, "cy;q=0, en", i18n.LanguageChoice("en")),
        (None, None, "fr, de;q=0.9, cy;q=0.1", i18n.LanguageChoice("cy")),
        (None, None, "fr, de", i18n.LanguageChoice("en")),
        (None, None, None, i18n.LanguageChoice("en")),
        # Bad values are ignored, and the next source is asked.
        ("fr", None, "cy", i18n.LanguageChoice("cy")),
        ("cy<script>", None, None, i18n.LanguageChoice("en")),
        ("cy-" + "x" * 50, None, None, i18n.LanguageChoice("en")),
        ("", "de", None, i18n.LanguageChoice("en")),
        (None, "cy" * 20, "cy", i18n.LanguageChoice("cy")),
        (None, None, "cy;q=abc, en;q=0.2", i18n.LanguageChoice("en")),
        (None, None, "cy;q=2, en;q=0.2", i18n.LanguageChoice("en")),
        (None, None, ",,;;q=,", i18n.LanguageChoice("en")),
    ],
)
def test_the_page_language_is_negotiated(
    query: str | None, cookie: str | None, header: str | None, expected: i18n.LanguageChoice
) -> None:
    assert i18n.negotiate(query, cookie, header) == expected


def request(
    path: str = "/share", query: str = "", headers: dict[str, str] | None = None
) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "server": ("127.0.0.1", 8001),
            "path": path,
            "root_path": "",
            "query_string": query.encode(),
            "headers": raw,
            "app": Starlette(),
        }
    )


@dataclass
class Links:
    """What the layout needs of a service's settings (its links and its name)."""

    links: dict[str, str] = field(
        default_factory=lambda: {
            "search": "http://127.0.0.1:8004",
            "intake": "http://127.0.0.1:8001",
            "moderation": "http://127.0.0.1:8002",
            "notifications": "http://127.0.0.1:8003",
        }
    )
    service_name: str = "story-intake"

    def public_links(self) -> dict[str, str]:
        return self.links


def render_share(page_request: Request, **extra: object) -> tuple[str, dict[str, str]]:
    templates = pages.create_templates(INTAKE_TEMPLATES, Links())  # type: ignore[arg-type]
    context = {
        "submission_key": "k",
        "organisations": [],
        "values": {"tags": {"good": []}},
        "errors": {"title": "Enter a title for your story"},
        "relationships": {"patient": "I am the patient"},
        "tag_choices": {"good": ("kindness",)},
        "tag_legends": {"good": "What was good?"},
        "max_words": 1000,
        "about_you": [],
        **extra,
    }
    response = pages.render(templates, page_request, "share.html", context)
    cookies = {
        header.split("=", 1)[0]: header
        for name, header in response.headers.items()
        if name == "set-cookie"
    }
    return bytes(response.body).decode(), cookies


def text_of(html: str) -> str:
    return markup.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_lang_cy_gives_the_share_page_in_welsh_and_remembers_the_choice() -> None:
    html, cookies = render_share(request(query="lang=cy"))
    assert '<html lang="cy">' in html
    assert "<h1>Rhannu eich stori</h1>" in html
    # The error summary and the field's message come from imported macros.
    assert "Mae problem wedi codi" in html and "Rhowch deitl i'ch stori" in text_of(html)
    assert "Gwall:" in html
    assert "caredigrwydd" in html and "Fi yw&#39;r claf" in html
    assert "Send my story" not in html and "Share your story" not in html
    # Every language's version of this page, and a switch to the other one.
    assert '<link rel="alternate" hreflang="en" href="http://127.0.0.1:8001/share?lang=en">' in html
    assert '<link rel="alternate" hreflang="cy" href="http://127.0.0.1:8001/share?lang=cy">' in html
    assert re.search(
        r'<a [^>]*id="language-switch" href="[^"]*\?lang=en" hreflang="en" lang="en">English</a>',
        html,
    )
    cookie = cookies["lang"]
    assert cookie.startswith("lang=cy;")
    assert "samesite=lax" in cookie.lower() and "max-age=" in cookie.lower()


def test_a_remembered_or_asked_for_language_is_used_without_setting_the_cookie_again() -> None:
    html, cookies = render_share(request(headers={"Cookie": "lang=cy"}))
    assert '<html lang="cy">' in html and "Anfon fy stori" in html
    assert "lang" not in cookies
    html, cookies = render_share(request(headers={"Accept-Language": "cy,en;q=0.5"}))
    assert '<html lang="cy">' in html and "lang" not in cookies


def test_english_is_the_default_with_a_switch_to_welsh() -> None:
    html, cookies = render_share(request())
    assert '<html lang="en-GB">' in html
    assert "<h1>Share your story</h1>" in html and "There is a problem" in html
    assert re.search(r'<a [^>]*href="[^"]*\?lang=cy" hreflang="cy" lang="cy">Cymraeg</a>', html)
    assert "lang" not in cookies


def test_the_alternates_keep_the_rest_of_the_query() -> None:
    html, _ = render_share(request(path="/search", query="q=nurse&lang=cy"))
    assert 'hreflang="en" href="http://127.0.0.1:8001/search?q=nurse&amp;lang=en"' in html


def test_the_alternates_never_repeat_a_secret_from_the_query() -> None:
    # A private code or an email link's token in a URL must not be copied into the
    # page's head and language switch (it would leak into pages, shares and logs).
    html, _ = render_share(request(path="/follow", query="story=s1&token=sekrit-code"))
    assert "sekrit-code" not in html
    assert 'hreflang="cy" href="http://127.0.0.1:8001/follow?story=s1&amp;lang=cy"' in html


def test_dates_are_in_the_page_language() -> None:
    templates = pages.create_templates(INTAKE_TEMPLATES, Links())  # type: ignore[arg-type]
    moment = datetime(2025, 3, 1, 15, 5, tzinfo=UTC)
    template = templates.env.from_string("{{ moment | uk_date }} | {{ moment | uk_time }}")
    welsh = template.render(moment=moment, request=request(query="lang=cy"))
    english = template.render(moment=moment, request=request())
    assert welsh == "1 Mawrth 2025 | 1 Mawrth 2025, 3:05yh GMT"
    assert english == "1 March 2025 | 1 March 2025, 3:05pm GMT"


def test_a_message_made_in_python_is_translated_as_plain_text() -> None:
    templates = pages.create_templates(INTAKE_TEMPLATES, Links())  # type: ignore[arg-type]
    template = templates.env.from_string("{{ translate(message) }}")
    cy = request(query="lang=cy")
    assert template.render(message="Tell us your story", request=cy) == "Dywedwch eich stori wrthym"
    # Not in the catalogue: shown as it is, escaped, and a % is only a character.
    shown = template.render(message="<b>50% off</b>", request=cy)
    assert shown == "&lt;b&gt;50% off&lt;/b&gt;"


def test_a_message_with_values_is_translated_with_them() -> None:
    templates = pages.create_templates(INTAKE_TEMPLATES, Links())  # type: ignore[arg-type]
    template = templates.env.from_string("{{ translate(message) }}")
    message = Filled(N_("Your story must be {limit} words or fewer"), limit="1,000")
    assert message == "Your story must be 1,000 words or fewer"
    welsh = template.render(message=message, request=request(query="lang=cy"))
    assert markup.unescape(welsh) == "Rhaid i'ch stori fod yn 1,000 o eiriau neu lai"
    assert template.render(message=message, request=request()) == message
