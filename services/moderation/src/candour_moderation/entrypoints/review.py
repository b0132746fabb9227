"""What a moderator chose on the story page, turned into an approval command.

The console shows each suggested redaction with a tick box. The published text
is the author's with only the ticked suggestions applied (the domain's own
`apply_redactions`), unless the moderator typed their own title or body.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from candour_moderation.domain.model import FIELDS, ApproveStory, QueueItem
from candour_screening import Field, Redaction, apply_redactions

TITLE_MAX = 120
BODY_MAX = 20000


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of a field's original text; `redaction` is its index in the screening, if any."""

    text: str
    redaction: int | None = None


def segments(item: QueueItem, field: Field) -> list[Segment]:
    """The field's original text cut at every suggested redaction (for <mark> highlighting)."""
    text = (item.title if field == "title" else item.body) or ""
    screening = item.screening
    if screening is None:
        return [Segment(text)] if text else []
    spans = sorted(
        (r.start, r.end, index)
        for index, r in enumerate(screening.redactions)
        if r.field == field and 0 <= r.start < r.end <= len(text)
    )
    out: list[Segment] = []
    position = 0
    for start, end, index in spans:
        if start < position:  # Screening merges overlaps; never show a fragment twice.
            continue
        if start > position:
            out.append(Segment(text[position:start]))
        out.append(Segment(text[start:end], index))
        position = end
    if position < len(text):
        out.append(Segment(text[position:]))
    return out


def accepted_text(item: QueueItem, accepted: Collection[int]) -> tuple[str, str]:
    """Title and body with only the `accepted` suggestions (screening indexes) applied."""
    assert item.title is not None
    assert item.body is not None
    redactions: tuple[Redaction, ...] = item.screening.redactions if item.screening else ()
    chosen = [r for index, r in enumerate(redactions) if index in accepted]
    originals = {"title": item.title, "body": item.body}
    title, body = (
        apply_redactions(originals[name], [r for r in chosen if r.field == name]) for name in FIELDS
    )
    return title, body


def approval(
    item: QueueItem,
    *,
    moderator: str,
    criticality: int,
    accepted: Collection[int],
    edited_title: str | None,
    edited_body: str | None,
    acknowledge_safeguarding: bool,
    version: int | None = None,
) -> ApproveStory:
    """The command that publishes exactly what the page previewed.

    Every suggestion ticked is the API's `apply_suggested` (so the audit says the
    suggestions wrote the text); a partial choice is sent as the text to publish.
    Text the moderator typed wins over either.
    """
    redactions = item.screening.redactions if item.screening else ()
    every_one = bool(redactions) and set(accepted) >= set(range(len(redactions)))
    title: str | None = edited_title
    body: str | None = edited_body
    if not every_one:
        chosen_title, chosen_body = accepted_text(item, accepted)
        if title is None and chosen_title != item.title:
            title = chosen_title
        if body is None and chosen_body != item.body:
            body = chosen_body
    return ApproveStory(
        story_id=item.story_id,
        moderator=moderator,
        criticality=criticality,
        title=title,
        body=body,
        apply_suggested=every_one,
        acknowledge_safeguarding=acknowledge_safeguarding,
        version=version,
    )
