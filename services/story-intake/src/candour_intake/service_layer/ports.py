"""What the service layer and entrypoints need from adapters, as interfaces: bootstrap
wires the concrete adapters, and fakes stand in for them in unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from candour_common.events import StoryScreening
    from candour_screening import Screening


class SafeguardingCheck(Protocol):
    """The author's own safeguarding check at submission."""

    def warm(self) -> None:
        """Get ready now rather than on the first story."""

    async def screen_story(
        self, fields: Mapping[str, str], *, author_name: str | None
    ) -> StoryScreening:
        """The whole screening of a story as sent (`fields` from `screened_texts`), with
        the screener's version and a digest of what it read, to carry on its event."""


class StoryScreener(Protocol):
    """Screening of a story's text (identifying details, safeguarding), as moderation
    screens it: for the author's own check before sending."""

    async def screen(
        self, fields: Mapping[str, str], *, author_name: str | None = None
    ) -> Screening:
        """The screening of the text `fields` ({"title": ..., "body": ...})."""


class SubmissionLimit(Protocol):
    """How many stories one client may submit in a while."""

    async def wait(self, client: str) -> float | None:
        """None if `client` may submit now (counted), else the seconds to wait."""
