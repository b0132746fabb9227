"""In-memory stand-ins for notifications' unit of work, with transaction semantics."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from candour_common.events import BaseEvent, OrganisationListed, OrganisationRef, ServiceRef
from candour_common.topics import Topic
from candour_notifications.adapters.known_directory import KnownOrganisation, KnownService
from candour_notifications.adapters.repository import (
    AuthorContact,
    DigestItem,
    PublishedStory,
    RejectionBeforeContact,
)
from candour_notifications.adapters.response_versions import SeenVersion
from candour_notifications.domain import (
    AUTHOR_KINDS,
    Delivery,
    DeliveryKind,
    DeliveryReport,
    DeliveryStatus,
    DigestItemKind,
    Frequency,
    SafeguardingAlert,
    StaffEmails,
    Subscription,
    SubscriptionKind,
    normalise_tag,
)
from candour_notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from tests.unit.fake_unit_of_work import FakeTransaction, InMemoryDatabase

OPEN = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


@dataclass
class WaitingItem:
    subscription_id: UUID
    item_key: str
    kind: DigestItemKind
    story_id: UUID
    revision: int
    context: dict[str, object]
    digest_delivery_id: UUID | None = None


@dataclass
class ResponseSeen:
    story_id: UUID
    version: int
    deleted: bool
    alerted_by: UUID


@dataclass
class FakeState:
    subscriptions: dict[UUID, Subscription] = field(default_factory=dict)
    mail_domains: dict[str, list[str]] = field(default_factory=dict)
    authors: dict[UUID, AuthorContact] = field(default_factory=dict)
    versions: dict[UUID, int] = field(default_factory=dict)  # newest submitted version
    rejected_at: dict[UUID, datetime] = field(default_factory=dict)
    # Decisions that came before their story (story.rejected overtook story.submitted).
    early_rejections: dict[UUID, RejectionBeforeContact] = field(default_factory=dict)
    published: dict[UUID, PublishedStory] = field(default_factory=dict)
    withdrawn: dict[UUID, datetime] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    alerts: dict[UUID, SafeguardingAlert] = field(default_factory=dict)
    waiting: list[WaitingItem] = field(default_factory=list)
    organisations: dict[str, KnownOrganisation] = field(default_factory=dict)
    staff_emails: dict[str, StaffEmails] = field(default_factory=dict)
    tags: dict[str, set[str]] = field(default_factory=dict)
    responses: dict[UUID, ResponseSeen] = field(default_factory=dict)
    inbox: set[UUID] = field(default_factory=set)
    outbox: list[tuple[UUID, BaseEvent]] = field(default_factory=list)
    tombstones: list[tuple[Topic, str, UUID]] = field(default_factory=list)


class FakeSubscriptions:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def add(self, subscription: Subscription, *, created_by: str) -> Subscription:
        stored = dataclasses.replace(subscription, created_at=datetime.now(UTC))
        self.state.subscriptions[stored.id] = stored
        return stored

    async def get(self, subscription_id: UUID) -> Subscription | None:
        return self.state.subscriptions.get(subscription_id)

    async def confirm(self, subscription_id: UUID) -> bool:
        found = self.state.subscriptions.get(subscription_id)
        if found is None or not found.pending_confirmation or not found.active:
            return False
        self.state.subscriptions[subscription_id] = dataclasses.replace(
            found, pending_confirmation=False
        )
        return True

    async def of_organisation(self, organisation_id: str | None) -> list[Subscription]:
        return [
            s
            for s in self.state.subscriptions.values()
            if s.active and organisation_id in (None, s.organisation_id)
        ]

    async def active(self, organisation_id: str, kind: SubscriptionKind) -> list[Subscription]:
        return [
            s
            for s in self.state.subscriptions.values()
            if s.active
            and not s.pending_confirmation
            and s.organisation_id == organisation_id
            and s.kind is kind
        ]

    async def active_among(
        self, organisation_ids: Collection[str], kind: SubscriptionKind
    ) -> dict[str, list[Subscription]]:
        return {o: await self.active(o, kind) for o in organisation_ids}

    def _cancel(self, subscription_id: UUID) -> None:
        self.state.deliveries = [
            dataclasses.replace(d, status=DeliveryStatus.CANCELLED)
            if d.subscription_id == subscription_id and d.status in OPEN
            else d
            for d in self.state.deliveries
        ]

    async def delete(self, subscription_id: UUID) -> None:
        self._cancel(subscription_id)
        self.state.subscriptions.pop(subscription_id, None)

    async def deactivate(self, subscription_id: UUID) -> bool:
        found = self.state.subscriptions.get(subscription_id)
        if found is not None:
            self.state.subscriptions[subscription_id] = dataclasses.replace(found, active=False)
        self._cancel(subscription_id)
        self.state.waiting = [
            w
            for w in self.state.waiting
            if not (w.subscription_id == subscription_id and w.digest_delivery_id is None)
        ]
        return found is not None

    async def mail_domains(self, organisation_id: str) -> list[str]:
        return sorted(self.state.mail_domains.get(organisation_id, []))

    async def set_mail_domains(self, organisation_id: str, domains: list[str]) -> None:
        self.state.mail_domains[organisation_id] = list(domains)

    async def due_a_digest(self, digest_date: date) -> list[Subscription]:
        digested = {
            d.subscription_id for d in self.state.deliveries if d.digest_date == digest_date
        }
        waiting = {w.subscription_id for w in self.state.waiting if w.digest_delivery_id is None}
        return [
            s
            for s in self.state.subscriptions.values()
            if s.active
            and not s.pending_confirmation
            and s.frequency is Frequency.DAILY
            and s.id in waiting
            and s.id not in digested
        ]


class FakeAuthorContacts:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def save(self, contact: AuthorContact) -> None:
        known = self.state.authors.get(contact.story_id)
        if known is not None and known.version > contact.version:
            return
        if known is None or known.version < contact.version:
            self.state.rejected_at.pop(contact.story_id, None)
        self.state.authors[contact.story_id] = contact

    async def get(self, story_id: UUID) -> AuthorContact | None:
        return self.state.authors.get(story_id)

    async def get_many(self, story_ids: Collection[UUID]) -> dict[UUID, AuthorContact]:
        return {s: self.state.authors[s] for s in story_ids if s in self.state.authors}

    async def record_version(self, story_id: UUID, version: int) -> bool:
        if self.state.versions.get(story_id, 0) > version:
            return False
        self.state.versions[story_id] = version
        return True

    async def discard(self, story_id: UUID) -> None:
        self.state.authors.pop(story_id, None)

    async def mark_told_published(self, story_id: UUID) -> None:
        if (known := self.state.authors.get(story_id)) is not None:
            self.state.authors[story_id] = dataclasses.replace(known, told_published=True)
        self.state.rejected_at.pop(story_id, None)

    async def mark_rejected(self, story_id: UUID, rejected_at: datetime) -> None:
        if story_id in self.state.authors:
            self.state.rejected_at[story_id] = rejected_at

    async def submitted_version(self, story_id: UUID) -> int | None:
        return self.state.versions.get(story_id)

    async def record_versions(self, versions: dict[UUID, int]) -> set[UUID]:
        return {s for s, v in versions.items() if await self.record_version(s, v)}

    async def discard_all(self, story_ids: Collection[UUID]) -> None:
        for story_id in story_ids:
            self.state.authors.pop(story_id, None)
            self.state.early_rejections.pop(story_id, None)

    async def keep_rejection_before_contact(self, rejection: RejectionBeforeContact) -> None:
        known = self.state.early_rejections.get(rejection.story_id)
        if known is None or known.rejected_at <= rejection.rejected_at:
            self.state.early_rejections[rejection.story_id] = rejection

    async def take_rejection_before_contact(self, story_id: UUID) -> RejectionBeforeContact | None:
        return self.state.early_rejections.pop(story_id, None)

    async def stop_notifications(self, story_id: UUID) -> None:
        self.state.authors.pop(story_id, None)
        self.state.deliveries = [
            dataclasses.replace(d, status=DeliveryStatus.CANCELLED)
            if d.story_id == story_id and d.kind in AUTHOR_KINDS and d.status in OPEN
            else d
            for d in self.state.deliveries
        ]


class FakeStories:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def save_published(self, story: PublishedStory) -> None:
        old = self.state.published.get(story.facts.story_id)
        if old is None or old.revision <= story.revision:
            self.state.published[story.facts.story_id] = story

    async def save_published_many(self, stories: Sequence[PublishedStory]) -> None:
        for story in stories:
            await self.save_published(story)

    async def get_published(self, story_id: UUID) -> PublishedStory | None:
        return self.state.published.get(story_id)

    async def is_withdrawn(self, story_id: UUID) -> bool:
        return story_id in self.state.withdrawn

    async def withdrawn_among(self, story_ids: Collection[UUID]) -> set[UUID]:
        return set(story_ids) & set(self.state.withdrawn)

    async def forget(self, story_id: UUID, withdrawn_at: datetime) -> int:
        self.state.withdrawn.setdefault(story_id, withdrawn_at)
        self.state.authors.pop(story_id, None)
        self.state.versions.pop(story_id, None)
        self.state.rejected_at.pop(story_id, None)
        self.state.early_rejections.pop(story_id, None)
        self.state.published.pop(story_id, None)
        for escalation_id, alert in list(self.state.alerts.items()):
            if alert.story_id == story_id:
                self.state.alerts[escalation_id] = dataclasses.replace(alert, context={})
        cancelled = 0
        kept: list[Delivery] = []
        for d in self.state.deliveries:
            if d.story_id == story_id:
                if d.status in OPEN:
                    cancelled += 1
                    d = dataclasses.replace(d, status=DeliveryStatus.CANCELLED)
                recipient = f"erased:{d.id}" if d.kind in AUTHOR_KINDS else d.recipient
                d = dataclasses.replace(d, context={}, recipient=recipient)
            kept.append(d)
        self.state.deliveries = kept
        self.state.waiting = [w for w in self.state.waiting if w.story_id != story_id]
        return cancelled


class FakeDeliveries:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def add(self, delivery: Delivery) -> bool:
        key = (delivery.event_id, delivery.recipient, delivery.kind)
        if any((d.event_id, d.recipient, d.kind) == key for d in self.state.deliveries):
            return False
        self.state.deliveries.append(copy.deepcopy(delivery))
        return True

    async def add_many(self, deliveries: Sequence[Delivery]) -> int:
        return sum([await self.add(d) for d in deliveries])

    async def add_digest(self, delivery: Delivery) -> bool:
        if any(
            d.subscription_id == delivery.subscription_id and d.digest_date == delivery.digest_date
            for d in self.state.deliveries
        ):
            return False
        self.state.deliveries.append(copy.deepcopy(delivery))
        return True

    async def alerted_subscriptions(self, story_id: UUID, kind: DeliveryKind) -> set[UUID]:
        return {
            d.subscription_id
            for d in self.state.deliveries
            if d.story_id == story_id and d.kind is kind and d.subscription_id is not None
        }

    async def alerted_subscriptions_among(
        self, story_ids: Collection[UUID], kind: DeliveryKind
    ) -> dict[UUID, set[UUID]]:
        return {s: await self.alerted_subscriptions(s, kind) for s in story_ids}

    async def get(self, delivery_id: UUID) -> Delivery | None:
        return next((d for d in self.state.deliveries if d.id == delivery_id), None)

    async def report(self, status: DeliveryStatus | None, limit: int) -> list[DeliveryReport]:
        now = datetime.now(UTC)
        return [
            DeliveryReport(
                id=d.id,
                kind=d.kind,
                status=d.status,
                recipient=d.recipient,
                story_id=d.story_id,
                subscription_id=d.subscription_id,
                digest_date=d.digest_date,
                attempts=d.attempts,
                last_error=None,
                created_at=now,
                updated_at=now,
                sent_at=None,
            )
            for d in self.state.deliveries
            if status in (None, d.status)
        ][:limit]

    async def counts(self) -> tuple[dict[DeliveryStatus, int], float | None]:
        counts = dict.fromkeys(DeliveryStatus, 0)
        for d in self.state.deliveries:
            counts[d.status] += 1
        return counts, None


class FakeSafeguardingAlerts:
    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.now = datetime.now(UTC)

    async def add(
        self,
        alert: SafeguardingAlert,
        *,
        event_id: UUID,
        raised_at: datetime,
        ack_timeout_seconds: float,
    ) -> datetime | None:
        if alert.escalation_id in self.state.alerts:
            return None
        self.state.alerts[alert.escalation_id] = dataclasses.replace(alert, alerted_at=self.now)
        return self.now

    async def get(
        self, escalation_id: UUID, *, for_update: bool = False
    ) -> SafeguardingAlert | None:
        return self.state.alerts.get(escalation_id)

    async def latest_from_screening(self, story_id: UUID) -> SafeguardingAlert | None:
        found = [
            a
            for a in self.state.alerts.values()
            if a.story_id == story_id and a.context.get("trigger") == "screening"
        ]
        return found[-1] if found else None

    async def acknowledge(self, escalation_id: UUID, by: str) -> datetime:
        alert = self.state.alerts[escalation_id]
        at = self.now + timedelta(minutes=1)
        self.state.alerts[escalation_id] = dataclasses.replace(
            alert, acknowledged_at=at, acknowledged_by=by
        )
        return at

    async def lock_overdue(self, limit: int) -> list[SafeguardingAlert]:
        return []

    async def mark_realerted(self, escalation_id: UUID, recipients: Collection[str]) -> datetime:
        at = self.now + timedelta(minutes=30)
        alert = self.state.alerts[escalation_id]
        self.state.alerts[escalation_id] = dataclasses.replace(alert, realerted_at=at)
        return at


class FakeDigestItems:
    def __init__(self, state: FakeState) -> None:
        self.state = state

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
        for item in self.state.waiting:
            if item.subscription_id == subscription_id and item.item_key == item_key:
                if item.digest_delivery_id is None and item.revision <= revision:
                    item.context, item.revision = copy.deepcopy(context), revision
                return
        self.state.waiting.append(
            WaitingItem(subscription_id, item_key, kind, story_id, revision, copy.deepcopy(context))
        )

    async def drop_waiting_story_items(
        self, story_id: UUID, *, except_subscriptions: Collection[UUID]
    ) -> None:
        self.state.waiting = [
            w
            for w in self.state.waiting
            if not (
                w.story_id == story_id
                and w.kind is DigestItemKind.STORY
                and w.digest_delivery_id is None
                and w.subscription_id not in except_subscriptions
            )
        ]

    async def drop_waiting_items_of_stories(self, keep: dict[UUID, Collection[UUID]]) -> None:
        for story_id, subscriptions in keep.items():
            await self.drop_waiting_story_items(story_id, except_subscriptions=subscriptions)

    async def lock_waiting(self, subscription_id: UUID) -> list[DigestItem]:
        return [
            DigestItem(w.item_key, w.story_id, copy.deepcopy(w.context))
            for w in self.state.waiting
            if w.subscription_id == subscription_id and w.digest_delivery_id is None
        ]

    async def mark_digested(
        self, subscription_id: UUID, item_keys: list[str], delivery_id: UUID
    ) -> None:
        for w in self.state.waiting:
            if w.subscription_id == subscription_id and w.item_key in item_keys:
                w.digest_delivery_id = delivery_id


class FakeDirectory:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def remember(
        self, organisation: OrganisationRef, service: ServiceRef | None, tags: Iterable[str] = ()
    ) -> StaffEmails:
        known = self.state.organisations.get(organisation.id)
        services = {s.id: s for s in known.services} if known else {}
        if service is not None:
            services[service.id] = KnownService(service.id, service.name)
        self.state.organisations[organisation.id] = KnownOrganisation(
            organisation.id, organisation.name, tuple(services.values())
        )
        self.state.tags.setdefault(organisation.id, set()).update(normalise_tag(t) for t in tags)
        return await self.staff_emails(organisation.id)

    async def list_organisation(self, entry: OrganisationListed) -> None:
        self.state.organisations[entry.organisation_id] = KnownOrganisation(
            entry.organisation_id,
            entry.name,
            tuple(KnownService(s.id, s.name) for s in entry.services),
        )
        self.state.staff_emails[entry.organisation_id] = StaffEmails(
            entry.email_language.value, entry.name_cy
        )

    async def staff_emails(self, organisation_id: str) -> StaffEmails:
        return self.state.staff_emails.get(organisation_id, StaffEmails())

    async def organisation(self, organisation_id: str) -> KnownOrganisation | None:
        return self.state.organisations.get(organisation_id)

    async def tags(self, organisation_id: str) -> list[str]:
        return sorted(self.state.tags.get(organisation_id, set()))


class FakeResponseVersions:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def seen(self, response_id: UUID) -> SeenVersion | None:
        found = self.state.responses.get(response_id)
        return SeenVersion(found.version, found.deleted, found.alerted_by) if found else None

    async def record_first(
        self,
        response_id: UUID,
        story_id: UUID,
        version: int,
        *,
        deleted: bool,
        event_id: UUID,
    ) -> bool:
        if response_id in self.state.responses:
            return False
        self.state.responses[response_id] = ResponseSeen(story_id, version, deleted, event_id)
        return True

    async def record_newer(self, response_id: UUID, version: int, *, deleted: bool) -> None:
        seen = self.state.responses[response_id]
        seen.version, seen.deleted = version, deleted

    async def correct_unsent(
        self, response_id: UUID, alerted_by: UUID, version: int, changes: dict[str, object]
    ) -> None:
        self.state.deliveries = [
            dataclasses.replace(d, context={**d.context, **changes})
            if d.event_id == alerted_by and d.status is DeliveryStatus.PENDING
            else d
            for d in self.state.deliveries
        ]

    async def cancel_unsent(self, response_id: UUID, alerted_by: UUID) -> int:
        cancelled = 0
        for i, d in enumerate(self.state.deliveries):
            if d.event_id == alerted_by and d.status in OPEN:
                self.state.deliveries[i] = dataclasses.replace(d, status=DeliveryStatus.CANCELLED)
                cancelled += 1
        return cancelled

    async def forget_story(self, story_id: UUID) -> None:
        self.state.responses = {
            r: seen for r, seen in self.state.responses.items() if seen.story_id != story_id
        }


class FakeNotificationsUnitOfWork(FakeTransaction[FakeState], NotificationsUnitOfWork):
    """One transaction on a `FakeDatabase` (tests/unit/fake_unit_of_work.py)."""

    def _bind(self, state: FakeState) -> None:
        self.subscriptions = FakeSubscriptions(state)
        self.authors = FakeAuthorContacts(state)
        self.stories = FakeStories(state)
        self.deliveries = FakeDeliveries(state)
        self.alerts = FakeSafeguardingAlerts(state)
        self.digests = FakeDigestItems(state)
        self.directory = FakeDirectory(state)
        self.responses = FakeResponseVersions(state)


class FakeDatabase(InMemoryDatabase[FakeState]):
    """Notifications' database in memory; `uow()` is a fresh unit of work on it."""

    def __init__(self) -> None:
        super().__init__(FakeState())

    def uow(self) -> FakeNotificationsUnitOfWork:
        return FakeNotificationsUnitOfWork(self)
