from __future__ import annotations

from datetime import time
from typing import ClassVar, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    EmailStr,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from candour_common.settings import MissingKey, ServiceSettings, checked_key
from candour_notifications.domain import SafeguardingPolicy

# Between the end of a send and the commit of its outcome (one database write).
STALE_MARGIN_SECONDS = 5.0


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"
    http_port: int = 8003
    admin_port: int = 9003
    REQUIRED_KEYS: ClassVar[tuple[str, ...]] = ("jwt_secret", "unsubscribe_secret")

    unsubscribe_secret: SecretStr | None = Field(
        default=None,
        description=(
            "HMAC key of the unsubscribe links in emails: at least 32 random bytes, not the "
            "JWT secret's value. Rotating it voids the links in emails already sent (the "
            "bearer tokens stay valid); rotating the JWT secret leaves these links working."
        ),
    )

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
    smtp_send_timeout: float = Field(
        default=120.0,
        gt=0,
        description=(
            "Seconds one email may take in all (connect, TLS, AUTH, MAIL, RCPT, DATA); a "
            "slower send is abandoned and tried again later. At least `smtp_timeout`."
        ),
    )
    mail_from: str = Field(
        default="Candour <alerts@candour.example>", description="From: of every email."
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
    smtp_sessions: int = Field(
        default=4,
        ge=1,
        le=32,
        description=(
            "SMTP sessions sending at once, one email in flight on each. A notifications "
            "process that dies leaves at most this many emails whose fate is unknown; "
            "they are sent again after the lease with the same Message-ID."
        ),
    )
    delivery_stale_after_seconds: float = Field(
        default=180.0,
        gt=0,
        description=(
            "An email still `sending` after this long was interrupted by a crash and is "
            "sent again (same Message-ID). Must exceed `smtp_send_timeout` by at least "
            f"{STALE_MARGIN_SECONDS:.0f} s, so a slow server never gets a second copy."
        ),
    )

    subscription_confirmation_days: float = Field(
        default=7.0,
        gt=0,
        description=(
            "A subscription waiting for its address's owner to confirm (double opt-in) "
            "lapses, and is deleted, after this many days."
        ),
    )

    author_contact_after_rejection_days: float = Field(
        default=90.0,
        gt=0,
        description=(
            "The author's address is kept this many days after their story was not "
            "published (for an edit and resubmission, whose outcome they are told), then "
            "deleted, with the sent emails to them about it."
        ),
    )

    digest_time: time = Field(
        default=time(7, 0),
        description="Local time (HH:MM) at which daily digests are sent.",
    )
    digest_timezone: str = Field(
        default="Europe/London",
        description="IANA timezone of `digest_time` (summer time is followed).",
    )
    digest_check_interval: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between checks whether today's digests are due.",
    )

    safeguarding_duty_contact: str = Field(
        default="",
        max_length=300,
        description=(
            "The platform's named duty contact, printed in every safeguarding alert: a "
            "name and how to reach them now, e.g. `Candour duty moderator, 0300 123 4567, "
            "duty@candour.example`. Empty: the alert names the duty moderators' addresses."
        ),
    )
    safeguarding_duty_moderators: str = Field(
        default="",
        description=(
            "Comma-separated email addresses of the platform's duty moderators: they get a "
            "safeguarding alert when the organisation has no safeguarding contact, and again "
            "when nobody acknowledged it in time."
        ),
    )
    safeguarding_ack_timeout_seconds: float = Field(
        default=3600.0,
        gt=0,
        description=(
            "A safeguarding alert nobody acknowledged from its email within this many "
            "seconds goes again to the duty moderators."
        ),
    )
    safeguarding_check_interval: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between checks for safeguarding alerts nobody acknowledged in time.",
    )

    check_unsubscribe_secret = field_validator("unsubscribe_secret")(checked_key)

    @field_validator("safeguarding_duty_moderators")
    @classmethod
    def _addresses(cls, value: str) -> str:
        email: TypeAdapter[str] = TypeAdapter(EmailStr)
        for address in (a.strip() for a in value.split(",")):
            if address:
                try:
                    email.validate_python(address)
                except ValidationError as exc:
                    raise ValueError(f"{address!r} is not an email address") from exc
        return value

    @property
    def duty_moderators(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.safeguarding_duty_moderators.split(",") if a.strip())

    def safeguarding_policy(self) -> SafeguardingPolicy:
        return SafeguardingPolicy(
            duty_contact=self.safeguarding_duty_contact.strip() or None,
            duty_moderators=self.duty_moderators,
            ack_timeout_seconds=self.safeguarding_ack_timeout_seconds,
        )

    @field_validator("digest_time")
    @classmethod
    def _wall_clock_time(cls, value: time) -> time:
        # A bare wall-clock time: the timezone comes from `digest_timezone`.
        return value.replace(tzinfo=None, microsecond=0)

    @field_validator("digest_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @property
    def digest_zone(self) -> ZoneInfo:
        return ZoneInfo(self.digest_timezone)

    @model_validator(mode="after")
    def _separate_keys(self) -> Self:
        if (
            self.unsubscribe_secret is not None
            and self.jwt_secret is not None
            and self.unsubscribe_secret.get_secret_value() == self.jwt_secret.get_secret_value()
        ):
            raise ValueError(
                "CANDOUR_UNSUBSCRIBE_SECRET must differ from CANDOUR_JWT_SECRET, so that "
                "rotating one does not break the other"
            )
        return self

    def unsubscribe_key(self) -> str:
        """The unsubscribe-link key (checked at start-up, so present in a running service)."""
        if self.unsubscribe_secret is None:
            raise MissingKey("unsubscribe_secret")
        return self.unsubscribe_secret.get_secret_value()

    @model_validator(mode="after")
    def _one_tls_mode(self) -> Self:
        if self.smtp_starttls and self.smtp_implicit_tls:
            raise ValueError("choose smtp_starttls or smtp_implicit_tls, not both")
        return self

    @model_validator(mode="after")
    def _resend_only_after_a_send_has_given_up(self) -> Self:
        # A row is `sending` from its claim until its outcome is recorded: the send
        # (bounded by smtp_send_timeout) plus one database write. Resending sooner would
        # race a send that is merely slow and deliver the email twice.
        if self.smtp_timeout > self.smtp_send_timeout:
            raise ValueError(
                f"smtp_send_timeout ({self.smtp_send_timeout:g} s) must be at least "
                f"smtp_timeout ({self.smtp_timeout:g} s)"
            )
        if self.delivery_stale_after_seconds < self.smtp_send_timeout + STALE_MARGIN_SECONDS:
            raise ValueError(
                f"delivery_stale_after_seconds ({self.delivery_stale_after_seconds:g} s) must "
                f"exceed smtp_send_timeout ({self.smtp_send_timeout:g} s) by at least "
                f"{STALE_MARGIN_SECONDS:g} s, or a slow SMTP server could get a second copy"
            )
        return self
