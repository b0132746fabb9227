"""How many stories per second screening (candour_screening) gets through.

    .venv/bin/python bench/screening_bench.py [--stories 400] [--rounds 3] [--seed 5]
    .venv/bin/python bench/screening_bench.py --adversarial   # worst case on 100 KB hostile input

Generates stories of realistic length (200-1,000 words; the same stories for a
given seed) from care-story sentences, some carrying identifying details,
safeguarding disclosures or swearing, then times `screen()` over all of them.
The raw baseline is the same texts through a plain `re.findall(r"\\w+")`
tokenisation in the same run, so numbers from different machines can be
compared as a ratio. Writes JSON to bench/out/ and appends a row to
bench/results.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from candour_screening import Screening, default_screener

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"
RESULTS = BENCH_DIR / "results.md"
RESULTS_HEADER = (
    "| date (UTC) | benchmark | commit | machine | result | raw baseline | notes |\n"
    "|---|---|---|---|---|---|---|\n"
)

# Ordinary sentences, most of a story.
PLAIN = (
    "I was admitted through the emergency department late in the evening.",
    "The staff on the ward were kind and took the time to explain what was happening.",
    "We waited a long time in the corridor before anyone could see us.",
    "The consultant listened carefully and answered all of our questions.",
    "My mother has dementia and the team made sure she was never left confused.",
    "Communication between the hospital and the GP practice could have been better.",
    "The discharge letter arrived two weeks later and had the wrong medication on it.",
    "Parking was expensive and there were no spaces close to the entrance.",
    "The food was cold most days but the healthcare assistants always offered a drink.",
    "I felt listened to for the first time in a long while.",
    "The physiotherapy sessions helped me get back on my feet quicker than I expected.",
    "Nobody told us the appointment had been cancelled until we arrived.",
    "The night staff were stretched but they still came when I pressed the buzzer.",
    "It would help if the leaflets were available in other languages.",
    "The community mental health team kept in touch every week after I went home.",
    "The pharmacy queue took over an hour and the prescription was still not ready.",
    "My son was frightened but the children's nurses made it feel like an adventure.",
    "I would like the trust to know how much difference small kindnesses make.",
    "The ward was clean and quiet and I managed to sleep for the first time in days.",
    "We were moved between three different wards in two days without explanation.",
)
# Sentences with something a moderator must see (a detail to redact, a
# disclosure, swearing). Placeholders are filled from the pools below.
FLAGGED = (
    "Dr {surname} was brilliant and explained the scan results clearly.",
    "Nurse {first} stayed with me after her shift ended.",
    "My key worker {first} {surname} has been a lifeline.",
    "You can call me on {phone} if you want to talk about it.",
    "My email is {first_lower}.{surname_lower}@example.org if anyone wants to follow up.",
    "My NHS number is {nhs} so you can find my records.",
    "I live at {house} {street} Road, {postcode}, near the hospital.",
    "It happened on {day} {month} at about {time}.",
    "Some days I feel like I want to die and nobody seems to notice.",
    "Mum was left in soiled sheets for hours and developed pressure sores.",
    "The receptionist was bloody rude and the whole thing was a load of crap.",
    "I told them I do not feel safe at home but nothing happened.",
)
FIRST = ("Sarah", "James", "Priya", "Tomasz", "Aisha", "David", "Fiona", "Kwame")
SURNAME = ("Okafor", "Patel", "Brown", "Nowak", "Hughes", "McAllister", "Khan", "Evans")
PHONES = ("07700 900123", "0113 496 0000", "+44 7700 900456", "020 7946 0018")
NHS_NUMBERS = ("943 476 5919", "9434765870", "401 023 2137")
POSTCODES = ("LS1 4AP", "BD9 6RJ", "M13 9WL", "SW1A 1AA")
STREETS = ("Church", "Victoria", "Mill", "Station")
MONTHS = ("January", "March", "June", "September", "November")
TIMES = ("9:30am", "14:15", "3pm", "11.45pm")
FLAGGED_SHARE = 0.08  # of sentences; about one in twelve


@dataclass(frozen=True)
class Story:
    title: str
    body: str
    author: str
    words: int


def generate(count: int, seed: int) -> list[Story]:
    rng = random.Random(seed)
    stories = []
    for _ in range(count):
        target = rng.randint(200, 1000)
        sentences: list[str] = []
        words = 0
        while words < target:
            if rng.random() < FLAGGED_SHARE:
                first, surname = rng.choice(FIRST), rng.choice(SURNAME)
                sentence = rng.choice(FLAGGED).format(
                    first=first,
                    surname=surname,
                    first_lower=first.lower(),
                    surname_lower=surname.lower(),
                    phone=rng.choice(PHONES),
                    nhs=rng.choice(NHS_NUMBERS),
                    house=rng.randint(1, 200),
                    street=rng.choice(STREETS),
                    postcode=rng.choice(POSTCODES),
                    day=rng.randint(1, 28),
                    month=rng.choice(MONTHS),
                    time=rng.choice(TIMES),
                )
            else:
                sentence = rng.choice(PLAIN)
            sentences.append(sentence)
            words += len(sentence.split())
        paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5)]
        body = "\n\n".join(paragraphs)
        stories.append(
            Story(
                title=rng.choice(PLAIN)[:60],
                body=body,
                author=f"{rng.choice(FIRST)} (patient)",
                words=len(body.split()),
            )
        )
    return stories


_WORD = re.compile(r"\w+")


def raw_tokenise(story: Story) -> object:
    return _WORD.findall(story.title), _WORD.findall(story.body)


def screen_story(story: Story) -> Screening:
    return default_screener().screen(
        {"title": story.title, "body": story.body}, author_name=story.author
    )


def has_flags(story: Story) -> bool:
    result = screen_story(story)
    return bool(result.redactions or result.safeguarding.matches or result.language)


def timed(work: Callable[[Story], object], stories: Sequence[Story], rounds: int) -> list[float]:
    """Seconds per round over all stories (one warm-up round first)."""
    for story in stories[: min(20, len(stories))]:
        work(story)
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        for story in stories:
            work(story)
        seconds.append(time.perf_counter() - started)
    return seconds


def per_story_ms(stories: Sequence[Story]) -> list[tuple[int, float]]:
    """(words, best-of-3 milliseconds) for each story."""
    found = []
    for story in stories:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            screen_story(story)
            best = min(best, time.perf_counter() - started)
        found.append((story.words, best * 1000))
    return found


def adversarial(record: bool) -> None:
    """Each 100 KB hostile input of tests/security/test_hostile_screening_input.py,
    best of 3, in wall time and in this process's CPU time, beside a raw
    `re.findall(r"\\w+")` over the same text."""
    import sys

    sys.path.insert(0, str(BENCH_DIR.parent))
    from tests.security.test_hostile_screening_input import ADVERSARIAL

    screener = default_screener()
    rows = []
    for name, text in ADVERSARIAL.items():
        wall = cpu = raw = float("inf")
        for _ in range(3):
            started, started_cpu = time.perf_counter(), time.process_time()
            screener.screen({"title": "t", "body": text}, author_name="Sam Smith")
            wall = min(wall, time.perf_counter() - started)
            cpu = min(cpu, time.process_time() - started_cpu)
            started = time.perf_counter()
            _WORD.findall(text)
            raw = min(raw, time.perf_counter() - started)
        rows.append((name, wall * 1000, cpu * 1000, raw * 1000))
        print(
            f"  {name:<34} {wall * 1000:7.1f} ms wall {cpu * 1000:7.1f} ms CPU"
            f"   raw {raw * 1000:5.1f} ms"
        )
    worst = max(rows, key=lambda r: r[1])
    worst_cpu = max(rows, key=lambda r: r[2])
    print(
        f"worst: {worst[0]} {worst[1]:.1f} ms wall; worst CPU: {worst_cpu[0]} "
        f"{worst_cpu[2]:.1f} ms (bound 50 ms)"
    )
    if not record:
        return
    now = datetime.now(UTC)
    machine = f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}"
    row = (
        f"| {now.strftime('%Y-%m-%d %H:%M')} | screening, 100 KB adversarial | {commit()} "
        f"| {machine} | worst {worst[1]:.1f} ms wall ({worst[0]}), worst {worst_cpu[2]:.1f} ms "
        f"CPU ({worst_cpu[0]}) | re.findall(r'\\w+') {max(r[3] for r in rows):.1f} ms "
        f"| {len(rows)} inputs, best of 3 each |\n"
    )
    with RESULTS.open("a") as results:
        results.write(row)
    print("appended a row to bench/results.md")


def commit() -> str:
    git = shutil.which("git")
    if git is None:
        return "unknown"
    try:
        done = subprocess.run(  # noqa: S603 - git with fixed arguments
            [git, "rev-parse", "--short", "HEAD"],
            cwd=BENCH_DIR,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=400, help="stories per round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median reported)")
    parser.add_argument("--seed", type=int, default=5, help="seed of the story generator")
    parser.add_argument("--no-record", action="store_true", help="print only; write nothing")
    parser.add_argument(
        "--adversarial", action="store_true", help="time 100 KB hostile inputs instead"
    )
    args = parser.parse_args()
    if args.adversarial:
        adversarial(record=not args.no_record)
        return

    stories = generate(args.stories, args.seed)
    words = [s.words for s in stories]
    total_words = sum(words)
    screening_s = timed(screen_story, stories, args.rounds)
    baseline_s = timed(raw_tokenise, stories, args.rounds)
    screening_rate = len(stories) / statistics.median(screening_s)
    baseline_rate = len(stories) / statistics.median(baseline_s)
    ms_per_story = round(1000 / screening_rate, 3)
    words_per_second = round(total_words / statistics.median(screening_s))
    flagged = sum(1 for s in stories if has_flags(s))
    each = per_story_ms(stories)
    near_300 = [ms for words_in, ms in each if 250 <= words_in <= 350]
    median_300 = statistics.median(near_300) if near_300 else float("nan")
    worst_story = max(ms for _, ms in each)

    now = datetime.now(UTC)
    machine = f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}"
    report = {
        "benchmark": "moderation screening",
        "at": now.isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine,
        "seed": args.seed,
        "stories": len(stories),
        "rounds": args.rounds,
        "words": {
            "total": total_words,
            "min": min(words),
            "median": statistics.median(words),
            "max": max(words),
        },
        "stories_flagged": flagged,
        "screening": {
            "seconds_per_round": screening_s,
            "stories_per_second": round(screening_rate, 1),
            "words_per_second": words_per_second,
            "ms_per_story": ms_per_story,
        },
        "raw_baseline": {
            "what": 're.findall(r"\\w+") over title and body',
            "seconds_per_round": baseline_s,
            "stories_per_second": round(baseline_rate, 1),
        },
        "slowdown_vs_raw": round(baseline_rate / screening_rate, 1),
    }
    slowdown = round(baseline_rate / screening_rate, 1)
    print(
        f"screened {len(stories)} stories ({total_words} words, {min(words)}-{max(words)} "
        f"words each, {flagged} with something flagged), median of {args.rounds} rounds:\n"
        f"  screening     {screening_rate:10.1f} stories/s  "
        f"({ms_per_story} ms/story, {words_per_second} words/s)\n"
        f"  raw baseline  {baseline_rate:10.1f} stories/s  (re.findall(r'\\w+'))\n"
        f"  screening is {slowdown}x slower than raw tokenisation\n"
        f"  per story (best of 3): median {median_300:.2f} ms for the {len(near_300)} stories "
        f"of 250-350 words (target 2 ms); worst {worst_story:.2f} ms"
    )
    if args.no_record:
        return
    OUT_DIR.mkdir(exist_ok=True)
    out = OUT_DIR / f"screening-{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    row = (
        f"| {now.strftime('%Y-%m-%d %H:%M')} | moderation screening | {report['commit']} "
        f"| {machine} | {screening_rate:.1f} stories/s ({ms_per_story} ms/story) "
        f"| {baseline_rate:.1f} stories/s | median {median_300:.2f} ms per ~300-word story, "
        f"worst {worst_story:.2f} ms; {len(stories)} stories, "
        f"{min(words)}-{max(words)} words, seed {args.seed}, median of {args.rounds} |\n"
    )
    # Append only: other benchmarks add their rows to the same file.
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\n" + RESULTS_HEADER)
    with RESULTS.open("a") as results:
        results.write(row)
    print(f"wrote {out.relative_to(BENCH_DIR.parent)}; appended a row to bench/results.md")


if __name__ == "__main__":
    main()
