"""The author's own safeguarding check at submission, with candour_screening.

Intake screens the story itself (the pure library moderation also uses) rather than
wait for an event from moderation: the confirmation page is shown the moment the
story is sent, long before moderation has read it. The story keeps the level; the
whole screening travels on `story.submitted` (`StoryScreening`, with the screener's
version and a digest of the text screened), so moderation does not screen the same text
again (docs/architecture.md, "Screening once").

Screening is CPU-bound (a few milliseconds for the longest story), so it runs in a
thread; the screener takes seconds to build, so it is built once, in a thread, when
the service starts (`warm`), never at import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

import candour_screening
from candour_common.events import StoryScreening

if TYPE_CHECKING:
    from candour_screening import Screener, Screening


class ScreeningSafeguardingCheck:
    """`ports.SafeguardingCheck` with candour_screening (spaCy loads in `warm`'s thread)."""

    def __init__(self) -> None:
        self._screener: asyncio.Future[Screener] | None = None

    def warm(self) -> None:
        """Start building the screener now (call from the running service's loop)."""
        if self._screener is None:
            self._screener = asyncio.ensure_future(
                asyncio.to_thread(candour_screening.default_screener)
            )

    async def ready(self) -> None:
        """For /readyz: not ready until the screener is built, so no story waits for it
        (and a copy starting under load gets no traffic it would answer slowly)."""
        self.warm()
        assert self._screener is not None
        if not self._screener.done():
            raise RuntimeError("the safeguarding screener is still loading")
        self._screener.result()  # a screener that failed to build says why

    async def screen(
        self, fields: Mapping[str, str], *, author_name: str | None = None
    ) -> Screening:
        """`ports.StoryScreener`: the whole screening, for the author's own check."""
        self.warm()
        assert self._screener is not None
        screener = await asyncio.shield(self._screener)
        return await asyncio.to_thread(screener.screen, dict(fields), author_name=author_name)

    async def screen_story(
        self, fields: Mapping[str, str], *, author_name: str | None
    ) -> StoryScreening:
        """`ports.SafeguardingCheck`: the screening of a story as sent, to carry on its
        event (`fields` from `screened_texts`, the author's display name)."""
        screening = await self.screen(fields, author_name=author_name)
        return StoryScreening(
            screener=candour_screening.screener_version(),
            inputs_sha256=candour_screening.inputs_digest(fields, author_name),
            **screening.to_json(),
        )
