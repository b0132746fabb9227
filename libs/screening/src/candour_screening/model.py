"""What screening returns, and its JSON form (the same for storage and for an API).

Every offset is a Python string index into the field it names, so
`fields[m.field][m.start:m.end] == m.text`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from candour_screening.taxonomy import (
    LEGACY_CATEGORIES,
    LEGACY_REASON,
    LEGACY_WORDS,
    LanguageKind,
    RedactionKind,
    SafeguardingCategory,
    SafeguardingLevel,
)

# The name of a text field ("title", "body", "assisted_by", ...).
Field = str


@dataclass(frozen=True, slots=True)
class SafeguardingMatch:
    field: Field
    start: int
    end: int
    text: str
    category: SafeguardingCategory
    level: SafeguardingLevel
    # Why it matched, for a moderator (and a safeguarding lead): "means + intent".
    reason: str


@dataclass(frozen=True, slots=True)
class Safeguarding:
    level: SafeguardingLevel
    matches: tuple[SafeguardingMatch, ...] = ()

    @property
    def categories(self) -> tuple[SafeguardingCategory, ...]:
        """Each category matched once: the most severe first, then in taxonomy order."""
        best: dict[SafeguardingCategory, int] = {}
        for m in self.matches:
            best[m.category] = max(best.get(m.category, 0), m.level.severity)
        order = list(SafeguardingCategory)
        return tuple(sorted(best, key=lambda c: (-best[c], order.index(c))))


@dataclass(frozen=True, slots=True)
class Redaction:
    field: Field
    start: int
    end: int
    text: str
    kind: RedactionKind
    replacement: str


@dataclass(frozen=True, slots=True)
class LanguageFlag:
    field: Field
    start: int
    end: int
    text: str
    kind: LanguageKind


@dataclass(frozen=True, slots=True)
class Screening:
    safeguarding: Safeguarding
    redactions: tuple[Redaction, ...] = ()
    language: tuple[LanguageFlag, ...] = ()
    # Bounds screening reached on a hostile or unusual text ("body: only the first
    # 20,000 characters were screened..."): a moderator must read it in full.
    limits: tuple[str, ...] = ()

    def redactions_in(self, field: Field) -> tuple[Redaction, ...]:
        return tuple(r for r in self.redactions if r.field == field)

    def redacted(self, field: Field, text: str) -> str:
        """`text` (the original `field`) with every suggested redaction applied."""
        return apply_redactions(text, self.redactions_in(field))

    @property
    def flagged(self) -> bool:
        return bool(self.safeguarding.matches or self.redactions or self.language or self.limits)

    def to_json(self) -> dict[str, Any]:
        return {
            "safeguarding": {
                "level": self.safeguarding.level.value,
                "categories": [c.value for c in self.safeguarding.categories],
                "matches": [
                    {
                        "field": m.field,
                        "start": m.start,
                        "end": m.end,
                        "text": m.text,
                        "category": m.category.value,
                        "level": m.level.value,
                        "reason": m.reason,
                    }
                    for m in self.safeguarding.matches
                ],
            },
            "redactions": [
                {
                    "field": r.field,
                    "start": r.start,
                    "end": r.end,
                    "text": r.text,
                    "kind": r.kind.value,
                    "replacement": r.replacement,
                }
                for r in self.redactions
            ],
            "language": [
                {"field": f.field, "start": f.start, "end": f.end, "text": f.text, "kind": k}
                for f in self.language
                for k in (f.kind.value,)
            ],
            "limits": list(self.limits),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Screening:
        """Read `to_json`'s form, and the older one without categories or reasons."""
        safeguarding = data.get("safeguarding") or {}
        return cls(
            safeguarding=Safeguarding(
                level=SafeguardingLevel(safeguarding.get("level", "none")),
                matches=tuple(_match_from_json(m) for m in safeguarding.get("matches", ())),
            ),
            redactions=tuple(
                Redaction(
                    field=r["field"],
                    start=r["start"],
                    end=r["end"],
                    text=r["text"],
                    kind=RedactionKind(r["kind"]),
                    replacement=r["replacement"],
                )
                for r in data.get("redactions", ())
            ),
            language=tuple(
                LanguageFlag(
                    field=f["field"],
                    start=f["start"],
                    end=f["end"],
                    text=f["text"],
                    kind=LanguageKind(f["kind"]),
                )
                for f in data.get("language", ())
            ),
            limits=tuple(str(limit) for limit in data.get("limits", ())),
        )


def _match_from_json(m: dict[str, Any]) -> SafeguardingMatch:
    raw = m["category"]
    reason = m.get("reason")
    if raw in SafeguardingCategory.__members__.values() and reason is not None:
        category = SafeguardingCategory(raw)
    else:
        category = LEGACY_CATEGORIES.get(raw) or SafeguardingCategory(raw)
        words = LEGACY_WORDS.get(raw) or str(raw).replace("_", " ")
        reason = reason or LEGACY_REASON.format(reason=words)
    return SafeguardingMatch(
        field=m["field"],
        start=m["start"],
        end=m["end"],
        text=m["text"],
        category=category,
        level=SafeguardingLevel(m["level"]),
        reason=reason,
    )


def apply_redactions(text: str, redactions: Iterable[Redaction]) -> str:
    """Replace each span with its replacement (spans must not overlap)."""
    out: list[str] = []
    position = 0
    for r in sorted(redactions, key=lambda r: r.start):
        if r.start < position or r.end > len(text) or text[r.start : r.end] != r.text:
            raise ValueError(f"redaction {r.start}:{r.end} does not fit the text")
        out.append(text[position : r.start])
        out.append(r.replacement)
        position = r.end
    out.append(text[position:])
    return "".join(out)
