"""Email rendering with Jinja2 (HTML autoescaped, so story markup shows as text), in
English, Welsh, or both (Welsh first, then English, in one email: the Welsh Language
Standards' order), with gettext through Babel like the pages (`candour_common.web.i18n`):
the words are in the templates and `locale/cy/LC_MESSAGES/messages.po`, never in code.

An email's language is its context's `language`: the story's (`en`/`cy`) for the
author's emails, the organisation's setting (`en`/`cy`/`bilingual`) for staff emails;
English when it has none (an email owed before languages existed).
"""

from __future__ import annotations

import functools
import gettext
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from babel.dates import format_date

from candour_common.events import RejectionReason
from candour_common.translatable import N_
from candour_common.web import i18n
from candour_common.web.dates import add_date_filters
from candour_notifications.domain import SAFEGUARDING_KINDS, DeliveryKind

LOCALE = Path(__file__).resolve().parent.parent / "locale"
BILINGUAL = "bilingual"
# What each language setting writes, in order.
EMAIL_LANGUAGES: dict[str, tuple[str, ...]] = {
    i18n.ENGLISH: (i18n.ENGLISH,),
    i18n.WELSH: (i18n.WELSH,),
    BILINGUAL: (i18n.WELSH, i18n.ENGLISH),
}


# The words a safeguarding alert shows as data (`translate()` in the templates): the
# story's place in moderation, screening's levels and the fields it matched in.
SAFEGUARDING_WORDS = (
    N_("pending"),
    N_("approved"),
    N_("rejected"),
    N_("concern"),
    N_("serious"),
    N_("title"),
    N_("body"),
    N_("assisted by"),
)


@dataclass(frozen=True, slots=True)
class RejectionWords:
    """Why a story was not published, in plain and kind words, and what the author can
    change (gettext messages: the templates translate them)."""

    why: str
    change: str


REJECTION_WORDS: dict[str, RejectionWords] = {
    RejectionReason.COMMERCIAL: RejectionWords(
        N_(
            "It reads as advertising or promotion of a product or business, and Candour is "
            "for people's own experiences of care."
        ),
        N_("Tell us about your own experience of care, without promoting anything."),
    ),
    RejectionReason.NOT_ABOUT_CARE: RejectionWords(
        N_(
            "It does not seem to be about an experience of health or care services, which is "
            "what Candour publishes."
        ),
        N_(
            "Tell us about the care you, or someone close to you, received: what happened, "
            "what was good, and what could be better."
        ),
    ),
    RejectionReason.TOO_OLD: RejectionWords(
        N_(
            "The experience it describes happened too long ago for the service to learn from "
            "it now."
        ),
        N_(
            "If the date is wrong, or you have a more recent experience to share, you can "
            "change your story and send it again."
        ),
    ),
    RejectionReason.DUPLICATE: RejectionWords(
        N_("It looks the same as a story already shared on Candour."),
        N_("If this is a different experience, say what is different and send it again."),
    ),
    RejectionReason.OFFENSIVE: RejectionWords(
        N_(
            "Some of its words could hurt or offend people, or name people in a way we "
            "cannot publish."
        ),
        N_(
            "Tell your story in your own words, without insults and without naming staff or "
            "other people. Criticism is welcome: it is how services learn."
        ),
    ),
    RejectionReason.SAFEGUARDING_ESCALATED: RejectionWords(
        N_(
            "Something in your story made us worried about someone's safety, so we have "
            "passed it to the people at {organisation} whose job is to keep people safe. We "
            "cannot publish it as it is."
        ),
        N_(
            "If you or someone else is in danger now, call 999. You can talk to Samaritans "
            "at any time, free, on 116 123, or call NHS 111 (in England, choose option 2 "
            "for mental health)."
        ),
    ),
    RejectionReason.OTHER: RejectionWords(
        N_("It does not meet Candour's publishing guidelines as it stands."),
        N_(
            "Have another look at your story: tell us what happened in your own words, "
            "without names or details that could identify anyone."
        ),
    ),
}


def rejection_words(reason: str) -> RejectionWords:
    """The words for a reason (one this version does not know: the general ones)."""
    return REJECTION_WORDS.get(reason, REJECTION_WORDS[RejectionReason.OTHER])


@dataclass(frozen=True, slots=True)
class _Templates:
    environment: jinja2.Environment
    translations: Mapping[str, gettext.NullTranslations]


@functools.cache
def _templates() -> _Templates:
    """Built once, on first use (at start, not at import): the templates and the catalogues
    compiled in memory (this package's, falling back to the shared one)."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("candour_notifications", "templates"),
        # Escape in .html templates only: text/plain parts must show characters as written.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates ship inside the package: compile each once, never stat it again per email.
        auto_reload=False,
    )
    # As babel.cfg extracts them: a {% trans %} block's lines are one message.
    environment.policies["ext.i18n.trimmed"] = True
    translations = i18n.load_translations([LOCALE, i18n.COMMON_LOCALE])
    i18n.install_translations(environment, translations)
    environment.globals["rejection_words"] = rejection_words
    # The same words for dates and times as every page, in the email's language.
    dates: dict[str, Any] = {}
    add_date_filters(dates)
    environment.filters.update(i18n.localised_date_filters(dates))
    return _Templates(environment, translations)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    urgent: bool = False


def _one_line(text: str, limit: int = 200) -> str:
    """Header-safe: no CR/LF (header injection), collapsed spaces, bounded length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _day(iso_date: str, language: str) -> str:
    """`2025-01-14` as people write it: `Tuesday 14 January 2025`, `Dydd Mawrth 14 Ionawr 2025`."""
    return format_date(
        date.fromisoformat(iso_date), "EEEE d MMMM y", locale=i18n.babel_locale(language)
    )


def _subject(
    kind: DeliveryKind, context: Mapping[str, Any], words: gettext.NullTranslations
) -> str:
    _, ngettext = words.gettext, words.ngettext
    if kind is DeliveryKind.STORY_DIGEST:
        count = len(context["items"])
        return ngettext(
            "Daily digest: {count} new story about {organisation}",
            "Daily digest: {count} new stories about {organisation}",
            count,
        ).format(count=count, organisation=context["organisation_name"])
    if kind is DeliveryKind.RESPONSE_DIGEST:
        count = len(context["items"])
        return ngettext(
            "Daily digest: {count} response from {organisation}",
            "Daily digest: {count} responses from {organisation}",
            count,
        ).format(count=count, organisation=context["organisation_name"])
    if kind is DeliveryKind.SUBSCRIPTION_CONFIRMATION:
        return _("Confirm that you want email alerts from Candour")
    if kind is DeliveryKind.AUTHOR_PUBLISHED:
        return _("Your story is published: {title}").format(title=context["story_title"])
    if kind is DeliveryKind.AUTHOR_REJECTED:
        if not context.get("story_title"):  # a contact kept before titles were
            return _("We could not publish your story")
        return _("We could not publish your story: {title}").format(title=context["story_title"])
    organisation = context["organisation_name"]
    place = organisation
    if context.get("service_name"):
        place = _("{service}, {organisation}").format(
            service=context["service_name"], organisation=organisation
        )
    if kind is DeliveryKind.STORY_ALERT:
        label = str(context["criticality_label"])  # an N_() message of CRITICALITY_LABELS
        return _("New story about {place} ({criticality})").format(
            place=place, criticality=_(label)
        )
    if kind is DeliveryKind.RESPONSE_ALERT:
        return _("{organisation} responded to a story about {place}").format(
            organisation=organisation, place=place
        )
    if kind is DeliveryKind.AUTHOR_RESPONSE:
        return _("{organisation} has responded to your story").format(organisation=organisation)
    if kind is DeliveryKind.SAFEGUARDING_REALERT:
        return _("URGENT, NOT ACKNOWLEDGED: safeguarding concern about {place}").format(place=place)
    return _("URGENT: safeguarding concern about {place}").format(place=place)


def email_languages(context: Mapping[str, Any]) -> tuple[str, ...]:
    """The languages an email is written in, in order (an unknown setting: English)."""
    return EMAIL_LANGUAGES.get(str(context.get("language") or i18n.ENGLISH), (i18n.ENGLISH,))


def render_email(
    kind: DeliveryKind,
    context: Mapping[str, Any],
    *,
    unsubscribe_url: str | None,
    confirm_url: str | None = None,
    acknowledge_url: str | None = None,
) -> RenderedEmail:
    templates = _templates()
    environment = templates.environment
    languages = email_languages(context)
    values = {
        **context,
        "unsubscribe_url": unsubscribe_url,
        "confirm_url": confirm_url,
        "acknowledge_url": acknowledge_url,
        # One language's part of a bilingual email: its words, without a document around.
        "fragment": len(languages) > 1,
    }
    subjects, texts, htmls = [], [], []
    for language in languages:
        if "digest_date" in context:
            values["digest_day"] = _day(str(context["digest_date"]), language)
        if "organisation_name" in context:
            # Welsh words name the organisation by its Welsh name, where it has one.
            welsh_name = context.get("organisation_name_cy") if language == i18n.WELSH else None
            values["organisation_name"] = welsh_name or context["organisation_name"]
        with i18n.rendering_in(language):
            subjects.append(_subject(kind, values, templates.translations[language]))
            texts.append(environment.get_template(f"{kind.value}.txt").render(values))
            htmls.append(environment.get_template(f"{kind.value}.html").render(values))
    if len(languages) == 1:
        text, html = texts[0], htmls[0]
    else:
        text = "\n".join(
            f"{_LANGUAGE_RULE} {i18n.LANGUAGE_NAMES[lang]} {_LANGUAGE_RULE}\n\n{part}"
            for lang, part in zip(languages, texts, strict=True)
        )
        with i18n.rendering_in(languages[0]):
            html = environment.get_template("bilingual.html").render(
                parts=[markupsafe.Markup(part) for part in htmls],  # noqa: S704 - rendered above
                names=[i18n.LANGUAGE_NAMES[lang] for lang in languages],
                languages=languages,
            )
    return RenderedEmail(
        subject=_one_line(" / ".join(subjects)),
        text=text,
        html=html,
        urgent=kind in SAFEGUARDING_KINDS,
    )


_LANGUAGE_RULE = "=" * 8


# Stand-ins for the links that differ per recipient: rendered once per email content,
# then replaced by each recipient's own link. Only characters no escaping changes.
_PLACEHOLDERS = {
    "unsubscribe_url": "https://candour.invalid/recipient-link-unsubscribe",
    "confirm_url": "https://candour.invalid/recipient-link-confirm",
    "acknowledge_url": "https://candour.invalid/recipient-link-acknowledge",
}


class EmailRenderer:
    """Renders each email's content once for all its recipients.

    A story that a thousand subscriptions match owes a thousand emails with the same
    words; only each recipient's links (unsubscribe, acknowledge, confirm) differ. The
    templates run once per content (kind and context, so a correction that changed the
    context renders again) with stand-in links, and each recipient's email substitutes
    its own. A template that transformed a link (a filter) would lose the stand-in:
    that email is rendered in full instead, never sent with another's link.
    """

    def __init__(self, capacity: int = 64) -> None:
        self._capacity = capacity
        self._rendered: OrderedDict[tuple[str, str, bool, bool, bool], RenderedEmail] = (
            OrderedDict()
        )
        self.renders = 0  # how many times the templates ran (for tests and benchmarks)

    def render(
        self,
        kind: DeliveryKind,
        context: Mapping[str, Any],
        *,
        unsubscribe_url: str | None,
        confirm_url: str | None = None,
        acknowledge_url: str | None = None,
    ) -> RenderedEmail:
        links = {
            "unsubscribe_url": unsubscribe_url,
            "confirm_url": confirm_url,
            "acknowledge_url": acknowledge_url,
        }
        try:
            content = json.dumps(context, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):  # not JSON (never from the database): no sharing
            return self._render(kind, context, links)
        key = (
            kind.value,
            content,
            unsubscribe_url is not None,
            confirm_url is not None,
            acknowledge_url is not None,
        )
        shared = self._rendered.get(key)
        if shared is None:
            stand_ins = {
                name: None if url is None else _PLACEHOLDERS[name] for name, url in links.items()
            }
            shared = self._render(kind, context, stand_ins)
            if not all(
                url is None or _PLACEHOLDERS[name] in shared.text + shared.html
                for name, url in links.items()
            ):
                return self._render(kind, context, links)
            self._rendered[key] = shared
            if len(self._rendered) > self._capacity:
                self._rendered.popitem(last=False)
        else:
            self._rendered.move_to_end(key)
        text, html = shared.text, shared.html
        for name, url in links.items():
            if url is not None:
                text = text.replace(_PLACEHOLDERS[name], url)
                html = html.replace(_PLACEHOLDERS[name], str(markupsafe.escape(url)))
        return RenderedEmail(subject=shared.subject, text=text, html=html, urgent=shared.urgent)

    def _render(
        self, kind: DeliveryKind, context: Mapping[str, Any], links: Mapping[str, str | None]
    ) -> RenderedEmail:
        self.renders += 1
        return render_email(
            kind,
            context,
            unsubscribe_url=links["unsubscribe_url"],
            confirm_url=links["confirm_url"],
            acknowledge_url=links["acknowledge_url"],
        )
