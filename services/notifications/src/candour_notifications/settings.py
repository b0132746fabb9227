from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator

from candour_common.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"
    http_port: int = 8003

    smtp_host: str = Field(default="127.0.0.1", description="SMTP server that relays our mail.")
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_starttls: bool = Field(
        default=False, description="Require STARTTLS after connecting (usually port 587)."
    )
    smtp_implicit_tls: bool = Field(
        default=False, description="Speak TLS from the first byte (usually port 465)."
    )
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user, if any.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP AUTH password.")
    smtp_timeout: float = Field(default=30.0, gt=0, description="Seconds per SMTP operation.")
    mail_from: str = Field(
        default="Candour <alerts@candour.example>", description="From: of every email."
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8004",
        description="Where published stories are shown (`/v1/stories/{id}` below it).",
    )
    notifications_base_url: str = Field(
        default="http://127.0.0.1:8003",
        description="Public address of this service, for unsubscribe links.",
    )
    delivery_max_attempts: int = Field(
        default=5, ge=1, description="Tries per email before it is marked failed."
    )
    delivery_backoff_base_seconds: float = Field(
        default=30.0, gt=0, description="Wait after the first temporary failure; doubles each try."
    )
    delivery_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    delivery_poll_interval: float = Field(
        default=5.0, gt=0, description="Seconds between checks for due emails when not woken."
    )
    delivery_batch_size: int = Field(default=10, ge=1, le=500)
    delivery_stale_after_seconds: float = Field(
        default=900.0,
        gt=0,
        description=(
            "An email still `sending` after this long was interrupted by a crash; it is "
            "marked failed (never resent, so nobody gets it twice)."
        ),
    )

    @model_validator(mode="after")
    def _one_tls_mode(self) -> Self:
        if self.smtp_starttls and self.smtp_implicit_tls:
            raise ValueError("choose smtp_starttls or smtp_implicit_tls, not both")
        return self
