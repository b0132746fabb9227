"""Whose voices a programme hears, next to the population it serves.

The rule for "under-represented", stated on the page and in docs/operations.md: a group is
under-represented when its share of the stories whose authors answered the question is
below four-fifths of its share of the area's population. A suppressed count ("fewer than
5") is judged by the most it could be: the answered total less the counts shown; the
group is named only if even that is below four-fifths. A question answered by fewer than
5 people is not judged at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from candour_common.about_you import CHARACTERISTIC_LABELS, SUMMARY_CATEGORIES, Characteristic
from candour_common.events import CharacteristicMix, VoicesSummarised
from candour_common.translatable import N_, Filled, Gettext, Localisable

UNDER_REPRESENTED_BELOW = 0.8  # of the population share
RULE = N_(
    "A group is under-represented when its share of the people who answered is below "
    "four-fifths of its share of the local population. Counts under 5 are not shown; such "
    "a group is named only if even the most it could be is below four-fifths. A question "
    "fewer than 5 people answered is not judged."
)


@dataclass(frozen=True, slots=True)
class CategoryShare:
    category: str
    label: str
    count: int | None  # None: fewer than 5 (or hidden so one cannot be worked out)
    voice_share: float | None  # of those who answered; None when suppressed or unknown
    population_share: float | None  # None: the population file has no figure
    under_represented: bool


@dataclass(frozen=True, slots=True)
class CharacteristicShares:
    characteristic: Characteristic
    label: str
    answered: int | None
    prefer_not_to_say: int | None
    categories: list[CategoryShare]

    @property
    def judged(self) -> bool:
        return self.answered is not None

    @property
    def under_represented(self) -> list[CategoryShare]:
        return [c for c in self.categories if c.under_represented]


@dataclass(frozen=True, slots=True)
class VoicesView:
    programme: str
    area: str | None
    areas: list[str]
    summarised_at: datetime | None
    characteristics: list[CharacteristicShares]

    @property
    def has_answers(self) -> bool:
        return any(c.judged for c in self.characteristics)

    def sentence(self) -> str:
        """Who is under-represented, in one plain sentence (English to the API, said in
        the page's language on a page)."""
        if self.summarised_at is None:
            return N_("No one has answered the questions about themselves for this programme yet.")
        if not self.has_answers:
            return N_(
                "Too few people have answered the questions about themselves to say "
                "whose voices are missing."
            )
        if self.area is None:
            return N_(
                "There are no population figures to compare with, so we cannot say "
                "whose voices are missing."
            )
        named = tuple(
            (c.label, category.label)
            for c in self.characteristics
            for category in c.under_represented
        )
        if not named:
            return Filled(
                N_("No group is under-represented compared with the population of {area}."),
                area=self.area,
            )
        return Filled(
            N_(
                "Compared with the population of {area}, these groups are under-represented: "
                "{groups}."
            ),
            area=self.area,
            groups=NamedGroups(named),
        )


class NamedGroups(Localisable):
    """ "age: 16 to 24; sex: Male": each characteristic and group in the page's language."""

    pairs: tuple[tuple[str, str], ...]

    def __new__(cls, pairs: tuple[tuple[str, str], ...]) -> NamedGroups:
        made = super().__new__(cls, cls._said(pairs, str))
        made.pairs = pairs
        return made

    @staticmethod
    def _said(pairs: tuple[tuple[str, str], ...], gettext: Gettext) -> str:
        return "; ".join(f"{gettext(label).lower()}: {gettext(group)}" for label, group in pairs)

    def localised(self, gettext: Gettext, locale: str) -> str:
        return self._said(self.pairs, gettext)


def _shares(mix: CharacteristicMix, population: dict[str, float]) -> CharacteristicShares:
    labels = SUMMARY_CATEGORIES[mix.characteristic]
    answered = mix.answered
    shown = sum(c.count for c in mix.categories if c.count is not None)
    hidden_at_most = (answered - shown) if answered is not None else None
    categories: list[CategoryShare] = []
    for count in mix.categories:
        pop = population.get(count.category)
        voice = count.count / answered if answered and count.count is not None else None
        most = count.count if count.count is not None else hidden_at_most
        under = (
            answered is not None
            and answered > 0
            and pop is not None
            and most is not None
            and most / answered < UNDER_REPRESENTED_BELOW * pop
        )
        categories.append(
            CategoryShare(
                category=count.category,
                label=labels.get(count.category, count.category),
                count=count.count,
                voice_share=voice,
                population_share=pop,
                under_represented=under,
            )
        )
    return CharacteristicShares(
        characteristic=mix.characteristic,
        label=CHARACTERISTIC_LABELS[mix.characteristic],
        answered=answered,
        prefer_not_to_say=mix.prefer_not_to_say,
        categories=categories,
    )


def voices_view(
    programme: str,
    summary: VoicesSummarised | None,
    area: str | None,
    areas: list[str],
    population: dict[Characteristic, dict[str, float]],
) -> VoicesView:
    """The mix of voices per characteristic beside the population of `area`."""
    if summary is None:
        return VoicesView(programme, area, areas, None, [])
    return VoicesView(
        programme=programme,
        area=area,
        areas=areas,
        summarised_at=summary.summarised_at,
        characteristics=[
            _shares(mix, population.get(mix.characteristic, {})) for mix in summary.characteristics
        ],
    )
