"""What the service layer and entrypoints need from adapters, as interfaces: bootstrap
wires the concrete adapters, and fakes stand in for them in unit tests."""

from __future__ import annotations

from typing import Protocol


class SafeguardingCheck(Protocol):
    """The author's own safeguarding check at submission."""

    def warm(self) -> None:
        """Get ready now rather than on the first story."""

    async def level(self, title: str, body: str) -> str:
        """ "none", "concern" or "serious": the most severe safeguarding match."""
