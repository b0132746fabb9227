"""Whose voices a programme hears: the "about you" answers counted, small counts hidden.

What leaves intake is only this summary (`insight.voices`): per programme and
characteristic, how many stories' authors gave each category. Counts below 5 are
suppressed (published as null) as NHS England does for the Friends and Family Test.
Because `answered` (the sum of the categories) is published too, a single suppressed
category could be worked out by subtraction; so when exactly one category of a
characteristic is suppressed, the next smallest is suppressed with it (complementary
suppression). `answered` itself is suppressed below 5, and then every category is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from candour_common.about_you import (
    PREFER_NOT_TO_SAY,
    SUMMARY_CATEGORIES,
    SUPPRESS_BELOW,
    Characteristic,
    summary_category,
)
from candour_common.events import CategoryCount, CharacteristicMix, VoicesSummarised


@dataclass(frozen=True, slots=True)
class AnswerCount:
    """How many counted stories of a programme carry one answer to one question."""

    programme: str
    characteristic: Characteristic
    answer: str  # a category code as asked, or "prefer_not_to_say"
    stories: int


def _shown(count: int) -> int | None:
    return count if count >= SUPPRESS_BELOW else None


def suppress(counts: Mapping[str, int]) -> dict[str, int | None]:
    """Each category's count, or None where it must not be published (see the module)."""
    shown: dict[str, int | None] = {c: _shown(n) for c, n in counts.items()}
    if sum(counts.values()) < SUPPRESS_BELOW:
        return dict.fromkeys(counts)
    hidden = [c for c, n in shown.items() if n is None]
    if len(hidden) == 1:
        # One hidden cell = answered - the others: hide the smallest other cell too.
        smallest = min((c for c in shown if shown[c] is not None), key=lambda c: counts[c])
        shown[smallest] = None
    return shown


def mix(characteristic: Characteristic, answers: Mapping[str, int]) -> CharacteristicMix:
    """One characteristic's counts (by answer as asked) as a suppressed mix."""
    by_category = dict.fromkeys(SUMMARY_CATEGORIES[characteristic], 0)
    for answer, stories in answers.items():
        if answer != PREFER_NOT_TO_SAY:
            by_category[summary_category(characteristic, answer)] += stories
    answered = sum(by_category.values())
    shown = suppress(by_category)
    return CharacteristicMix(
        characteristic=characteristic,
        answered=_shown(answered),
        prefer_not_to_say=_shown(answers.get(PREFER_NOT_TO_SAY, 0)),
        categories=[CategoryCount(category=c, count=shown[c]) for c in by_category],
    )


def summarise(
    programmes: Iterable[str], counts: Iterable[AnswerCount], at: datetime
) -> list[VoicesSummarised]:
    """A summary for every programme (one with no answers is all suppressed: search then
    forgets a mix whose stories have all been withdrawn)."""
    tally: dict[str, dict[Characteristic, dict[str, int]]] = {p: {} for p in programmes}
    for count in counts:
        answers = tally.setdefault(count.programme, {}).setdefault(count.characteristic, {})
        answers[count.answer] = answers.get(count.answer, 0) + count.stories
    return [
        VoicesSummarised(
            programme=programme,
            summarised_at=at,
            characteristics=[mix(c, by_characteristic.get(c, {})) for c in Characteristic],
        )
        for programme, by_characteristic in sorted(tally.items())
    ]
