"""The message catalogues match the code, and the pages claimed to be in Welsh are Welsh
throughout.

- Every package's `cy` catalogue holds exactly the messages Babel extracts from its
  templates and Python (babel.cfg): run `make i18n-update` after changing words.
- The catalogues of the packages whose pages are claimed to be Welsh have every
  message translated (every plural form), nothing fuzzy, placeholders kept.
- The claimed templates have no words outside `_()`/`{% trans %}`: what they show is
  either translated or data (a story's title, an organisation's name).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = {
    "common": ROOT / "libs/common/src/candour_common",
    "story-intake": ROOT / "services/story-intake/src/candour_intake",
    "search": ROOT / "services/search/src/candour_search",
    "moderation": ROOT / "services/moderation/src/candour_moderation",
    "notifications": ROOT / "services/notifications/src/candour_notifications",
}
# The pages that are Welsh throughout (with their catalogues): the author's side first.
WELSH_PAGES = {
    "common": [
        "web/templates/base.html",
        "web/templates/macros.html",
        "web/templates/help_now.html",
    ],
    "story-intake": [
        "templates/share.html",
        "templates/share_done.html",
        "templates/follow.html",
        "templates/edit.html",
        "templates/_story_text_fields.html",
        "templates/_story_more_fields.html",
        "templates/_check.html",
        "templates/follow_lookup.html",
        "templates/withdraw_confirm.html",
        "templates/message.html",
        "templates/sign_in.html",
        "templates/respond_home.html",
        "templates/respond.html",
        "templates/respond_preview.html",
        "templates/response_delete.html",
        "templates/_staff_bar.html",
        "templates/_story_and_responses.html",
    ],
    "search": [
        "templates/home.html",
        "templates/search.html",
        "templates/_stories.html",
        "templates/story.html",
        "templates/message.html",
        "templates/organisations.html",
        "templates/organisation.html",
        "templates/_charts.html",
        "templates/_story_map.html",
        "templates/organisation_empty.html",
        "templates/who_listens.html",
        "templates/deep_dive.html",
        "templates/_voices.html",
    ],
    "moderation": [
        "templates/console/sign_in.html",
        "templates/console/queue.html",
        "templates/console/_signed_in.html",
        "templates/console/_badge.html",
        "templates/console/not_found.html",
        "templates/console/story.html",
    ],
    "notifications": [
        "page_templates/alerts/sign_in.html",
        "page_templates/alerts/subscriptions.html",
        "page_templates/alerts/confirm.html",
        "page_templates/alerts/unsubscribe.html",
        "page_templates/alerts/acknowledge.html",
        "page_templates/alerts/delete_confirm.html",
        # Every email, to authors and to staff (subject lines are in adapters/templates.py).
        "templates/_safeguarding.html",
        "templates/_safeguarding.txt",
        "templates/_safeguarding_footer.html",
        "templates/author_published.html",
        "templates/author_published.txt",
        "templates/author_rejected.html",
        "templates/author_rejected.txt",
        "templates/author_response.html",
        "templates/author_response.txt",
        "templates/base.html",
        "templates/bilingual.html",
        "templates/response_alert.html",
        "templates/response_alert.txt",
        "templates/response_digest.html",
        "templates/response_digest.txt",
        "templates/safeguarding_alert.html",
        "templates/safeguarding_alert.txt",
        "templates/safeguarding_realert.html",
        "templates/safeguarding_realert.txt",
        "templates/story_alert.html",
        "templates/story_alert.txt",
        "templates/story_digest.html",
        "templates/story_digest.txt",
        "templates/subscription_confirmation.html",
        "templates/subscription_confirmation.txt",
    ],
}
# Moderation's catalogue also holds the labels of the screening library it shows.
EXTRA_SOURCES = {"moderation": [ROOT / "libs/screening/src/candour_screening"]}


# Words Welsh writes as English does.
SAME_IN_WELSH = {
    "Roma",
    "Tag",
    "staff",
    "Healthwatch",
    "{title} ({published}; {criticality}; {progress})",
    "{service}, {organisation}",
}


def catalogue(package: str) -> Catalog:
    path = PACKAGES[package] / "locale" / "cy" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        return read_po(source)


def extracted(package: str) -> set[str]:
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    return {
        _key(message)
        for source in [PACKAGES[package], *EXTRA_SOURCES.get(package, [])]
        for _, _, message, _, _ in extract_from_dir(str(source), method_map, options_map)
    }


def _key(message: str | tuple[str, ...] | Message) -> str:
    value = message.id if isinstance(message, Message) else message
    return value if isinstance(value, str) else value[0]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_a_catalogue_holds_exactly_the_messages_in_its_code(package: str) -> None:
    in_code = extracted(package)
    in_catalogue = {_key(m) for m in catalogue(package) if m.id}
    assert not in_code - in_catalogue, "not in the catalogue: run `make i18n-update`"
    assert not in_catalogue - in_code, "no longer used: run `make i18n-update`"


@pytest.mark.parametrize("package", sorted(WELSH_PAGES))
def test_every_message_of_the_welsh_pages_is_translated(package: str) -> None:
    found = catalogue(package)
    assert len(found) > 5
    for message in found:
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(form.strip() for form in forms), f"not translated: {message.id!r}"
        assert not message.fuzzy, f"fuzzy: {message.id!r}"
        if message.id not in SAME_IN_WELSH:
            assert message.string != message.id, f"left in English: {message.id!r}"
    problems = [(m.id, [str(e) for e in errors]) for m, errors in found.check()]
    assert not problems, problems


# Data a template shows as it is, and the one name that is the same in both languages.
_NOT_WORDS = re.compile(r"Candour|&[a-z]+;|&#\d+;")
_ATTRIBUTES_TO_TRANSLATE = re.compile(r'\s(?:aria-label|title|placeholder|alt|label)="([^"]*)"')


def _visible_words(template: str) -> list[str]:
    # `+%}` / `-%}`: whitespace control (an email's plain text keeps a line's end).
    text = re.sub(r"{%[-+]?\s*trans\b.*?{%[-+]?\s*endtrans\s*[-+]?%}", " ", template, flags=re.S)
    text = re.sub(r"{#.*?#}", " ", text, flags=re.S)
    text = re.sub(r"{%.*?%}", " ", text, flags=re.S)
    text = re.sub(r"{{.*?}}", " ", text, flags=re.S)
    words: list[str] = []
    for value in _ATTRIBUTES_TO_TRANSLATE.findall(text):
        words += re.findall(r"[A-Za-z]{2,}", value)
    text = re.sub(r"<script\b.*?</script>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)
    return words + re.findall(r"[A-Za-z]{2,}", _NOT_WORDS.sub(" ", text))


@pytest.mark.parametrize(
    "template",
    [PACKAGES[package] / name for package, names in WELSH_PAGES.items() for name in names],
    ids=lambda path: f"{path.parent.parent.name}/{path.name}",
)
def test_a_welsh_page_has_no_words_outside_the_catalogue(template: Path) -> None:
    assert _visible_words(template.read_text(encoding="utf-8")) == []


def test_the_check_finds_words_left_outside() -> None:
    assert _visible_words('<p>Hello {{ _("World") }}</p><a title="Go">x</a>') == ["Go", "Hello"]
    assert _visible_words("<p>{% trans %}Hello{% endtrans %} {{ name }}</p>") == []
    assert _visible_words("{% trans %}Hello{% endtrans +%}\nWorld") == ["World"]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_page_and_email_of_every_service_is_welsh(package: str) -> None:
    """Issue #20: every page of every service and every email exists in Welsh, so a new
    template joins WELSH_PAGES (and its words the catalogue) from the start."""
    root = PACKAGES[package]
    templates = {
        str(path.relative_to(root))
        for pattern in ("*.html", "*.txt")
        for path in root.rglob(pattern)
        if "locale" not in path.parts
    }
    assert templates, f"no templates found under {root}"
    assert sorted(templates - set(WELSH_PAGES.get(package, []))) == []
