from __future__ import annotations

from pydantic import Field

from candour_common.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "story-intake"
    http_port: int = 8001
    max_request_bytes: int = Field(
        default=64 * 1024, description="Requests larger than this get 413."
    )
