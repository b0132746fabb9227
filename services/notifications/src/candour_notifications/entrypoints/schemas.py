"""HTTP request and response bodies for notifications."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from candour_notifications.domain import (
    DeliveryKind,
    DeliveryReport,
    DeliveryStatus,
    Frequency,
    Subscription,
    SubscriptionKind,
)

Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
TagText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(description="Where the alerts go.")
    organisation_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)
    ] = Field(description="ODS code of the organisation the alerts are about.")
    service_ids: list[Identifier] = Field(
        default_factory=list, max_length=50, description="Only these services (empty: all)."
    )
    tags: list[TagText] = Field(
        default_factory=list, max_length=20, description="Only stories with one of these tags."
    )
    min_criticality: int | None = Field(
        default=None, ge=0, le=5, description="Only stories at least this critical (0..5)."
    )
    frequency: Frequency = Field(description="`immediate`, or `daily` for a digest.")
    kind: SubscriptionKind = Field(
        description="`stories` (new stories), `responses` (staff responses), "
        "`safeguarding` (urgent escalations)."
    )

    @model_validator(mode="after")
    def _safeguarding_is_unfiltered_and_immediate(self) -> Self:
        if self.kind is SubscriptionKind.SAFEGUARDING:
            if self.tags or self.min_criticality:
                raise ValueError("safeguarding alerts cannot be filtered by tags or criticality")
            if self.frequency is not Frequency.IMMEDIATE:
                raise ValueError("safeguarding alerts are always immediate")
        return self


class SubscriptionOut(BaseModel):
    id: UUID
    email: str
    organisation_id: str
    service_ids: list[str]
    tags: list[str]
    min_criticality: int | None
    frequency: Frequency
    kind: SubscriptionKind
    created_at: datetime | None
    confirmed: bool = Field(
        default=True,
        description=(
            "False while the address's owner has not confirmed (a staff member subscribed "
            "an address outside the organisation's mail domains): nothing is sent to it yet."
        ),
    )

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionOut:
        return cls(
            id=subscription.id,
            email=subscription.email,
            organisation_id=subscription.organisation_id,
            service_ids=list(subscription.service_ids),
            tags=list(subscription.tags),
            min_criticality=subscription.min_criticality,
            frequency=subscription.frequency,
            kind=subscription.kind,
            created_at=subscription.created_at,
            confirmed=not subscription.pending_confirmation,
        )


DomainName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=1,
        max_length=253,
        pattern=r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$",
    ),
]


class MailDomainsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domains: list[DomainName] = Field(
        max_length=50,
        description=(
            "The organisation's own mail domains, e.g. `bdct.nhs.uk` (subdomains count). "
            "Staff may subscribe addresses in them without the owner confirming."
        ),
    )


class MailDomainsOut(BaseModel):
    organisation_id: str
    domains: list[str]


class DeliveryOut(BaseModel):
    """One email owed, as operators see it (with its recipient: operators only)."""

    id: UUID
    kind: DeliveryKind
    state: DeliveryStatus
    recipient: str
    story_id: UUID | None = Field(description="None for a digest, which lists many stories.")
    subscription_id: UUID | None
    digest_date: date | None = Field(description="The day of a daily digest.")
    attempts: int
    last_error: str | None = Field(description="The last SMTP error (addresses redacted).")
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, report: DeliveryReport) -> DeliveryOut:
        return cls(
            id=report.id,
            kind=report.kind,
            state=report.status,
            recipient=report.recipient,
            story_id=report.story_id,
            subscription_id=report.subscription_id,
            digest_date=report.digest_date,
            attempts=report.attempts,
            last_error=report.last_error,
            created_at=report.created_at,
            updated_at=report.updated_at,
            sent_at=report.sent_at,
        )


class ServiceChoice(BaseModel):
    id: str
    name: str


class AlertChoicesOut(BaseModel):
    organisation_id: str
    organisation_name: str = Field(description="As the organisation directory names it.")
    services: list[ServiceChoice] = Field(
        description="The organisation's services in the directory (and any a story named)."
    )
    tags: list[str] = Field(description="Tags a subscription may filter on.")
