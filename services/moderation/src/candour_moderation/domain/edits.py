"""What a moderator changed between the author's text and the published text.

An edit is described as spans of the original text and what replaced them, so
the audit trail says exactly which words went, not just "the body changed".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

EditedField = Literal["title", "body", "tags"]
# Who wrote the published value: the moderator's own text, or the screening's
# suggested redactions accepted with `apply_suggested`.
EditSource = Literal["moderator", "suggested_redactions"]

# Words, runs of spaces and single punctuation marks: small enough units that a
# replaced name is one change, large enough that diffing a long story stays fast.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")


@dataclass(frozen=True, slots=True)
class TextChange:
    """`original[start:end]` (possibly empty: an insertion) became `after`."""

    start: int
    end: int
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Edit:
    field: EditedField
    source: EditSource
    # Text fields: the spans that changed, and whether the published text is the
    # suggestion exactly. Tags: the lists before and after.
    changes: tuple[TextChange, ...] = ()
    matches_suggestion: bool | None = None
    tags_before: dict[str, list[str]] | None = None
    tags_after: dict[str, list[str]] | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"field": self.field, "source": self.source}
        if self.field == "tags":
            data["before"] = self.tags_before
            data["after"] = self.tags_after
        else:
            data["matches_suggestion"] = self.matches_suggestion
            data["changes"] = [
                {"start": c.start, "end": c.end, "before": c.before, "after": c.after}
                for c in self.changes
            ]
        return data


def text_changes(original: str, edited: str) -> tuple[TextChange, ...]:
    """The spans of `original` that differ in `edited`, in order (empty when equal)."""
    if original == edited:
        return ()
    before = list(_TOKEN.finditer(original))
    after = [m.group() for m in _TOKEN.finditer(edited)]
    matcher = SequenceMatcher(None, [m.group() for m in before], after, autojunk=False)
    # Spans as [start, end) in the original and [j1, j2) in the edited tokens.
    spans: list[list[int]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        start = before[i1].start() if i1 < len(before) else len(original)
        end = before[i2 - 1].end() if i2 > i1 else start
        # "07911 123456" -> "[phone number]" is one change, not two around a kept space.
        if spans and original[spans[-1][1] : start].isspace():
            spans[-1][1], spans[-1][3] = end, j2
        else:
            spans.append([start, end, j1, j2])
    return tuple(
        TextChange(start, end, original[start:end], "".join(after[j1:j2]))
        for start, end, j1, j2 in spans
    )
