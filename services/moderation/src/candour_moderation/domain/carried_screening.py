"""Intake's screening carried on story.submitted, used instead of screening again when
it is exactly what moderation would have produced.

story-intake screens every submission and edit it takes over HTTP with the same
library, and carries the result on the event (`StoryScreening`). Moderation takes it
only if all of these hold, and screens the story itself otherwise, so a story is never
queued without a screening of its own text by moderation's own rules:

- it was made by the screener moderation runs (`screener`: candour-screening's version
  and a digest of its rules, and the libraries under them);
- it is of this event's text (`inputs_sha256` over the title, body, who helped write
  it and the author's name, as moderation would screen them);
- it reads back (a category or kind this version does not know: not usable), its level
  is its most severe match's, and every span it names is where it says in the text (so
  a redaction applies cleanly).

Trust: only story-intake may write story.submitted (deploy/ ACLs), and the checks above
catch a mismatch of versions or of text, not a forged event: see docs/security.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from candour_common.events import StorySubmitted
from candour_screening import SafeguardingLevel, Screening, inputs_digest

# Who screened a story, as its audit trail and moderation's metrics name them.
SCREENED_BY_INTAKE = "story-intake"
SCREENED_BY_MODERATION = "moderation"


def usable_screening(event: StorySubmitted, screener: str | None) -> Screening | None:
    """Intake's screening of `event` if moderation's own `screener` would have produced
    it; None (screen it here) if it is absent, of another screener or text, or unreadable.
    `screener` None: never use a carried screening."""
    carried = event.screening
    if carried is None or screener is None or carried.screener != screener:
        return None
    fields = event.screened_texts()
    if carried.inputs_sha256 != inputs_digest(fields, event.author.display_name):
        return None
    try:
        screening = Screening.from_json(
            carried.model_dump(mode="json", exclude={"screener", "inputs_sha256"})
        )
    except (KeyError, TypeError, ValueError):
        return None
    spans: Iterable[tuple[str, int, int, str]] = (
        *((m.field, m.start, m.end, m.text) for m in screening.safeguarding.matches),
        *((r.field, r.start, r.end, r.text) for r in screening.redactions),
        *((f.field, f.start, f.end, f.text) for f in screening.language),
    )
    if not all(_fits(fields, *span) for span in spans):
        return None
    most_severe = max(
        (m.level for m in screening.safeguarding.matches),
        key=lambda level: level.severity,
        default=SafeguardingLevel.NONE,
    )
    if screening.safeguarding.level is not most_severe:
        return None
    return screening


def _fits(fields: Mapping[str, str], field: str, start: int, end: int, text: str) -> bool:
    value = fields.get(field)
    return value is not None and 0 <= start <= end <= len(value) and value[start:end] == text
