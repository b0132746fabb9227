"""The author's own check of a story before it is sent ("Check my story").

The same screening moderation runs (`candour_screening`): every identifying detail
with the replacement that removes it, and the safeguarding level, with where to get
help when that level is not "none". Nothing is stored and nothing is logged: the
story is not sent until the author sends it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from candour_intake.domain import Organisation, UnknownOrganisation, UnknownService
from candour_intake.service_layer.ports import StoryScreener
from candour_screening import Redaction, SafeguardingCategory, SafeguardingLevel

# The text fields an author writes, in the order a page shows them.
CHECKED_FIELDS = ("title", "body")


@dataclass(frozen=True, slots=True)
class SupportContact:
    name: str
    phone: str
    when: str


@dataclass(frozen=True, slots=True)
class Support:
    """Where to get help now: shown before anything else when screening matched
    something. Plain, calm words (after the Samaritans media guidelines); the same
    numbers as the pages' "If you need help now"."""

    heading: str
    message: str
    contacts: tuple[SupportContact, ...]


SUPPORT = Support(
    heading="You do not have to face this alone",
    message=(
        "Some of what you wrote makes us think things may be very hard for you or someone "
        "you know right now. If you need help, please do not wait for a moderator to read "
        "your story: talking to someone can help, whatever you are going through."
    ),
    contacts=(
        SupportContact(
            name="Samaritans",
            phone="116 123",
            when="Free, any time, day or night, for anyone who is struggling.",
        ),
        SupportContact(
            name="NHS 111",
            phone="111",
            when="Choose option 2 for urgent mental health help in England.",
        ),
        SupportContact(
            name="999",
            phone="999",
            when="In an emergency, if your life or someone else's is in danger now.",
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class CheckStory:
    """Command: show me what my story gives away before I send it."""

    title: str
    body: str
    organisation_id: str
    service_id: str | None
    author_name: str | None


@dataclass(frozen=True, slots=True)
class StoryCheck:
    redactions: tuple[Redaction, ...]
    level: SafeguardingLevel
    categories: tuple[SafeguardingCategory, ...]

    @property
    def support(self) -> Support | None:
        return None if self.level is SafeguardingLevel.NONE else SUPPORT


FindOrganisation = Callable[[str], Awaitable[Organisation | None]]


async def check_story(
    command: CheckStory, *, screener: StoryScreener, find_organisation: FindOrganisation
) -> StoryCheck:
    """Screen the story as moderation will, after the same directory rules as sending it
    (an unknown organisation or service is refused the same way)."""
    organisation = await find_organisation(command.organisation_id)
    if organisation is None:
        raise UnknownOrganisation(command.organisation_id)
    if command.service_id is not None and organisation.service(command.service_id) is None:
        raise UnknownService(organisation.id, command.service_id)
    screening = await screener.screen(
        {"title": command.title, "body": command.body}, author_name=command.author_name
    )
    return StoryCheck(
        redactions=tuple(r for r in screening.redactions if r.field in CHECKED_FIELDS),
        level=screening.safeguarding.level,
        categories=screening.safeguarding.categories,
    )
