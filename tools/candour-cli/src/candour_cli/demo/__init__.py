"""Demo data for `candour dev`: a directory of real NHS trusts (ODS codes), staff
subscriptions and a few stories that travel through the real pipeline over HTTP."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import httpx

from candour_common.events import AuthorContact, Relationship, Source, Tags
from candour_intake.adapters.directory_csv import parse_directory
from candour_intake.adapters.feedback_csv import FeedbackEntry
from candour_intake.domain import AboutYou, Organisation, SubmitStory


def directory_csv() -> str:
    return files("candour_cli.demo").joinpath("directory.csv").read_text(encoding="utf-8")


def demo_directory() -> list[Organisation]:
    return parse_directory(directory_csv())


def population_csv_path() -> str:
    """The demo's population file (approximate census 2021 shares for Bradford and England)."""
    return str(files("candour_cli.demo").joinpath("population.csv"))


# Healthwatch feedback about Bradford's mental health services, with the "about you"
# answers people gave, so the deep dive's voices view has counts to show: (answers,
# how many entries). Younger and Asian people are heard less than Bradford's population.
_VOICES: tuple[tuple[AboutYou, int], ...] = (
    (AboutYou("45_54", "female", "white_british", "no"), 6),
    (AboutYou("55_64", "female", "white_british", "yes"), 5),
    (AboutYou("35_44", "male", "white_british", "no"), 5),
    (AboutYou("65_74", "male", "white_irish", "no"), 5),
    (AboutYou("25_34", "female", "asian_pakistani", "no"), 3),
    (AboutYou("25_34", "female", "asian_indian", "prefer_not_to_say"), 2),
    (AboutYou("45_54", "male", "white_other", "yes"), 3),
    (AboutYou("16_24", "prefer_not_to_say", "mixed_white_asian", "no"), 2),
    (AboutYou("75_84", "female", None, "yes"), 2),
)
_FEEDBACK_TEXTS = (
    (
        "TAD-CMHT",
        "Waiting to hear from the team",
        "I waited weeks for a call back from the "
        "community team and nobody could tell me when I would be seen.",
    ),
    (
        "TAD-CRISIS",
        "Crisis line answered straight away",
        "The crisis line answered at night and the worker stayed on the phone until I felt safe.",
    ),
    (
        "TAD-TALK",
        "Therapy sessions helped",
        "The talking therapy sessions were practical and my therapist was patient with me.",
    ),
    (
        "TAD-WARD",
        "Ward was noisy but staff were kind",
        "It was hard to sleep on the ward, but the staff made time to talk with me every day.",
    ),
)


def demo_feedback() -> list[FeedbackEntry]:
    """The demo's Healthwatch entries, each with its author's "about you" answers."""
    entries: list[FeedbackEntry] = []
    for about_you, count in _VOICES:
        for _ in range(count):
            number = len(entries) + 1
            service_id, title, body = _FEEDBACK_TEXTS[number % len(_FEEDBACK_TEXTS)]
            command = SubmitStory(
                title=title,
                body=body,
                organisation_id="TAD",
                service_id=service_id,
                author=AuthorContact(display_name="Anonymous", relationship=Relationship.PATIENT),
                tags=Tags(),
                experienced_at=None,
                source=Source.HEALTHWATCH,
                external_id=f"demo-healthwatch-{number}",
                about_you=about_you,
            )
            entries.append(FeedbackEntry(line=number + 1, command=command))
    return entries


# Staff who want alerts: invented mailboxes at reserved `.example` domains.
SUBSCRIPTIONS: tuple[dict[str, Any], ...] = (
    {
        "email": "patient.experience@bdct.example",
        "organisation_id": "TAD",
        "frequency": "immediate",
        "kind": "stories",
    },
    {
        "email": "safeguarding@bdct.example",
        "organisation_id": "TAD",
        "frequency": "immediate",
        "kind": "safeguarding",
    },
    {
        "email": "cmht.manager@bdct.example",
        "organisation_id": "TAD",
        "service_ids": ["TAD-CMHT"],
        "frequency": "daily",
        "kind": "stories",
    },
    {
        "email": "feedback@nwbh.example",
        "organisation_id": "RTV",
        "frequency": "immediate",
        "kind": "stories",
    },
    {
        "email": "patientexperience@cwp.example",
        "organisation_id": "RXA",
        "frequency": "immediate",
        "kind": "stories",
        "min_criticality": 2,
    },
    {
        "email": "patientexperience@cwp.example",
        "organisation_id": "RXA",
        "frequency": "immediate",
        "kind": "responses",
    },
)


@dataclass(frozen=True, slots=True)
class DemoStory:
    story: dict[str, Any]
    approve_with_criticality: int | None  # None: left in the moderation queue to try


STORIES: tuple[DemoStory, ...] = (
    DemoStory(
        {
            "title": "The crisis team stayed with us",
            "body": "When my son was at his lowest the first response team answered at 3am, "
            "talked him through the night and came out the next morning. They treated him "
            "as a person, not a risk score. Thank you.",
            "organisation_id": "TAD",
            "service_id": "TAD-CRISIS",
            "author": {"display_name": "A worried mum", "relationship": "parent_guardian"},
            "tags": {"good": ["listening", "kindness"], "feelings": ["relieved"]},
        },
        approve_with_criticality=0,
    ),
    DemoStory(
        {
            "title": "Waited eleven weeks for a first appointment",
            "body": "I was referred to the community mental health team in the spring and "
            "heard nothing for eleven weeks. Nobody answered the phone. When I was finally "
            "seen the nurse was lovely, but the wait made everything worse.",
            "organisation_id": "RXA",
            "service_id": "RXA-CMHT",
            "author": {"display_name": "Wirral resident", "relationship": "patient"},
            "tags": {"good": ["kind staff"], "improve": ["waiting times", "communication"]},
        },
        approve_with_criticality=3,
    ),
    DemoStory(
        {
            "title": "Talking therapy helped me get back to work",
            "body": "Eight sessions of CBT over the phone. I was sceptical, but my therapist "
            "was patient and practical, and I am back at work part time.",
            "organisation_id": "RTV",
            "service_id": "RTV-TALK",
            "author": {"display_name": "Warrington dad", "relationship": "patient"},
            "tags": {"good": ["flexible appointments"], "feelings": ["hopeful"]},
        },
        approve_with_criticality=None,
    ),
    DemoStory(
        {
            "title": "Noisy ward, but the night staff were great",
            "body": "The ward was loud and I hardly slept for the first week. The night staff "
            "made time to sit with me and sorted out a quieter room in the end.",
            "organisation_id": "TAD",
            "service_id": "TAD-WARD",
            "author": {"display_name": "Former inpatient", "relationship": "service_user"},
            "tags": {"good": ["night staff"], "improve": ["noise at night"]},
        },
        approve_with_criticality=None,
    ),
)


async def subscribe_staff(http: httpx.AsyncClient, notifications: str, operator: str) -> int:
    """Create the demo subscriptions that do not exist yet; return how many were created.

    Each demo trust's mail domain (that of its demo addresses) is recorded too, so staff
    trying the alerts pages can add colleagues there without a confirmation email.
    """
    auth = {"Authorization": f"Bearer {operator}"}
    domains: dict[str, set[str]] = {}
    for subscription in SUBSCRIPTIONS:
        domain = str(subscription["email"]).rpartition("@")[2]
        domains.setdefault(str(subscription["organisation_id"]), set()).add(domain)
    for organisation_id, names in domains.items():
        answer = await http.put(
            f"{notifications}/v1/organisations/{organisation_id}/mail-domains",
            headers=auth,
            json={"domains": sorted(names)},
        )
        answer.raise_for_status()
    existing = (await http.get(f"{notifications}/v1/subscriptions", headers=auth)).json()
    have = {(s["email"], s["organisation_id"], s["kind"]) for s in existing}
    created = 0
    for subscription in SUBSCRIPTIONS:
        key = (subscription["email"], subscription["organisation_id"], subscription["kind"])
        if key in have:
            continue
        answer = await http.post(
            f"{notifications}/v1/subscriptions", headers=auth, json=subscription
        )
        answer.raise_for_status()
        have.add(key)
        created += 1
    return created


async def submit_stories(http: httpx.AsyncClient, intake: str) -> list[tuple[str, DemoStory]]:
    """Submit each demo story as an author would; return (story id, story)."""
    submitted = []
    for number, demo in enumerate(STORIES, 1):
        answer = await http.post(
            f"{intake}/v1/stories",
            json=demo.story,
            headers={"Idempotency-Key": f"candour-dev-demo-{number}"},
        )
        answer.raise_for_status()
        submitted.append((answer.json()["story_id"], demo))
    return submitted


async def approve_stories(
    http: httpx.AsyncClient,
    moderation: str,
    moderator: str,
    submitted: list[tuple[str, DemoStory]],
    *,
    within: float = 90,
) -> int:
    """Approve the demo stories meant to be published, once moderation has queued them."""
    auth = {"Authorization": f"Bearer {moderator}"}
    waiting = {sid: d for sid, d in submitted if d.approve_with_criticality is not None}
    deadline = asyncio.get_running_loop().time() + within
    approved = 0
    while waiting and asyncio.get_running_loop().time() < deadline:
        for story_id, demo in list(waiting.items()):
            item = await http.get(f"{moderation}/v1/queue/{story_id}", headers=auth)
            if item.status_code == 404:
                continue  # not consumed from story.submitted yet
            item.raise_for_status()
            decision = await http.post(
                f"{moderation}/v1/queue/{story_id}/decision",
                headers=auth,
                json={"decision": "approve", "criticality": demo.approve_with_criticality},
            )
            decision.raise_for_status()
            del waiting[story_id]
            approved += 1
        if waiting:
            await asyncio.sleep(0.5)
    return approved
