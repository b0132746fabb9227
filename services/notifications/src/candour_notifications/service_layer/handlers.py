"""Use cases of notifications. Each receives its dependencies as arguments.

Event handlers write the emails owed (delivery rows) in the same transaction as
the inbox record and return how many they wrote; the delivery worker sends them
after the commit.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import structlog

from candour_common.auth import Principal, Role
from candour_common.events import (
    CRITICALITY_LABELS,
    TAG_VOCABULARY,
    EscalationState,
    OrganisationListed,
    OrganisationRef,
    ResponsePosted,
    SafeguardingRaised,
    SafeguardingTrigger,
    SafeguardingUpdated,
    ServiceRef,
    StoryApproved,
    StoryLanguage,
    StoryRejected,
    StorySubmitted,
    StoryWithdrawn,
)
from candour_common.translatable import N_, Filled
from candour_notifications.adapters.clock import Clock
from candour_notifications.adapters.known_directory import KnownService
from candour_notifications.adapters.repository import (
    AuthorContact,
    PublishedStory,
    RejectionBeforeContact,
)
from candour_notifications.adapters.response_versions import SeenVersion, digest_item_key
from candour_notifications.domain import (
    DIGEST_KINDS,
    SAFEGUARDING_KINDS,
    Delivery,
    DeliveryKind,
    DeliveryReport,
    DeliveryStatus,
    DigestItemKind,
    DigestSchedule,
    Frequency,
    SafeguardingAlert,
    SafeguardingPolicy,
    StaffEmails,
    StoryFacts,
    Subscribe,
    Subscription,
    SubscriptionKind,
    UnsubscribeScope,
    UnsubscribeTarget,
    author_published_event_id,
    author_rejected_event_id,
    confirmation_event_id,
    digest_event_id,
    more_serious,
    normalise_domain,
    normalise_tag,
    realert_event_id,
    recipients,
    wants_safeguarding,
    wants_story,
    within_domains,
)
from candour_notifications.service_layer.unit_of_work import NotificationsUnitOfWork

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Links:
    """Where the emails point: pages people read, never an API document."""

    public_base_url: str  # search: the public story pages
    intake_base_url: str  # story-intake: where staff answer a story

    def story(self, story_id: uuid.UUID, language: str | None = None) -> str:
        return f"{self.public_base_url.rstrip('/')}/stories/{story_id}{_lang(language)}"

    def respond(self, story_id: uuid.UUID) -> str:
        return f"{self.intake_base_url.rstrip('/')}/respond/{story_id}"

    def follow(self, story_id: uuid.UUID, language: str | None = None) -> str:
        """The author's follow page, which asks for their private code (never in an email)
        and offers "Edit and send again"."""
        base = f"{self.intake_base_url.rstrip('/')}/follow?story={story_id}"
        return base + (f"&lang={language}" if language == WELSH else "")


WELSH = StoryLanguage.WELSH.value


def _lang(language: str | None) -> str:
    """A page link in Welsh for a Welsh reader (the pages remember it in a cookie)."""
    return f"?lang={language}" if language == WELSH else ""


# -- subscriptions ------------------------------------------------------------------


class NotAllowed(Exception):
    """The caller may not act for that organisation."""


class SubscriptionNotFound(Exception):
    pass


def check_organisation(principal: Principal, organisation_id: str) -> None:
    """Operators act for any organisation; staff only for their own."""
    if principal.role is Role.OPERATOR:
        return
    if principal.role is Role.STAFF and principal.organisation_id == organisation_id:
        return
    raise NotAllowed(organisation_id)


class UnknownChoices(Exception):
    """A subscription names services or tags that do not exist (it would never fire)."""

    def __init__(self, services: list[str], tags: list[str]) -> None:
        super().__init__(f"unknown services {services}, unknown tags {tags}")
        self.services = services
        self.tags = tags


@dataclass(frozen=True, slots=True)
class AlertChoices:
    """What staff of an organisation can pick from: its services and the tags in use."""

    organisation_id: str
    organisation_name: str
    services: tuple[KnownService, ...]
    tags: tuple[str, ...]

    def service_name(self, service_id: str) -> str | None:
        return next((s.name for s in self.services if s.id == service_id), None)

    def unknown(self, command: Subscribe) -> UnknownChoices | None:
        known_services = {s.id for s in self.services}
        known_tags = {normalise_tag(t) for t in self.tags}
        services = [s for s in command.service_ids if s not in known_services]
        tags = [t for t in command.tags if normalise_tag(t) not in known_tags]
        return UnknownChoices(services, tags) if services or tags else None


def vocabulary() -> list[str]:
    return [tag for group in TAG_VOCABULARY.values() for tag in group]


async def choices(uow: NotificationsUnitOfWork, organisation_id: str) -> AlertChoices:
    known = await uow.directory.organisation(organisation_id)
    extra = [t for t in await uow.directory.tags(organisation_id) if t not in vocabulary()]
    return AlertChoices(
        organisation_id=organisation_id,
        organisation_name=known.name if known else organisation_id,
        services=known.services if known else (),
        tags=(*vocabulary(), *extra),
    )


async def alert_choices(
    uow: NotificationsUnitOfWork, principal: Principal, organisation_id: str
) -> AlertChoices:
    check_organisation(principal, organisation_id)
    async with uow:
        return await choices(uow, organisation_id)


async def subscribe(
    uow: NotificationsUnitOfWork, principal: Principal, command: Subscribe
) -> Subscription:
    """Subscribe an address. Staff subscribing an address outside their organisation's
    own mail domains get a subscription that sends nothing until the address's owner
    confirms from the link emailed to it (owed here, in the same transaction); an
    operator's subscriptions, and addresses in the organisation's domains, need none."""
    check_organisation(principal, command.organisation_id)
    async with uow:
        # Staff pick from what exists. Operators may name services and tags not (yet) in
        # the directory (setting up a trust early); see docs/operations.md.
        if principal.role is not Role.OPERATOR:
            unknown = (await choices(uow, command.organisation_id)).unknown(command)
            if unknown is not None:
                raise unknown
        pending = principal.role is not Role.OPERATOR and not within_domains(
            command.email, await uow.subscriptions.mail_domains(command.organisation_id)
        )
        subscription = await uow.subscriptions.add(
            Subscription(
                id=uuid.uuid4(),
                email=command.email,
                organisation_id=command.organisation_id,
                frequency=command.frequency,
                kind=command.kind,
                service_ids=command.service_ids,
                tags=command.tags,
                min_criticality=command.min_criticality,
                pending_confirmation=pending,
            ),
            created_by=principal.subject,
        )
        if pending:
            await uow.deliveries.add(
                Delivery(
                    id=uuid.uuid4(),
                    event_id=confirmation_event_id(subscription.id),
                    story_id=None,
                    kind=DeliveryKind.SUBSCRIPTION_CONFIRMATION,
                    recipient=subscription.email,
                    subscription_id=subscription.id,
                    context={
                        "organisation_id": subscription.organisation_id,
                        "what": _describe(subscription),
                        "subscription_kind": subscription.kind.value,
                        "subscribed_by": principal.subject,
                        **(
                            await uow.directory.staff_emails(subscription.organisation_id)
                        ).context(),
                    },
                ),
            )
            log.info("subscription awaits confirmation", subscription_id=str(subscription.id))
    return subscription


@dataclass(frozen=True, slots=True)
class Confirmed:
    what: str  # what the person will now get, for the confirmation page
    changed: bool


async def describe_confirmation(
    uow: NotificationsUnitOfWork, subscription_id: uuid.UUID
) -> Confirmed:
    """What confirming would turn on (`changed`: whether it still waits for that)."""
    async with uow:
        subscription = await uow.subscriptions.get(subscription_id)
    waiting = subscription is not None and subscription.pending_confirmation
    return Confirmed(_describe(subscription), waiting)


async def confirm_subscription(
    uow: NotificationsUnitOfWork, subscription_id: uuid.UUID
) -> Confirmed:
    """Double opt-in: the address's owner says yes. Idempotent."""
    async with uow:
        subscription = await uow.subscriptions.get(subscription_id)
        changed = await uow.subscriptions.confirm(subscription_id)
    if changed:
        log.info("subscription confirmed", subscription_id=str(subscription_id))
    return Confirmed(_describe(subscription), changed)


async def organisation_mail_domains(
    uow: NotificationsUnitOfWork, principal: Principal, organisation_id: str
) -> list[str]:
    check_organisation(principal, organisation_id)
    async with uow:
        return await uow.subscriptions.mail_domains(organisation_id)


async def set_organisation_mail_domains(
    uow: NotificationsUnitOfWork, organisation_id: str, domains: list[str]
) -> list[str]:
    """Operators only (the route checks): an organisation's own mail domains."""
    cleaned = sorted({normalise_domain(d) for d in domains} - {""})
    async with uow:
        await uow.subscriptions.set_mail_domains(organisation_id, cleaned)
    return cleaned


async def list_subscriptions(
    uow: NotificationsUnitOfWork, principal: Principal, organisation_id: str | None
) -> list[Subscription]:
    if principal.role is not Role.OPERATOR:
        organisation_id = organisation_id or principal.organisation_id
        check_organisation(principal, organisation_id or "")
    async with uow:
        return await uow.subscriptions.of_organisation(organisation_id)


async def get_subscription(
    uow: NotificationsUnitOfWork, principal: Principal, subscription_id: uuid.UUID
) -> Subscription:
    async with uow:
        subscription = await uow.subscriptions.get(subscription_id)
    if subscription is None:
        raise SubscriptionNotFound(subscription_id)
    check_organisation(principal, subscription.organisation_id)
    return subscription


async def delete_subscription(
    uow: NotificationsUnitOfWork, principal: Principal, subscription_id: uuid.UUID
) -> None:
    async with uow:
        subscription = await uow.subscriptions.get(subscription_id)
        if subscription is None:
            raise SubscriptionNotFound(subscription_id)
        check_organisation(principal, subscription.organisation_id)
        await uow.subscriptions.delete(subscription_id)


async def list_deliveries(
    uow: NotificationsUnitOfWork, status: DeliveryStatus | None, limit: int
) -> list[DeliveryReport]:
    async with uow:
        return await uow.deliveries.report(status, limit)


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    what: str  # what the person will no longer get, for the confirmation page
    changed: bool


async def describe_unsubscribe(uow: NotificationsUnitOfWork, target: UnsubscribeTarget) -> str:
    if target.scope is UnsubscribeScope.AUTHOR:
        return AUTHOR_EMAILS
    async with uow:
        subscription = await uow.subscriptions.get(target.id)
    return _describe(subscription)


# What a subscription sends, in words the confirm and unsubscribe pages put in their
# sentences (English here and in emails; a Welsh page translates them).
_DESCRIPTIONS = {
    SubscriptionKind.STORIES: N_("emails about new stories for organisation {organisation}"),
    SubscriptionKind.RESPONSES: N_("emails about responses for organisation {organisation}"),
    SubscriptionKind.SAFEGUARDING: N_("safeguarding alerts for organisation {organisation}"),
}
AUTHOR_EMAILS = N_("emails about responses to your story")


def _describe(subscription: Subscription | None) -> str:
    if subscription is None:
        return N_("these emails")
    return Filled(_DESCRIPTIONS[subscription.kind], organisation=subscription.organisation_id)


async def unsubscribe(uow: NotificationsUnitOfWork, target: UnsubscribeTarget) -> Unsubscribed:
    """One-click unsubscribe: idempotent, and no error for something already gone."""
    async with uow:
        if target.scope is UnsubscribeScope.AUTHOR:
            had = await uow.authors.get(target.id) is not None
            await uow.authors.stop_notifications(target.id)
            return Unsubscribed(AUTHOR_EMAILS, had)
        subscription = await uow.subscriptions.get(target.id)
        changed = await uow.subscriptions.deactivate(target.id)
        return Unsubscribed(_describe(subscription), changed and bool(subscription))


# -- events -------------------------------------------------------------------------


async def keep_directory_entry(uow: NotificationsUnitOfWork, event: OrganisationListed) -> None:
    """Keep the directory's entry for an organisation (what the alerts page offers)."""
    async with uow:
        await uow.directory.list_organisation(event)


async def store_author_contact(
    uow: NotificationsUnitOfWork, event: StorySubmitted, *, links: Links
) -> int:
    """Keep the author's address, if they gave one, with their story's language and title:
    to tell them the outcome of moderation, about the responses they asked to hear about,
    and for a safeguarding alert (the organisation's safeguarding lead may need to reach
    them). Erased when the story is withdrawn.

    An edited story comes again with a higher `version`: its contact and language replace
    the earlier ones (no address in it: the address goes); a lower version arriving late
    is ignored. Returns how many emails it owed: the "published" email, when the
    publication overtook the contact (another topic)."""
    async with uow:
        await uow.directory.remember(
            event.organisation,
            event.service,
            [*event.tags.good, *event.tags.improve, *event.tags.feelings],
        )
        if await uow.stories.is_withdrawn(event.story_id):
            return 0
        if not await uow.authors.record_version(event.story_id, event.version):
            log.info("ignored an older version of a submitted story", version=event.version)
            return 0
        early = await uow.authors.take_rejection_before_contact(event.story_id)
        author = event.author
        if not author.email:
            await uow.authors.discard(event.story_id)
            return 0
        known = await uow.authors.get(event.story_id)
        await uow.authors.save(
            AuthorContact(
                event.story_id,
                str(author.email),
                author.notify_on_response,
                language=event.language.value,
                title=event.title,
                version=event.version,
                told_published=known.told_published if known else False,
            )
        )
        published = await uow.stories.get_published(event.story_id)
        if published is None and early is not None and early.version >= event.version:
            # The decision on this version overtook it (another topic): tell them now.
            return await _tell_author_not_published(
                uow, early, await uow.authors.get(event.story_id), links
            )
        if published is None or (known is not None and known.told_published):
            return 0
        return await _tell_author_published(
            uow,
            event.story_id,
            published.title,
            published.organisation_name,
            links,
            revision=published.revision,
        )


async def store_author_contacts(
    uow: NotificationsUnitOfWork, events: Sequence[StorySubmitted], *, links: Links
) -> int:
    """`store_author_contact` for a batch of submissions (a backlog: a bulk import, a
    replay), with the same outcome as one by one. A submission without an address (most
    of an import) is recorded set-based: its version, and nothing kept for it; one with
    an address, or of a story seen twice in the batch, goes through
    `store_author_contact` in its place."""
    per_story = Counter(e.story_id for e in events)
    plain = {e.story_id: e for e in events if not e.author.email and per_story[e.story_id] == 1}
    owed = 0
    async with uow:
        places: dict[tuple[str, str | None], tuple[OrganisationRef, ServiceRef | None, set[str]]]
        places = {}
        for event in plain.values():
            key = (event.organisation.id, event.service.id if event.service else None)
            _, _, tags = places.setdefault(key, (event.organisation, event.service, set()))
            tags.update([*event.tags.good, *event.tags.improve, *event.tags.feelings])
        for organisation, service, tags in places.values():
            await uow.directory.remember(organisation, service, sorted(tags))
        live = set(plain) - await uow.stories.withdrawn_among(list(plain))
        recorded = await uow.authors.record_versions({s: plain[s].version for s in live})
        if recorded:
            await uow.authors.discard_all(recorded)
        for event in events:
            if event.story_id not in plain:
                owed += await store_author_contact(uow, event, links=links)
    return owed


async def _tell_author_published(
    uow: NotificationsUnitOfWork,
    story_id: uuid.UUID,
    title: str,
    organisation_name: str,
    links: Links,
    *,
    revision: int,
) -> int:
    """Owe the author their one "your story is published" email, if they gave an address
    and were not told before; then keep the address only if they asked about responses."""
    if revision > 1:
        return 0  # a re-publication (an edit of a published story): they were told
    contact = await uow.authors.get(story_id)
    if contact is None or contact.told_published:
        return 0
    return await _owe_author_published(uow, contact, title, organisation_name, links)


async def _owe_author_published(
    uow: NotificationsUnitOfWork,
    contact: AuthorContact,
    title: str,
    organisation_name: str,
    links: Links,
) -> int:
    story_id = contact.story_id
    owed = await uow.deliveries.add(
        Delivery(
            id=uuid.uuid4(),
            event_id=author_published_event_id(story_id),
            story_id=story_id,
            kind=DeliveryKind.AUTHOR_PUBLISHED,
            recipient=contact.email,
            context={
                "story_id": str(story_id),
                "story_title": title,
                "organisation_name": organisation_name,
                "story_url": links.story(story_id, contact.language),
                "follow_url": links.follow(story_id, contact.language),
                "language": contact.language,
            },
        )
    )
    if contact.notify_on_response:
        await uow.authors.mark_told_published(story_id)
    else:
        await uow.authors.discard(story_id)  # nothing more will be sent to them
    return int(owed)


async def tell_author_rejected(
    uow: NotificationsUnitOfWork, event: StoryRejected, *, event_id: uuid.UUID, links: Links
) -> int:
    """Owe the author (if they gave an address) the "not published" email: the reason in
    plain words, what they can change, and the link to edit and send it again. One per
    decision; none for a story already published, withdrawn, or without an address."""
    rejection = RejectionBeforeContact(
        story_id=event.story_id,
        version=event.version,
        reason=event.reason.value,
        rejected_at=event.rejected_at,
        organisation_name=event.organisation.name,
    )
    async with uow:
        if await uow.stories.is_withdrawn(event.story_id):
            return 0
        if await uow.authors.submitted_version(event.story_id) is None:
            # The story itself has not come yet (another topic): keep the decision
            # until it does, so an author who gave an address is still told.
            await uow.authors.keep_rejection_before_contact(rejection)
            return 0
        return await _tell_author_not_published(
            uow, rejection, await uow.authors.get(event.story_id), links
        )


async def _tell_author_not_published(
    uow: NotificationsUnitOfWork,
    rejection: RejectionBeforeContact,
    contact: AuthorContact | None,
    links: Links,
) -> int:
    if contact is None or contact.told_published:
        return 0
    if rejection.version < contact.version:
        return 0  # a decision on a version the author has changed since: it waits again
    owed = await uow.deliveries.add(
        Delivery(
            id=uuid.uuid4(),
            event_id=author_rejected_event_id(rejection.story_id, rejection.rejected_at),
            story_id=rejection.story_id,
            kind=DeliveryKind.AUTHOR_REJECTED,
            recipient=contact.email,
            context={
                "story_id": str(rejection.story_id),
                "story_title": contact.title or None,  # none kept before #20
                "reason": rejection.reason,
                "organisation_name": rejection.organisation_name,
                "follow_url": links.follow(rejection.story_id, contact.language),
                "language": contact.language,
            },
        )
    )
    await uow.authors.mark_rejected(rejection.story_id, rejection.rejected_at)
    log.info("author told their story was not published", reason=rejection.reason)
    return int(owed)


def _tags(event: StoryApproved) -> list[str]:
    seen: dict[str, None] = {}
    for tag in [*event.tags.good, *event.tags.improve, *event.tags.feelings]:
        seen.setdefault(tag, None)
    return list(seen)


def criticality_label(criticality: int | None) -> str:
    return N_("not rated") if criticality is None else CRITICALITY_LABELS[criticality]


def _approved_facts(event: StoryApproved) -> StoryFacts:
    return StoryFacts.of(
        event.story_id,
        event.organisation.id,
        event.service.id if event.service else None,
        _tags(event),
        event.criticality,
    )


def _story_alert_context(event: StoryApproved, links: Links) -> dict[str, object]:
    """What a story's alert and digest item say (staff email settings added later)."""
    return {
        "story_id": str(event.story_id),
        "title": event.title,
        "body": event.body,
        "organisation_name": event.organisation.name,
        "service_name": event.service.name if event.service else None,
        "criticality_label": criticality_label(event.criticality),
        "author_name": event.author.shown_name,
        "author_relationship": event.author.relationship.value.replace("_", " "),
        "tags": _tags(event),
        "story_url": links.story(event.story_id),
        "respond_url": links.respond(event.story_id),
        "published_at": event.published_at.isoformat(),
    }


def _published_story(event: StoryApproved, facts: StoryFacts) -> PublishedStory:
    return PublishedStory(
        facts=facts,
        revision=event.revision,
        title=event.title,
        organisation_name=event.organisation.name,
        service_name=event.service.name if event.service else None,
    )


@dataclass(frozen=True, slots=True)
class _StoryAlertPlan:
    """Whom one approval alerts now and whose digest keeps it."""

    immediate: list[Subscription]
    daily: list[Subscription]


def _plan_story_alert(
    subscriptions: Sequence[Subscription], already: set[uuid.UUID], facts: StoryFacts
) -> _StoryAlertPlan:
    return _StoryAlertPlan(
        immediate=[
            s
            for s in subscriptions
            if s.frequency is Frequency.IMMEDIATE and s.id not in already and wants_story(s, facts)
        ],
        daily=[
            s for s in subscriptions if s.frequency is Frequency.DAILY and wants_story(s, facts)
        ],
    )


async def _collect_for_digests(
    uow: NotificationsUnitOfWork,
    event: StoryApproved,
    daily: Sequence[Subscription],
    context: dict[str, object],
) -> None:
    for subscription in daily:
        await uow.digests.collect(
            subscription_id=subscription.id,
            item_key=f"story:{event.story_id}",
            kind=DigestItemKind.STORY,
            story_id=event.story_id,
            revision=event.revision,
            context=context,
        )


async def alert_story_approved(
    uow: NotificationsUnitOfWork, event: StoryApproved, *, event_id: uuid.UUID, links: Links
) -> int:
    """Owe an email to every matching immediate `stories` subscriber, and keep the
    story for the next digest of every matching daily one.

    An edited story (a later revision) alerts only subscribers who were not told
    about it before, so an edit never sends the same person a second alert; in a
    digest not yet sent, the edit replaces the earlier revision.
    """
    facts = _approved_facts(event)
    context = _story_alert_context(event, links)
    async with uow:
        if await uow.stories.is_withdrawn(event.story_id):
            return 0
        staff = await uow.directory.remember(event.organisation, event.service, _tags(event))
        context |= staff.context()
        await uow.stories.save_published(_published_story(event, facts))
        subscriptions = await uow.subscriptions.active(
            facts.organisation_id, SubscriptionKind.STORIES
        )
        already = await uow.deliveries.alerted_subscriptions(
            event.story_id, DeliveryKind.STORY_ALERT
        )
        plan = _plan_story_alert(subscriptions, already, facts)
        await _collect_for_digests(uow, event, plan.daily, context)
        await uow.digests.drop_waiting_story_items(
            event.story_id, except_subscriptions={s.id for s in plan.daily}
        )
        author = await _tell_author_published(
            uow,
            event.story_id,
            event.title,
            event.organisation.name,
            links,
            revision=event.revision,
        )
        return author + await _owe(
            uow, event_id, event.story_id, DeliveryKind.STORY_ALERT, plan.immediate, context
        )


async def alert_stories_approved(
    uow: NotificationsUnitOfWork,
    approvals: Sequence[tuple[StoryApproved, uuid.UUID]],
    *,
    links: Links,
) -> int:
    """`alert_story_approved` for a batch of approvals (`(event, event id)`, a backlog),
    ending where one by one ends, with a statement per step for the whole batch: one
    withdrawn check, one remembered place per organisation and service, one upsert of
    the published stories, one read of the organisations' subscriptions and one of who
    was alerted already, one drop of digest items the edits no longer match, one read
    of the authors' contacts, one insert of every alert owed.

    A story approved twice in the batch (two revisions) goes through
    `alert_story_approved` once per approval, in order, after the others: its second
    revision must see what its first owed."""
    per_story = Counter(event.story_id for event, _ in approvals)
    owed = 0
    async with uow:
        withdrawn = await uow.stories.withdrawn_among(list(per_story))
        alone = [
            (event, event_id)
            for event, event_id in approvals
            if per_story[event.story_id] == 1 and event.story_id not in withdrawn
        ]
        if alone:
            owed += await _alert_distinct_stories(uow, alone, links)
        for event, event_id in approvals:
            if per_story[event.story_id] > 1 and event.story_id not in withdrawn:
                owed += await alert_story_approved(uow, event, event_id=event_id, links=links)
    return owed


async def _alert_distinct_stories(
    uow: NotificationsUnitOfWork,
    approvals: Sequence[tuple[StoryApproved, uuid.UUID]],
    links: Links,
) -> int:
    """The set-based part of `alert_stories_approved`: each story once, none withdrawn."""
    # The directory keeps the last name each place was given, as one by one would.
    places: dict[tuple[str, str | None], tuple[OrganisationRef, ServiceRef | None, list[str]]]
    places = {}
    for event, _ in approvals:
        key = (event.organisation.id, event.service.id if event.service else None)
        _, _, tags = places.pop(key, (event.organisation, event.service, []))
        tags.extend(t for t in _tags(event) if t not in tags)
        places[key] = (event.organisation, event.service, tags)
    staff: dict[str, StaffEmails] = {}
    for organisation, service, tags in places.values():
        staff[organisation.id] = await uow.directory.remember(organisation, service, tags)
    facts = {event.story_id: _approved_facts(event) for event, _ in approvals}
    await uow.stories.save_published_many(
        [_published_story(event, facts[event.story_id]) for event, _ in approvals]
    )
    subscriptions = await uow.subscriptions.active_among(sorted(staff), SubscriptionKind.STORIES)
    already = await uow.deliveries.alerted_subscriptions_among(
        list(facts), DeliveryKind.STORY_ALERT
    )
    alerts: list[Delivery] = []
    kept_in_digests: dict[uuid.UUID, Collection[uuid.UUID]] = {}
    first_publications: list[StoryApproved] = []
    for event, event_id in approvals:
        story_id = event.story_id
        context = _story_alert_context(event, links) | staff[event.organisation.id].context()
        plan = _plan_story_alert(
            subscriptions[event.organisation.id], already[story_id], facts[story_id]
        )
        await _collect_for_digests(uow, event, plan.daily, context)
        kept_in_digests[story_id] = {s.id for s in plan.daily}
        alerts += _alerts(event_id, story_id, DeliveryKind.STORY_ALERT, plan.immediate, context)
        if event.revision == 1:
            first_publications.append(event)
    await uow.digests.drop_waiting_items_of_stories(kept_in_digests)
    owed = 0
    if first_publications:
        contacts = await uow.authors.get_many([e.story_id for e in first_publications])
        for event in first_publications:
            contact = contacts.get(event.story_id)
            if contact is not None and not contact.told_published:
                owed += await _owe_author_published(
                    uow, contact, event.title, event.organisation.name, links
                )
    return owed + await uow.deliveries.add_many(alerts)


async def alert_response_posted(
    uow: NotificationsUnitOfWork, event: ResponsePosted, *, event_id: uuid.UUID, links: Links
) -> int:
    """Owe an email to the author (if they asked) and to `responses` subscribers, once per
    response: the first version seen owes them; a later one (a correction, a deletion)
    only changes what has not gone yet; an older one arriving late changes nothing."""
    async with uow:
        if await uow.stories.is_withdrawn(event.story_id):
            return 0
        seen = await uow.responses.seen(event.response_id)
        if seen is not None:
            await _apply_later_version(uow, event, seen)
            return 0
        if not await uow.responses.record_first(
            event.response_id,
            event.story_id,
            event.version,
            deleted=event.deleted,
            event_id=event_id,
        ):
            return 0
        if event.deleted:  # deleted before we heard of it: nothing to tell anyone
            return 0
        story = await uow.stories.get_published(event.story_id)
        facts = (
            story.facts
            if story
            else StoryFacts.of(event.story_id, event.organisation.id, None, (), None)
        )
        context: dict[str, object] = {
            "story_id": str(event.story_id),
            "story_title": story.title if story else None,
            "organisation_name": event.organisation.name,
            "service_name": story.service_name if story else None,
            "responder_name": event.responder.display_name,
            "responder_role": event.responder.role,
            "body": event.body,
            "change": event.change.value if event.change else None,
            "story_url": links.story(event.story_id),
        }
        owed = 0
        contact = await uow.authors.get(event.story_id)
        if contact is not None and contact.notify_on_response:
            owed += await uow.deliveries.add(
                Delivery(
                    id=uuid.uuid4(),
                    event_id=event_id,
                    story_id=event.story_id,
                    kind=DeliveryKind.AUTHOR_RESPONSE,
                    recipient=contact.email,
                    # In the story's language, with the story's page in it.
                    context={
                        **context,
                        "language": contact.language,
                        "story_url": links.story(event.story_id, contact.language),
                    },
                ),
            )
        subscriptions = await uow.subscriptions.active(
            event.organisation.id, SubscriptionKind.RESPONSES
        )
        context |= (await uow.directory.staff_emails(event.organisation.id)).context()
        matching = [s for s in subscriptions if wants_story(s, facts)]
        for subscription in matching:
            if subscription.frequency is Frequency.DAILY:
                await uow.digests.collect(
                    subscription_id=subscription.id,
                    item_key=digest_item_key(event.response_id),
                    kind=DigestItemKind.RESPONSE,
                    story_id=event.story_id,
                    revision=event.version,
                    context=context,
                )
        immediate = [s for s in matching if s.frequency is Frequency.IMMEDIATE]
        owed += await _owe(
            uow, event_id, event.story_id, DeliveryKind.RESPONSE_ALERT, immediate, context
        )
        return owed


async def _apply_later_version(
    uow: NotificationsUnitOfWork, event: ResponsePosted, seen: SeenVersion
) -> None:
    if event.version <= seen.version or seen.deleted:
        log.info("ignored an older version of a response", version=event.version)
        return
    await uow.responses.record_newer(event.response_id, event.version, deleted=event.deleted)
    if event.deleted:
        cancelled = await uow.responses.cancel_unsent(event.response_id, seen.alerted_by)
        log.info("response deleted", version=event.version, cancelled=cancelled)
        return
    await uow.responses.correct_unsent(
        event.response_id,
        seen.alerted_by,
        event.version,
        {
            "responder_name": event.responder.display_name,
            "responder_role": event.responder.role,
            "body": event.body,
            "change": event.change.value if event.change else None,
        },
    )
    log.info("response corrected: no new email", version=event.version)


async def alert_safeguarding(
    uow: NotificationsUnitOfWork,
    event: SafeguardingRaised,
    *,
    event_id: uuid.UUID,
    policy: SafeguardingPolicy,
) -> int:
    """A story needs the organisation's safeguarding contacts now: owe each of them the
    alert (or, when it has none, each duty moderator), record it for the acknowledgement
    and the re-alert, and tell moderation who was alerted (outbox, same transaction)."""
    async with uow:
        if await uow.stories.is_withdrawn(event.story_id):
            return 0  # its withdrawal overtook it: never store its words
        if await _alerted_before(uow, event):
            return 0
        service_id = event.service.id if event.service else None
        subscriptions = await uow.subscriptions.active(
            event.organisation.id, SubscriptionKind.SAFEGUARDING
        )
        contacts = recipients(
            s for s in subscriptions if wants_safeguarding(s, event.organisation.id, service_id)
        )
        to_duty = not contacts
        addressees: dict[str, uuid.UUID | None] = (
            {s.email: s.id for s in contacts.values()}
            if contacts
            else dict.fromkeys(policy.duty_moderators)
        )
        author = await uow.authors.get(event.story_id)
        context = safeguarding_context(
            event, policy, author_email=author.email if author else None, to_duty=to_duty
        )
        # The duty moderators are Candour's own (English); contacts get their organisation's.
        if not to_duty:
            context |= (await uow.directory.staff_emails(event.organisation.id)).context()
        alert = SafeguardingAlert(
            escalation_id=event.escalation_id,
            story_id=event.story_id,
            organisation_id=event.organisation.id,
            recipients=tuple(addressees),
            to_duty_moderators=to_duty,
            context=context,
        )
        alerted_at = await uow.alerts.add(
            alert,
            event_id=event_id,
            raised_at=event.raised_at,
            ack_timeout_seconds=policy.ack_timeout_seconds,
        )
        if alerted_at is None:
            return 0
        owed = 0
        for address, subscription_id in addressees.items():
            owed += await uow.deliveries.add(
                Delivery(
                    id=uuid.uuid4(),
                    event_id=event_id,
                    story_id=event.story_id,
                    kind=DeliveryKind.SAFEGUARDING_ALERT,
                    recipient=address,
                    subscription_id=subscription_id,
                    context=context,
                ),
            )
        await uow.add_event(
            SafeguardingUpdated(
                story_id=event.story_id,
                escalation_id=event.escalation_id,
                state=EscalationState.ALERTED,
                at=alerted_at,
                recipients=list(addressees),
                to_duty_moderators=to_duty,
            )
        )
    if not addressees:
        log.error(
            "safeguarding alert has nobody to go to: the organisation has no safeguarding "
            "contact and CANDOUR_SAFEGUARDING_DUTY_MODERATORS is empty",
            organisation_id=event.organisation.id,
        )
    else:
        log.info("safeguarding alert owed", recipients=owed, to_duty_moderators=to_duty)
    return owed


async def _alerted_before(uow: NotificationsUnitOfWork, event: SafeguardingRaised) -> bool:
    """An edit of a story (a new version, screened again) does not alert the organisation a
    second time for what screening already alerted it about: moderation is told that the
    people alerted before have it (and who acknowledged it). Screening that finds the edit
    more serious alerts again, as does a moderator raising it: never hide those."""
    if event.trigger is not SafeguardingTrigger.SCREENING:
        return False
    earlier = await uow.alerts.latest_from_screening(event.story_id)
    if earlier is None or earlier.erased or earlier.escalation_id == event.escalation_id:
        return False
    if more_serious(event.level, earlier.context.get("level")):
        return False
    alerted_at = earlier.alerted_at or event.raised_at
    await uow.add_event(
        SafeguardingUpdated(
            story_id=event.story_id,
            escalation_id=event.escalation_id,
            state=EscalationState.ALERTED,
            at=alerted_at,
            recipients=list(earlier.recipients),
            to_duty_moderators=earlier.to_duty_moderators,
        )
    )
    if earlier.acknowledged_at is not None:
        await uow.add_event(
            SafeguardingUpdated(
                story_id=event.story_id,
                escalation_id=event.escalation_id,
                state=EscalationState.ACKNOWLEDGED,
                at=earlier.acknowledged_at,
                acknowledged_by=earlier.acknowledged_by,
            )
        )
    log.info(
        "safeguarding alert not repeated: screening of the edited story found nothing more "
        "serious than the alert already sent",
        escalation_id=str(event.escalation_id),
        alerted_before=str(earlier.escalation_id),
    )
    return True


def safeguarding_context(
    event: SafeguardingRaised,
    policy: SafeguardingPolicy,
    *,
    author_email: str | None,
    to_duty: bool,
) -> dict[str, object]:
    """What the alert email says: the story as written, the matches and why, the note,
    the author's address only if they gave one, and whom to call at the platform."""
    return {
        "escalation_id": str(event.escalation_id),
        "story_id": str(event.story_id),
        "organisation_name": event.organisation.name,
        "service_name": event.service.name if event.service else None,
        "raised_at": event.raised_at.isoformat(),
        "trigger": event.trigger.value,
        "raised_by": event.raised_by,
        "note": event.note,
        "status": event.status,
        "submitted_at": event.submitted_at.isoformat(),
        "title": event.title,
        "body": event.body,
        "author_name": event.author.shown_name,
        "author_relationship": event.author.relationship.value.replace("_", " "),
        "author_email": author_email,
        "level": event.level,
        "matches": [m.model_dump() for m in event.matches],
        "to_duty_moderators": to_duty,
        "duty_contact": policy.duty_contact,
        "duty_moderators": list(policy.duty_moderators),
        "ack_timeout_minutes": max(1, round(policy.ack_timeout_seconds / 60)),
    }


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """What the acknowledgement page shows."""

    found: bool  # an alert the link belongs to, not erased
    organisation_name: str = ""
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    changed: bool = False  # this request acknowledged it


async def _alert_of(
    uow: NotificationsUnitOfWork, delivery_id: uuid.UUID, *, for_update: bool
) -> tuple[Delivery, SafeguardingAlert] | None:
    delivery = await uow.deliveries.get(delivery_id)
    if delivery is None or delivery.kind not in SAFEGUARDING_KINDS:
        return None
    escalation_id = delivery.context.get("escalation_id")
    if not isinstance(escalation_id, str):
        return None  # erased: the author withdrew the story
    alert = await uow.alerts.get(uuid.UUID(escalation_id), for_update=for_update)
    if alert is None or alert.erased:
        return None
    return delivery, alert


async def describe_acknowledgement(
    uow: NotificationsUnitOfWork, delivery_id: uuid.UUID
) -> Acknowledgement:
    """The alert behind an acknowledgement link, changing nothing (mail scanners GET links)."""
    async with uow:
        found = await _alert_of(uow, delivery_id, for_update=False)
    if found is None:
        return Acknowledgement(found=False)
    _, alert = found
    return Acknowledgement(
        found=True,
        organisation_name=str(alert.context.get("organisation_name", "")),
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at,
    )


async def acknowledge(uow: NotificationsUnitOfWork, delivery_id: uuid.UUID) -> Acknowledgement:
    """The person the email went to says they have it: no re-alert, and moderation is
    told who and when (outbox). Idempotent: the first acknowledgement stands."""
    async with uow:
        found = await _alert_of(uow, delivery_id, for_update=True)
        if found is None:
            return Acknowledgement(found=False)
        delivery, alert = found
        name = str(alert.context.get("organisation_name", ""))
        if alert.acknowledged_at is not None:
            return Acknowledgement(True, name, alert.acknowledged_by, alert.acknowledged_at)
        at = await uow.alerts.acknowledge(alert.escalation_id, delivery.recipient)
        await uow.add_event(
            SafeguardingUpdated(
                story_id=alert.story_id,
                escalation_id=alert.escalation_id,
                state=EscalationState.ACKNOWLEDGED,
                at=at,
                acknowledged_by=delivery.recipient,
            )
        )
    log.info("safeguarding alert acknowledged", escalation_id=str(alert.escalation_id))
    return Acknowledgement(True, name, delivery.recipient, at, changed=True)


REALERT_BATCH = 20


async def realert_overdue(uow: NotificationsUnitOfWork, policy: SafeguardingPolicy) -> int:
    """Alert the duty moderators about every alert nobody acknowledged in time; return
    how many emails were owed. Any number of copies may run it at once: each overdue
    alert is taken by one of them (FOR UPDATE SKIP LOCKED) and re-alerted once."""
    owed = 0
    while True:
        async with uow:
            overdue = await uow.alerts.lock_overdue(REALERT_BATCH)
            for alert in overdue:
                owed += await _realert(uow, alert, policy)
        if len(overdue) < REALERT_BATCH:
            return owed


async def _realert(
    uow: NotificationsUnitOfWork, alert: SafeguardingAlert, policy: SafeguardingPolicy
) -> int:
    realert_id = realert_event_id(alert.escalation_id)
    context: dict[str, object] = {
        **alert.context,
        "language": "en",  # to Candour's duty moderators
        "alerted_to": list(alert.recipients),
        "alerted_at": alert.alerted_at.isoformat() if alert.alerted_at else None,
    }
    owed = 0
    for address in policy.duty_moderators:
        owed += await uow.deliveries.add(
            Delivery(
                id=uuid.uuid4(),
                event_id=realert_id,
                story_id=alert.story_id,
                kind=DeliveryKind.SAFEGUARDING_REALERT,
                recipient=address,
                context=context,
            ),
        )
    at = await uow.alerts.mark_realerted(alert.escalation_id, policy.duty_moderators)
    await uow.add_event(
        SafeguardingUpdated(
            story_id=alert.story_id,
            escalation_id=alert.escalation_id,
            state=EscalationState.REALERTED,
            at=at,
            recipients=list(policy.duty_moderators),
        )
    )
    if policy.duty_moderators:
        log.warning("safeguarding alert not acknowledged in time: duty moderators re-alerted")
    else:
        log.error(
            "safeguarding alert not acknowledged in time and no duty moderators are set "
            "(CANDOUR_SAFEGUARDING_DUTY_MODERATORS)",
            escalation_id=str(alert.escalation_id),
        )
    return owed


async def prepare_due_digests(
    uow: NotificationsUnitOfWork, clock: Clock, schedule: DigestSchedule
) -> int:
    """Owe today's digest to every daily subscription with something waiting, once its
    time has come; return how many were owed. Safe to run from any number of copies
    at once and again and again: a subscription gets at most one digest per date."""
    digest_date = schedule.due_date(clock.now())
    if digest_date is None:
        return 0
    async with uow:
        due = await uow.subscriptions.due_a_digest(digest_date)
    owed = 0
    for subscription in due:
        async with uow:
            owed += await _owe_digest(uow, subscription, digest_date)
    if owed:
        log.info("daily digests owed", count=owed, digest_date=str(digest_date))
    return owed


async def _owe_digest(
    uow: NotificationsUnitOfWork, subscription: Subscription, digest_date: date
) -> int:
    items = await uow.digests.lock_waiting(subscription.id)
    if not items:  # another copy took them first, or they were withdrawn meanwhile
        return 0
    if subscription.kind not in DIGEST_KINDS:  # safeguarding alerts are never digested
        return 0
    item_kind, delivery_kind = DIGEST_KINDS[subscription.kind]
    first = items[0].context
    context: dict[str, object] = {
        "digest_date": digest_date.isoformat(),
        "item_kind": item_kind.value,
        "organisation_id": subscription.organisation_id,
        "organisation_name": first.get("organisation_name") or subscription.organisation_id,
        "items": [item.context for item in items],
        **(await uow.directory.staff_emails(subscription.organisation_id)).context(),
    }
    delivery = Delivery(
        id=uuid.uuid4(),
        event_id=digest_event_id(subscription.id, digest_date),
        story_id=None,
        kind=delivery_kind,
        recipient=subscription.email,
        context=context,
        subscription_id=subscription.id,
        digest_date=digest_date,
    )
    if not await uow.deliveries.add_digest(delivery):
        return 0  # today's digest exists: what is waiting now goes in tomorrow's
    await uow.digests.mark_digested(subscription.id, [item.item_key for item in items], delivery.id)
    return 1


async def forget_withdrawn_story(uow: NotificationsUnitOfWork, event: StoryWithdrawn) -> int:
    """Erase the author's contact and the story; cancel its unsent emails."""
    async with uow:
        await uow.responses.forget_story(event.story_id)
        return await uow.stories.forget(event.story_id, event.withdrawn_at)


async def _owe(
    uow: NotificationsUnitOfWork,
    event_id: uuid.UUID,
    story_id: uuid.UUID,
    kind: DeliveryKind,
    subscriptions: list[Subscription],
    context: dict[str, object],
) -> int:
    # One statement for a story's whole fan-out, however many subscribers match.
    return await uow.deliveries.add_many(_alerts(event_id, story_id, kind, subscriptions, context))


def _alerts(
    event_id: uuid.UUID,
    story_id: uuid.UUID,
    kind: DeliveryKind,
    subscriptions: list[Subscription],
    context: dict[str, object],
) -> list[Delivery]:
    """One email for each address among `subscriptions`, all sharing `context`."""
    return [
        Delivery(
            id=uuid.uuid4(),
            event_id=event_id,
            story_id=story_id,
            kind=kind,
            recipient=subscription.email,
            subscription_id=subscription.id,
            context=context,
        )
        for subscription in recipients(subscriptions).values()
    ]
