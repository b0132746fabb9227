from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from candour_common.settings import ServiceSettings
from candour_search.population import load_population


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
    population_file: Path | None = Field(
        default=None,
        description=(
            "A CSV of the local population's shares (`area,characteristic,category,share`) "
            "that the deep dive sets the mix of voices beside (docs/operations.md, 'Whose "
            "voices'). Checked at start-up: a bad file stops the service with the line that "
            "is wrong."
        ),
    )

    @field_validator("population_file")
    @classmethod
    def _population_file_usable(cls, path: Path | None) -> Path | None:
        load_population(path)  # PopulationFileError (a ValueError) names the line
        return path
