from __future__ import annotations

from candour_common.settings import ServiceSettings


class SearchSettings(ServiceSettings):
    service_name: str = "search"
    http_port: int = 8004
