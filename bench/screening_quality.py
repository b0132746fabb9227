"""How well screening finds what a careful moderator would: quality on the labelled corpus.

    .venv/bin/python bench/screening_quality.py                 # held-out split, records a row
    .venv/bin/python bench/screening_quality.py --split dev --misses   # what to tune on
    .venv/bin/python bench/screening_quality.py --no-record

Prints precision, recall and F2 per safeguarding category, per level and per
kind of identifying detail on one split of tests/data/screening/stories.txt
(fixed by `--seed`), the false-flag rate on clean stories, and the median and
worst time to screen one story. The raw baseline, in the same run, is the same
texts through spaCy's tokenizer alone (what any spaCy-based screening must at
least pay). Appends a row to bench/results.md. Rules are tuned on `dev` only;
`held-out` is the measure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import spacy

from candour_screening import Screener, Screening
from candour_screening.corpus import DEFAULT_SEED, Scores, Story, Tally, parse, split

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.screening_bench import RESULTS, RESULTS_HEADER, commit  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "screening" / "stories.txt"


def load(split_name: str, seed: int) -> list[Story]:
    stories = parse(CORPUS.read_text(encoding="utf-8"))
    dev, held_out = split(stories, seed)
    return {"dev": dev, "held-out": held_out, "all": stories}[split_name]


def screen_story(screener: Screener, story: Story) -> Screening:
    return screener.screen({"body": story.text})


def _row(name: str, tally: Tally) -> str:
    return (
        f"  {name:<24} {tally.support:>5} {tally.precision:>9.0%} {tally.recall:>7.0%}"
        f" {tally.f2:>6.2f}"
    )


def report(scores: Scores) -> list[str]:
    header = f"  {'':<24} {'n':>5} {'precision':>9} {'recall':>7} {'F2':>6}"
    lines = ["safeguarding by category", header]
    lines += [
        _row(c.value, t) for c, t in scores.by_category.items() if t.support or t.false_positive
    ]
    lines += ["safeguarding by level (recall: found at that level or above)", header]
    lines += [_row(level.value, t) for level, t in scores.by_level.items()]
    lines += ["identifying details by kind", header]
    lines += [_row(k.value, t) for k, t in sorted(scores.by_detail.items())]
    lines.append(_row("all identifying details", scores.details))
    lines.append(
        f"false flags on clean stories: {scores.clean_flagged}/{scores.clean_stories}"
        f" ({scores.false_flag_rate:.1%})"
    )
    return lines


def timings(screener: Screener, stories: list[Story]) -> tuple[list[float], list[float]]:
    """Seconds per story for screening and for the raw spaCy tokenizer, best of 3 each."""
    nlp = spacy.blank("en")
    screened: list[float] = []
    raw: list[float] = []
    for story in stories:
        best = best_raw = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            screen_story(screener, story)
            best = min(best, time.perf_counter() - started)
            started = time.perf_counter()
            nlp.make_doc(story.text)
            best_raw = min(best_raw, time.perf_counter() - started)
        screened.append(best)
        raw.append(best_raw)
    return screened, raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("held-out", "dev", "all"), default="held-out")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--misses", action="store_true", help="list every miss (dev only)")
    parser.add_argument("--no-record", action="store_true", help="print only; write nothing")
    args = parser.parse_args()

    started = time.perf_counter()
    screener = Screener()
    build_s = time.perf_counter() - started
    stories = load(args.split, args.seed)
    from candour_screening.corpus import score

    scores = score(stories, lambda s: screen_story(screener, s))
    print(f"{args.split} split (seed {args.seed}): {len(stories)} stories")
    print("\n".join(report(scores)))
    if args.misses:
        if args.split == "held-out":
            parser.error("--misses is for tuning, and rules are tuned on dev only")
        for miss in scores.misses:
            s = miss.screening.safeguarding
            found = ", ".join(f"{m.category.value}/{m.level.value} {m.text!r}" for m in s.matches)
            print(
                f"  MISS {miss.what}: line {miss.story.line}: {miss.story.text[:90]!r} -> {found}"
            )
    screened, raw = timings(screener, stories)
    median_ms = statistics.median(screened) * 1000
    worst_ms = max(screened) * 1000
    raw_ms = statistics.median(raw) * 1000
    words = statistics.median(len(s.text.split()) for s in stories)
    print(
        f"time per story (median {words:.0f} words): median {median_ms:.3f} ms, worst "
        f"{worst_ms:.3f} ms; raw spaCy tokenizer median {raw_ms:.3f} ms; rules built in "
        f"{build_s:.2f} s"
    )
    if args.no_record or args.split != "held-out":
        return
    levels = "; ".join(
        f"{level.value} P/R {t.precision:.0%}/{t.recall:.0%}"
        for level, t in scores.by_level.items()
    )
    now = datetime.now(UTC)
    row = (
        f"| {now.strftime('%Y-%m-%d %H:%M')} | screening quality (held-out) | {commit()} "
        f"| CPython {sys.version.split()[0]} | {levels}; details recall "
        f"{scores.details.recall:.0%}; clean false flags {scores.false_flag_rate:.1%}; "
        f"median {median_ms:.2f} ms, worst {worst_ms:.2f} ms per story "
        f"| spaCy tokenizer {raw_ms:.3f} ms/story | {len(stories)} stories, seed {args.seed} |\n"
    )
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\n" + RESULTS_HEADER)
    with RESULTS.open("a") as results:
        results.write(row)
    print("appended a row to bench/results.md")


if __name__ == "__main__":
    main()
