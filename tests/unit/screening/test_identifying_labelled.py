"""Screening over a labelled set of example stories: recall and false-flag rate per kind.

Each story lists every identifying detail a careful moderator would remove (kind and
exact text) and its safeguarding level. The test prints a table (run with `-s`)
and holds the detectors to a floor, so a change that loses recall or starts
flagging ordinary words fails here. The stories are invented; the phone numbers
are in Ofcom's drama ranges and the NHS numbers are the published test numbers.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import pytest

from candour_screening import SafeguardingLevel, Screening
from candour_screening import screen as screen_fields

pytestmark = pytest.mark.unit


def screen(title: str, body: str, author_name: str | None = None) -> Screening:
    return screen_fields({"title": title, "body": body}, author_name=author_name)


@dataclass(frozen=True)
class Example:
    title: str
    body: str
    author: str
    details: frozenset[tuple[str, str]]  # (kind, text)
    safeguarding: str = "none"


def ex(title: str, body: str, author: str, *details: tuple[str, str], sg: str = "none") -> Example:
    return Example(title, body, author, frozenset(details), sg)


LABELLED: tuple[Example, ...] = (
    ex(
        "Kind staff on ward 4",
        "The staff on ward 4 were kind and explained everything. Dr Okafor took time to listen.",
        "A grateful patient",
        ("person_name", "Okafor"),
    ),
    ex(
        "Waited too long",
        "We waited six hours in A&E on 14 February 2024 and nobody told us why.",
        "Relative",
        ("date", "14 February 2024"),
    ),
    ex(
        "Please call me",
        "I would like someone to ring me on 07700 900461 or email m.jones@example.net.",
        "Megan Jones",
        ("phone", "07700 900461"),
        ("email", "m.jones@example.net"),
    ),
    ex(
        "Lost my letter",
        "My NHS number is 401 023 2137 and my letter went to 17 Mill Lane, BD7 1DP instead.",
        "Patient",
        ("nhs_number", "401 023 2137"),
        ("address", "17 Mill Lane"),
        ("postcode", "BD7 1DP"),
    ),
    ex(
        "Mum's care",
        "My mum Doreen was left in soiled sheets overnight and nobody checked on her.",
        "Carer",
        ("person_name", "Doreen"),
        sg="concern",
    ),
    ex(
        "Crisis team",
        "I told the crisis team I wanted to end my life and they said call back tomorrow.",
        "Anonymous",
        sg="serious",
    ),
    ex(
        "Night staff",
        "Nurse Priya and the HCA called Tom stayed with my husband Gareth until 2am.",
        "Wife",
        ("person_name", "Priya"),
        ("person_name", "Tom"),
        ("person_name", "Gareth"),
        ("time", "2am"),
    ),
    ex(
        "Thank you",
        "Thank you to everyone at the maternity unit. It was 3 days I will never forget.",
        "New mum",
    ),
    ex(
        "Not safe",
        "My partner hits me and I am scared to go home after the appointment.",
        "Patient",
        sg="serious",
    ),
    ex(
        "Physio",
        "Six weeks of physio and I can walk to the shop again. The exercises were clear.",
        "Service user",
    ),
    ex(
        "Receptionist",
        "The receptionist, Karen, shouted at me in front of everyone on 03/05/2024 at 9:15.",
        "Patient",
        ("person_name", "Karen"),
        ("date", "03/05/2024"),
        ("time", "9:15"),
    ),
    ex(
        "My son",
        "Kieran Walsh is my son. He has self-harmed before and CAMHS did not return calls.",
        "Parent",
        ("person_name", "Kieran Walsh"),
        sg="concern",
    ),
    ex(
        "Discharge",
        "I was discharged with no medicines and had to go back. Mr Ahmed apologised.",
        "Patient",
        ("person_name", "Ahmed"),
    ),
    ex(
        "It's me",
        "My name is Rhiannon Price, I'm writing about my own care at the eye clinic.",
        "Rhiannon",
        ("author_name", "Rhiannon Price"),
    ),
    ex(
        "Parking",
        "Parking cost £4.50 for 2 hours and the machine took only coins in 2023.",
        "Visitor",
    ),
    ex(
        "Phone line",
        "The surgery line 020 7946 0321 rang out for 40 minutes before anyone answered.",
        "Patient",
        ("phone", "020 7946 0321"),
    ),
)


def _table(counter: Counter[tuple[str, str]], kinds: list[str]) -> list[str]:
    rows = ["kind           expected  found  recall  flagged  false  false-flag-rate"]
    for kind in kinds:
        expected, hit = counter[(kind, "expected")], counter[(kind, "hit")]
        flagged, false = counter[(kind, "flagged")], counter[(kind, "false")]
        recall = hit / expected if expected else 1.0
        rate = false / flagged if flagged else 0.0
        rows.append(
            f"{kind:<14} {expected:>8} {hit:>6} {recall:>7.0%} {flagged:>8} {false:>6}"
            f" {rate:>15.0%}"
        )
    return rows


def test_recall_and_false_flag_rate_per_kind() -> None:
    counter: Counter[tuple[str, str]] = Counter()
    safeguarding_right = 0
    for example in LABELLED:
        screening = screen(example.title, example.body, example.author)
        found = {(r.kind.value, r.text) for r in screening.redactions}
        # A person's name is found when any name kind covers it.
        names = {("name", t) for k, t in found if k in ("person_name", "author_name")}
        for kind, text in example.details:
            label = "name" if kind in ("person_name", "author_name") else kind
            counter[(label, "expected")] += 1
            if (label, text) in names or (kind, text) in found:
                counter[(label, "hit")] += 1
        for kind, text in found:
            label = "name" if kind in ("person_name", "author_name") else kind
            counter[(label, "flagged")] += 1
            expected = {
                (("name" if k in ("person_name", "author_name") else k), t)
                for k, t in example.details
            }
            if (label, text) not in expected:
                counter[(label, "false")] += 1
        safeguarding_right += screening.safeguarding.level == SafeguardingLevel(
            example.safeguarding
        )
    kinds = sorted({k for k, _ in counter})
    print("\n" + "\n".join(_table(counter, kinds)))
    print(f"safeguarding level right: {safeguarding_right}/{len(LABELLED)}")
    for kind in kinds:
        if counter[(kind, "expected")]:
            assert counter[(kind, "hit")] / counter[(kind, "expected")] >= 0.9, kind
        if counter[(kind, "flagged")]:
            assert counter[(kind, "false")] / counter[(kind, "flagged")] <= 0.1, kind
    assert safeguarding_right == len(LABELLED)


def test_benchmark_stories_screened_per_second() -> None:
    stories = [(e.title, e.body * 8, e.author) for e in LABELLED] * 20
    started = time.perf_counter()
    for title, body, author in stories:
        screen(title, body, author)
    elapsed = time.perf_counter() - started
    rate = len(stories) / elapsed
    print(f"\nscreened {len(stories)} stories (~{len(stories[0][1])} chars) at {rate:,.0f}/s")
    assert rate > 50  # a floor far below normal, so only a pathological regex trips it
