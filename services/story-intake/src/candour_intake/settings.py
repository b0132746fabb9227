from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from candour_common.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "story-intake"
    http_port: int = 8001
    admin_port: int = 9001
    submission_rate_limit: int = Field(
        default=30,
        ge=1,
        description=(
            "Stories one client may submit per rate window; a check before sending "
            "(`POST /v1/stories/check`, the share page's check) counts as one."
        ),
    )
    submission_rate_window: float = Field(
        default=60.0, gt=0, description="Seconds of the submission rate window."
    )
    idempotency_key_hours: float = Field(
        default=24.0,
        gt=0,
        description=(
            "How long a request's Idempotency-Key replays its first answer; the "
            "retention task deletes keys older than this."
        ),
    )
    response_edit_minutes: float = Field(
        default=30.0,
        gt=0,
        description=(
            "How long after posting a responder may correct or delete their response "
            "(each change is published as a new version on response.posted)."
        ),
    )

    voices_summary_every_hours: float = Field(
        default=24.0,
        ge=0,
        description=(
            'How often the counts of "about you" answers per programme (small counts '
            "suppressed) are published on insight.voices for the deep dive; 0 turns the "
            "schedule off (`candour insight voices publish` still works). Publishing rarely "
            "limits what comparing two summaries can tell (docs/security.md)."
        ),
    )

    @property
    def voices_summary_every(self) -> timedelta | None:
        hours = self.voices_summary_every_hours
        return timedelta(hours=hours) if hours > 0 else None

    @property
    def response_edit_window(self) -> timedelta:
        return timedelta(minutes=self.response_edit_minutes)
