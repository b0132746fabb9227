"""Email and page rendering with Jinja2 (HTML autoescaped, so story markup shows as text)."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import jinja2
import markupsafe

from candour_common.web.dates import add_date_filters
from candour_notifications.domain import SAFEGUARDING_KINDS, DeliveryKind

_environment = jinja2.Environment(
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


# The same words for dates and times as every page (`uk_time`: 14 January 2025, 9:15am GMT).
add_date_filters(_environment.filters)


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


def _day(iso_date: str) -> str:
    """`2025-01-14` as people write it: `Tuesday 14 January 2025` (no locale involved)."""
    day = date.fromisoformat(iso_date)
    return f"{day:%A} {day.day} {day:%B %Y}"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _subject(kind: DeliveryKind, context: Mapping[str, Any]) -> str:
    if kind is DeliveryKind.STORY_DIGEST:
        stories = _plural(len(context["items"]), "new story", "new stories")
        return f"Daily digest: {stories} about {context['organisation_name']}"
    if kind is DeliveryKind.RESPONSE_DIGEST:
        responses = _plural(len(context["items"]), "response", "responses")
        return f"Daily digest: {responses} from {context['organisation_name']}"
    if kind is DeliveryKind.SUBSCRIPTION_CONFIRMATION:
        return "Confirm that you want email alerts from Candour"
    place = context["organisation_name"]
    if context.get("service_name"):
        place = f"{context['service_name']}, {place}"
    if kind is DeliveryKind.STORY_ALERT:
        return f"New story about {place} ({context['criticality_label']})"
    if kind is DeliveryKind.RESPONSE_ALERT:
        return f"{context['organisation_name']} responded to a story about {place}"
    if kind is DeliveryKind.AUTHOR_RESPONSE:
        return f"{context['organisation_name']} has responded to your story"
    if kind is DeliveryKind.SAFEGUARDING_REALERT:
        return f"URGENT, NOT ACKNOWLEDGED: safeguarding concern about {place}"
    return f"URGENT: safeguarding concern about {place}"


def render_email(
    kind: DeliveryKind,
    context: Mapping[str, Any],
    *,
    unsubscribe_url: str | None,
    confirm_url: str | None = None,
    acknowledge_url: str | None = None,
) -> RenderedEmail:
    values = {
        **context,
        "unsubscribe_url": unsubscribe_url,
        "confirm_url": confirm_url,
        "acknowledge_url": acknowledge_url,
    }
    if "digest_date" in context:
        values["digest_day"] = _day(str(context["digest_date"]))
    return RenderedEmail(
        subject=_one_line(_subject(kind, context)),
        text=_environment.get_template(f"{kind.value}.txt").render(values),
        html=_environment.get_template(f"{kind.value}.html").render(values),
        urgent=kind in SAFEGUARDING_KINDS,
    )


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
