"""The labelled screening corpus: its line format, the dev/held-out split, and scoring.

One story a line, `level | categories | text`, where identifying details in the
text are marked `[[kind:text]]` (see tests/data/screening/stories.txt). Pure:
callers read and write the files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from candour_screening.model import Screening
from candour_screening.taxonomy import RedactionKind, SafeguardingCategory, SafeguardingLevel

DEFAULT_SEED = 17
HELD_OUT_SHARE = 0.4
_MARK = re.compile(r"\[\[(?P<kind>[a-z_]+):(?P<text>[^\]]+)\]\]")
# Names of either kind count as found when any name kind covers them.
_NAME_KINDS = {RedactionKind.PERSON_NAME, RedactionKind.AUTHOR_NAME}


class CorpusError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Detail:
    kind: RedactionKind
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Story:
    text: str
    level: SafeguardingLevel
    categories: frozenset[SafeguardingCategory]
    details: tuple[Detail, ...] = ()
    line: int = 0

    @property
    def key(self) -> str:
        """Stable identity: a hash of the text, so the split never moves a story."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


def parse(source: str) -> list[Story]:
    """Stories from the corpus format; a malformed line raises CorpusError naming it."""
    stories = []
    for number, raw in enumerate(source.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ", 2)]
        if len(parts) != 3:
            raise CorpusError(f"line {number}: expected 'level | categories | text'")
        level_raw, categories_raw, marked = parts
        try:
            level = SafeguardingLevel(level_raw)
            categories = frozenset(
                SafeguardingCategory(c.strip())
                for c in categories_raw.split(",")
                if c.strip() not in ("", "-")
            )
        except ValueError as exc:
            raise CorpusError(f"line {number}: {exc}") from exc
        if (level is SafeguardingLevel.NONE) != (not categories):
            raise CorpusError(f"line {number}: level none goes with no categories, and only then")
        text, details = _unmark(marked, number)
        stories.append(Story(text, level, categories, details, number))
    return stories


def _unmark(marked: str, number: int) -> tuple[str, tuple[Detail, ...]]:
    out: list[str] = []
    details: list[Detail] = []
    position = 0
    length = 0
    for m in _MARK.finditer(marked):
        out.append(marked[position : m.start()])
        length += m.start() - position
        try:
            kind = RedactionKind(m.group("kind"))
        except ValueError as exc:
            raise CorpusError(f"line {number}: {exc}") from exc
        details.append(Detail(kind, length, length + len(m.group("text")), m.group("text")))
        out.append(m.group("text"))
        length += len(m.group("text"))
        position = m.end()
    out.append(marked[position:])
    return "".join(out), tuple(details)


def format_line(
    level: SafeguardingLevel, categories: Iterable[SafeguardingCategory], text: str
) -> str:
    """One corpus line (text must already be free of identifying details and newlines)."""
    names = ",".join(sorted(c.value for c in categories)) or "-"
    flat = " ".join(text.split()).replace(" | ", " / ")
    return f"{level.value} | {names} | {flat}"


def is_held_out(story: Story, seed: int = DEFAULT_SEED) -> bool:
    digest = hashlib.sha256(f"{seed}:{story.key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < HELD_OUT_SHARE


def split(stories: Sequence[Story], seed: int = DEFAULT_SEED) -> tuple[list[Story], list[Story]]:
    """(dev, held_out): fixed by the seed and each story's text."""
    dev = [s for s in stories if not is_held_out(s, seed)]
    held_out = [s for s in stories if is_held_out(s, seed)]
    return dev, held_out


# ------------------------------------------------------------------- scoring


@dataclass
class Tally:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0

    @property
    def support(self) -> int:
        return self.true_positive + self.false_negative

    @property
    def precision(self) -> float:
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.support if self.support else 1.0

    @property
    def f2(self) -> float:
        """F-beta with beta 2: recall counts four times as much as precision."""
        p, r = self.precision, self.recall
        return 5 * p * r / (4 * p + r) if p + r else 0.0


@dataclass
class Miss:
    story: Story
    what: str
    screening: Screening


@dataclass
class Scores:
    stories: int = 0
    by_category: dict[SafeguardingCategory, Tally] = field(default_factory=dict)
    by_level: dict[SafeguardingLevel, Tally] = field(default_factory=dict)
    by_detail: dict[RedactionKind, Tally] = field(default_factory=dict)
    details: Tally = field(default_factory=Tally)
    clean_stories: int = 0
    clean_flagged: int = 0
    misses: list[Miss] = field(default_factory=list)

    @property
    def false_flag_rate(self) -> float:
        """Share of stories with no safeguarding label that screening flags anyway."""
        return self.clean_flagged / self.clean_stories if self.clean_stories else 0.0


Screen = Callable[[Story], Screening]


def score(stories: Iterable[Story], screen: Screen) -> Scores:
    """Per category, per level and per kind of identifying detail.

    A level's recall counts a story found at that level or above (a concern
    screened as serious is not missed); its precision counts exact levels.
    A category is right when screening names it anywhere in the story.
    """
    scores = Scores()
    for category in SafeguardingCategory:
        scores.by_category[category] = Tally()
    for level in (SafeguardingLevel.SERIOUS, SafeguardingLevel.CONCERN):
        scores.by_level[level] = Tally()
    for story in stories:
        scores.stories += 1
        result = screen(story)
        found_level = result.safeguarding.level
        found = set(result.safeguarding.categories)
        for category in SafeguardingCategory:
            tally = scores.by_category[category]
            labelled, named = category in story.categories, category in found
            if labelled and named:
                tally.true_positive += 1
            elif labelled:
                tally.false_negative += 1
                scores.misses.append(Miss(story, f"category {category.value}", result))
            elif named:
                tally.false_positive += 1
        for level, tally in scores.by_level.items():
            if story.level is level:
                if found_level.severity >= level.severity:
                    tally.true_positive += 1
                else:
                    tally.false_negative += 1
                    scores.misses.append(Miss(story, f"level {level.value}", result))
            if found_level is level and story.level is not level:
                tally.false_positive += 1
        if story.level is SafeguardingLevel.NONE:
            scores.clean_stories += 1
            if found_level is not SafeguardingLevel.NONE:
                scores.clean_flagged += 1
                scores.misses.append(Miss(story, "false flag", result))
        _score_details(scores, story, result)
    return scores


def _score_details(scores: Scores, story: Story, result: Screening) -> None:
    redactions = [r for r in result.redactions if r.field == "body"]

    def covered(detail: Detail) -> bool:
        return any(r.start <= detail.start and detail.end <= r.end for r in redactions)

    for detail in story.details:
        tally = scores.by_detail.setdefault(detail.kind, Tally())
        if covered(detail):
            tally.true_positive += 1
            scores.details.true_positive += 1
        else:
            tally.false_negative += 1
            scores.details.false_negative += 1
            scores.misses.append(Miss(story, f"detail {detail.kind.value} {detail.text!r}", result))
    for r in redactions:
        inside = any(d.start <= r.end and r.start <= d.end for d in story.details)
        if not inside:
            kind = RedactionKind.PERSON_NAME if r.kind in _NAME_KINDS else r.kind
            scores.by_detail.setdefault(kind, Tally()).false_positive += 1
            scores.details.false_positive += 1
