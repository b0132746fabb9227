from __future__ import annotations

from pydantic import Field

from candour_common.settings import ServiceSettings


class ModerationSettings(ServiceSettings):
    service_name: str = "moderation"
    http_port: int = 8002
    admin_port: int = 9002
    claim_lease_seconds: int = Field(
        default=15 * 60, ge=10, le=24 * 3600, description="How long a moderator's claim lasts."
    )
    screening_workers: int = Field(
        default=1,
        ge=1,
        le=16,
        description=(
            "Worker processes that screen stories, off the event loop (each holds the "
            "screening rules, ~60 MB); a backlog's stories are screened across all of "
            "them at once."
        ),
    )
    auto_approve: bool = Field(
        default=False,
        description=(
            "Approve, without a moderator, stories screening found nothing in (no "
            "safeguarding match, no suggested redaction, no language flag); "
            "criticality is left unset and the audit marks them automatic."
        ),
    )
    reuse_intake_screening: bool = Field(
        default=True,
        description=(
            "Use story-intake's screening carried on story.submitted instead of screening "
            "the same text again, when it was made by the same screener (version and "
            "rules) over the same text; off: every story is screened here."
        ),
    )
