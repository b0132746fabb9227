"""The four Candour services as the CLI knows them: module, migrations, port, database."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str  # as in the design: story-intake, moderation, notifications, search
    module: str  # `python -m <module>` serves it
    default_port: int
    database: str  # its database's name when several services share one server

    @property
    def migrations_package(self) -> str:
        return f"{self.module}.migrations"

    @property
    def url_env(self) -> str:
        """The per-service database URL variable, e.g. CANDOUR_STORY_INTAKE_DATABASE_URL."""
        return f"CANDOUR_{self.name.upper().replace('-', '_')}_DATABASE_URL"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("story-intake", "candour_intake", 8001, "candour_intake"),
    ServiceSpec("moderation", "candour_moderation", 8002, "candour_moderation"),
    ServiceSpec("notifications", "candour_notifications", 8003, "candour_notifications"),
    ServiceSpec("search", "candour_search", 8004, "candour_search"),
)
BY_NAME = {s.name: s for s in SERVICES}
# Short names an operator may type: `candour migrate intake`.
ALIASES = {"intake": "story-intake"}


def lookup(name: str) -> ServiceSpec:
    """The service called `name` (or an alias); KeyError listing the choices otherwise."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in BY_NAME:
        raise KeyError(f"no service {name!r}; choose one of {', '.join(BY_NAME)}")
    return BY_NAME[key]
