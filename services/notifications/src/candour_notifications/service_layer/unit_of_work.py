"""Notifications' unit of work: one transaction with the subscriptions, the authors'
contacts, the published and withdrawn stories, the deliveries owed, the safeguarding
alerts, the digests waiting, the directory and the responses seen, beside the outbox
and inbox every service has (`candour_common.db.uow`).

Handlers are typed with `NotificationsUnitOfWork`; bootstrap wires the PostgreSQL one,
the unit tests an in-memory one (tests/unit/notifications/fakes.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from candour_common.db import Connection
from candour_common.db.uow import AbstractUnitOfWork, UnitOfWork
from candour_common.events import OrganisationListed, OrganisationRef, ServiceRef
from candour_notifications.adapters.known_directory import KnownOrganisation, PostgresDirectory
from candour_notifications.adapters.repository import (
    AuthorContact,
    DigestItem,
    PostgresAuthorContacts,
    PostgresDeliveries,
    PostgresDigestItems,
    PostgresSafeguardingAlerts,
    PostgresStories,
    PostgresSubscriptions,
    PublishedStory,
    RejectionBeforeContact,
)
from candour_notifications.adapters.response_versions import (
    PostgresResponseVersions,
    SeenVersion,
)
from candour_notifications.domain import (
    Delivery,
    DeliveryKind,
    DeliveryReport,
    DeliveryStatus,
    DigestItemKind,
    SafeguardingAlert,
    StaffEmails,
    Subscription,
    SubscriptionKind,
)


class Subscriptions(Protocol):
    async def add(self, subscription: Subscription, *, created_by: str) -> Subscription: ...

    async def get(self, subscription_id: UUID) -> Subscription | None: ...

    async def confirm(self, subscription_id: UUID) -> bool:
        """The address's owner confirmed; False if nothing was waiting for that."""
        ...

    async def of_organisation(self, organisation_id: str | None) -> list[Subscription]: ...

    async def active(self, organisation_id: str, kind: SubscriptionKind) -> list[Subscription]:
        """Active and confirmed subscriptions of `kind` for the organisation."""
        ...

    async def active_among(
        self, organisation_ids: Collection[str], kind: SubscriptionKind
    ) -> dict[str, list[Subscription]]:
        """`active` of several organisations (each named, with a list if empty)."""
        ...

    async def delete(self, subscription_id: UUID) -> None: ...

    async def deactivate(self, subscription_id: UUID) -> bool:
        """Stop its emails (unsent ones cancelled); False if there is no such subscription."""
        ...

    async def mail_domains(self, organisation_id: str) -> list[str]: ...

    async def set_mail_domains(self, organisation_id: str, domains: list[str]) -> None: ...

    async def due_a_digest(self, digest_date: date) -> list[Subscription]:
        """Daily subscriptions with something waiting and no digest yet on that date."""
        ...


class AuthorContacts(Protocol):
    async def save(self, contact: AuthorContact) -> None: ...

    async def get(self, story_id: UUID) -> AuthorContact | None: ...

    async def get_many(self, story_ids: Collection[UUID]) -> dict[UUID, AuthorContact]:
        """The contacts kept of those stories (none for a story without one)."""
        ...

    async def record_version(self, story_id: UUID, version: int) -> bool:
        """Note a submitted version; False if a higher one was seen (ignore this one)."""
        ...

    async def discard(self, story_id: UUID) -> None:
        """The address is no longer needed (or the newest version has none): it goes."""
        ...

    async def mark_told_published(self, story_id: UUID) -> None: ...

    async def mark_rejected(self, story_id: UUID, rejected_at: datetime) -> None: ...

    async def stop_notifications(self, story_id: UUID) -> None:
        """The author unsubscribed: their address goes, their unsent emails are cancelled."""
        ...

    async def submitted_version(self, story_id: UUID) -> int | None:
        """The newest version of the story seen on story.submitted; None if none was."""
        ...

    async def record_versions(self, versions: dict[UUID, int]) -> set[UUID]:
        """`record_version` for many stories at once: those whose version was recorded."""
        ...

    async def discard_all(self, story_ids: Collection[UUID]) -> None:
        """The newest versions of these stories have no address: nothing is kept for them
        (no contact, no decision waiting for one)."""
        ...

    async def keep_rejection_before_contact(self, rejection: RejectionBeforeContact) -> None:
        """A decision that came before its story: kept until the story does."""
        ...

    async def take_rejection_before_contact(self, story_id: UUID) -> RejectionBeforeContact | None:
        """The decision kept for the story, if any; it is no longer kept."""
        ...


class Stories(Protocol):
    async def save_published(self, story: PublishedStory) -> None:
        """Keep the newest revision of a published story."""
        ...

    async def save_published_many(self, stories: Sequence[PublishedStory]) -> None:
        """`save_published` for a batch of different stories."""
        ...

    async def get_published(self, story_id: UUID) -> PublishedStory | None: ...

    async def is_withdrawn(self, story_id: UUID) -> bool: ...

    async def withdrawn_among(self, story_ids: Collection[UUID]) -> set[UUID]: ...

    async def forget(self, story_id: UUID, withdrawn_at: datetime) -> int:
        """Erase what is held about a withdrawn story; how many unsent emails were cancelled."""
        ...


class Deliveries(Protocol):
    async def add(self, delivery: Delivery) -> bool:
        """Owe an email; False if this (event, recipient, kind) is owed already."""
        ...

    async def add_many(self, deliveries: Sequence[Delivery]) -> int:
        """Owe many emails at once (one statement); each is skipped as by `add` if owed
        already. Returns how many were new."""
        ...

    async def add_digest(self, delivery: Delivery) -> bool:
        """Owe a digest; False if the subscription has one for that date already."""
        ...

    async def alerted_subscriptions(self, story_id: UUID, kind: DeliveryKind) -> set[UUID]: ...

    async def alerted_subscriptions_among(
        self, story_ids: Collection[UUID], kind: DeliveryKind
    ) -> dict[UUID, set[UUID]]:
        """`alerted_subscriptions` of several stories (each named, with a set if empty)."""
        ...

    async def get(self, delivery_id: UUID) -> Delivery | None: ...

    async def report(self, status: DeliveryStatus | None, limit: int) -> list[DeliveryReport]: ...

    async def counts(self) -> tuple[dict[DeliveryStatus, int], float | None]:
        """Deliveries per state, and the age in seconds of the oldest pending one."""
        ...


class SafeguardingAlerts(Protocol):
    async def add(
        self,
        alert: SafeguardingAlert,
        *,
        event_id: UUID,
        raised_at: datetime,
        ack_timeout_seconds: float,
    ) -> datetime | None:
        """Record an alert; None if its escalation was alerted before."""
        ...

    async def get(
        self, escalation_id: UUID, *, for_update: bool = False
    ) -> SafeguardingAlert | None: ...

    async def latest_from_screening(self, story_id: UUID) -> SafeguardingAlert | None:
        """The story's newest alert raised by screening, unless erased by a withdrawal."""
        ...

    async def acknowledge(self, escalation_id: UUID, by: str) -> datetime: ...

    async def lock_overdue(self, limit: int) -> list[SafeguardingAlert]:
        """Alerts nobody acknowledged in time, locked; those locked elsewhere skipped."""
        ...

    async def mark_realerted(
        self, escalation_id: UUID, recipients: Collection[str]
    ) -> datetime: ...


class DigestItems(Protocol):
    async def collect(
        self,
        *,
        subscription_id: UUID,
        item_key: str,
        kind: DigestItemKind,
        story_id: UUID,
        revision: int,
        context: dict[str, object],
    ) -> None:
        """Keep something for the subscription's next digest (a later revision replaces it)."""
        ...

    async def drop_waiting_story_items(
        self, story_id: UUID, *, except_subscriptions: Collection[UUID]
    ) -> None: ...

    async def drop_waiting_items_of_stories(self, keep: dict[UUID, Collection[UUID]]) -> None:
        """`drop_waiting_story_items` for each story of `keep`, except its subscriptions."""
        ...

    async def lock_waiting(self, subscription_id: UUID) -> list[DigestItem]:
        """What the subscription's next digest lists, oldest first, locked."""
        ...

    async def mark_digested(
        self, subscription_id: UUID, item_keys: list[str], delivery_id: UUID
    ) -> None: ...


class Directory(Protocol):
    async def remember(
        self, organisation: OrganisationRef, service: ServiceRef | None, tags: Iterable[str] = ()
    ) -> StaffEmails:
        """Keep the names a story gives, and its tags; say how the organisation's staff
        are written to (as `staff_emails` would, in the same statement)."""
        ...

    async def list_organisation(self, entry: OrganisationListed) -> None:
        """Keep the directory's entry for an organisation (all its services)."""
        ...

    async def organisation(self, organisation_id: str) -> KnownOrganisation | None: ...

    async def staff_emails(self, organisation_id: str) -> StaffEmails:
        """The language (`en`, `cy`, `bilingual`) and Welsh name staff emails use."""
        ...

    async def tags(self, organisation_id: str) -> list[str]: ...


class ResponseVersions(Protocol):
    async def seen(self, response_id: UUID) -> SeenVersion | None: ...

    async def record_first(
        self,
        response_id: UUID,
        story_id: UUID,
        version: int,
        *,
        deleted: bool,
        event_id: UUID,
    ) -> bool: ...

    async def record_newer(self, response_id: UUID, version: int, *, deleted: bool) -> None: ...

    async def correct_unsent(
        self, response_id: UUID, alerted_by: UUID, version: int, changes: dict[str, object]
    ) -> None: ...

    async def cancel_unsent(self, response_id: UUID, alerted_by: UUID) -> int: ...

    async def forget_story(self, story_id: UUID) -> None: ...


class NotificationsUnitOfWork(AbstractUnitOfWork):
    """What notifications' handlers work with, inside `async with uow:`."""

    subscriptions: Subscriptions
    authors: AuthorContacts
    stories: Stories
    deliveries: Deliveries
    alerts: SafeguardingAlerts
    digests: DigestItems
    directory: Directory
    responses: ResponseVersions


class PostgresNotificationsUnitOfWork(UnitOfWork, NotificationsUnitOfWork):
    """Notifications' unit of work on its PostgreSQL database."""

    def bind(self, conn: Connection) -> None:
        self.subscriptions = PostgresSubscriptions(conn)
        self.authors = PostgresAuthorContacts(conn)
        self.stories = PostgresStories(conn)
        self.deliveries = PostgresDeliveries(conn)
        self.alerts = PostgresSafeguardingAlerts(conn)
        self.digests = PostgresDigestItems(conn)
        self.directory = PostgresDirectory(conn)
        self.responses = PostgresResponseVersions(conn)
