"""Generated organisations and stories of realistic length that screening finds nothing in."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Sentences from the kind of story people tell; none holds a name, a number, an
# address, swearing or a safeguarding disclosure, so screening finds nothing and
# auto-approval publishes the story without a moderator.
SENTENCES = (
    "I was admitted through the emergency department late in the evening.",
    "The staff on the ward were kind and took the time to explain what was happening.",
    "We waited a long time in the corridor before anyone could see us.",
    "The consultant listened carefully and answered all of our questions.",
    "My mother has dementia and the team made sure she was never left confused.",
    "Communication between the hospital and the practice could have been better.",
    "The discharge letter arrived late and the list of medicines was not complete.",
    "Parking was expensive and there were no spaces close to the entrance.",
    "The food was cold most days but the healthcare assistants always offered a drink.",
    "I felt listened to for the first time in a long while.",
    "The physiotherapy sessions helped me get back on my feet quicker than I expected.",
    "We only learned the appointment had been cancelled when we arrived.",
    "The night staff were stretched but they still came when I pressed the buzzer.",
    "It would help if the leaflets were available in other languages.",
    "The community team kept in touch every week after I went home.",
    "The pharmacy queue was long and the prescription was still not ready.",
    "My son was frightened but the children's nurses made it feel like an adventure.",
    "I would like the trust to know how much difference small kindnesses make.",
    "The ward was clean and quiet and I managed to sleep properly at last.",
    "We were moved between different wards without much explanation.",
    "The receptionist found us a quiet room when my father became anxious.",
    "Test results took weeks to come back and nobody could tell us why.",
    "The occupational therapist visited our home and suggested sensible changes.",
    "I was given clear advice about what to do if the symptoms came back.",
    "The waiting area was crowded and there was nowhere for children to play.",
    "Everyone introduced themselves and explained their role before starting.",
    "The transport home was booked for the morning but did not arrive until evening.",
    "My husband was treated with dignity and respect throughout his stay.",
    "I had to repeat my history to every new person who came to see me.",
    "The midwives were calm and reassuring during a long and difficult labour.",
)
TITLES = (
    "Kind care on the ward",
    "A long wait but good treatment",
    "Listened to at last",
    "Discharge could have been smoother",
    "Thank you to the community team",
    "Communication needs to improve",
    "Excellent physiotherapy",
    "Mixed experience in the emergency department",
)
TAGS_GOOD = ("kindness", "communication", "cleanliness", "listening", "dignity")
TAGS_IMPROVE = ("waiting times", "parking", "discharge", "food", "information")
RELATIONSHIPS = ("patient", "carer", "relative")
AUTHOR_NAMES = ("A patient", "Grateful relative", "Carer", "Anonymous")


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    services: tuple[tuple[str, str], ...]

    @property
    def staff_email(self) -> str:
        return f"staff-{self.id.lower()}@trust.example"


def organisations(count: int) -> list[Organisation]:
    kinds = ("Community mental health team", "Emergency department", "Maternity unit")
    return [
        Organisation(
            id=f"BEN{i:03d}",
            name=f"Benchmark District NHS Foundation Trust {i}",
            services=tuple((f"BEN{i:03d}-S{j}", kinds[j]) for j in range(len(kinds))),
        )
        for i in range(count)
    ]


def run_marker() -> str:
    """A made-up lower-case word that is in every story of this run and nowhere else."""
    return "benchrun" + "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10))


class StoryFactory:
    """Seeded stories of 200-1,000 words spread over the organisations."""

    def __init__(self, orgs: Sequence[Organisation], marker: str, seed: int = 7) -> None:
        self.orgs = list(orgs)
        self.marker = marker
        self.random = random.Random(seed)

    def story(self, org: Organisation | None = None) -> dict[str, Any]:
        r = self.random
        org = org or r.choice(self.orgs)
        # Sentences are at most 17 words and the marker line is 3: 200-1,000 words in all.
        target = r.randint(200, 980)
        words = 0
        sentences: list[str] = []
        while words < target:
            sentence = r.choice(SENTENCES)
            sentences.append(sentence)
            words += len(sentence.split())
        paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5)]
        paragraphs.append(f"Reference word {self.marker}.")
        return {
            "title": r.choice(TITLES),
            "body": "\n\n".join(paragraphs),
            "organisation_id": org.id,
            "service_id": r.choice(org.services)[0],
            "author": {
                "display_name": r.choice(AUTHOR_NAMES),
                "relationship": r.choice(RELATIONSHIPS),
            },
            "tags": {"good": [r.choice(TAGS_GOOD)], "improve": [r.choice(TAGS_IMPROVE)]},
        }


def check_auto_approvable(stories: Sequence[dict[str, Any]]) -> None:
    """Fail early (not after a timeout) if screening would hold a story for a moderator."""
    from candour_screening import screen

    for story in stories:
        found = screen(
            {"title": story["title"], "body": story["body"]},
            author_name=story["author"]["display_name"],
        )
        if found.safeguarding.matches or found.redactions or found.language:
            raise SystemExit(f"generated story would not be auto-approved: {found}")
