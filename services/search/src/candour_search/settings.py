from __future__ import annotations

from pydantic import Field

from candour_common.settings import ServiceSettings


class SearchSettings(ServiceSettings):
    service_name: str = "search"
    http_port: int = 8004
    admin_port: int = 9004
    insight_themes_every_hours: float = Field(
        default=24.0,
        ge=0,
        description=(
            "How often the service finds the themes of every programme again (0: only "
            "`candour insight themes rebuild`). A copy skips its turn when another found "
            "them more recently."
        ),
    )
    insight_themes_seed: int = Field(
        default=0, description="Seed of the theme finder: the same entries give the same themes."
    )
