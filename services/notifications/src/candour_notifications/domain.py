"""What notifications knows: who wants which emails, and the emails owed to them."""

from __future__ import annotations

import base64
import hmac
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo


class Frequency(StrEnum):
    IMMEDIATE = "immediate"
    DAILY = "daily"


class SubscriptionKind(StrEnum):
    STORIES = "stories"
    RESPONSES = "responses"
    SAFEGUARDING = "safeguarding"


class DeliveryKind(StrEnum):
    """What an email is; part of its uniqueness (one per event, recipient and kind)."""

    STORY_ALERT = "story_alert"
    RESPONSE_ALERT = "response_alert"
    AUTHOR_RESPONSE = "author_response"
    # The author is told the outcome of moderation: published, or not (and how to fix it).
    AUTHOR_PUBLISHED = "author_published"
    AUTHOR_REJECTED = "author_rejected"
    SAFEGUARDING_ALERT = "safeguarding_alert"
    # The same alert again, to the duty moderators, when nobody acknowledged it in time.
    SAFEGUARDING_REALERT = "safeguarding_realert"
    STORY_DIGEST = "story_digest"
    RESPONSE_DIGEST = "response_digest"
    SUBSCRIPTION_CONFIRMATION = "subscription_confirmation"


# Emails to the story's author (their address, their story's language), not to staff.
AUTHOR_KINDS = frozenset(
    {DeliveryKind.AUTHOR_RESPONSE, DeliveryKind.AUTHOR_PUBLISHED, DeliveryKind.AUTHOR_REJECTED}
)

# Operational messages: no unsubscribe link (who gets them is managed on the alerts
# page), and a link to acknowledge them.
SAFEGUARDING_KINDS = frozenset({DeliveryKind.SAFEGUARDING_ALERT, DeliveryKind.SAFEGUARDING_REALERT})


class DigestItemKind(StrEnum):
    STORY = "story"
    RESPONSE = "response"


DIGEST_KINDS: dict[SubscriptionKind, tuple[DigestItemKind, DeliveryKind]] = {
    SubscriptionKind.STORIES: (DigestItemKind.STORY, DeliveryKind.STORY_DIGEST),
    SubscriptionKind.RESPONSES: (DigestItemKind.RESPONSE, DeliveryKind.RESPONSE_DIGEST),
}


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


def normalise_tag(tag: str) -> str:
    return " ".join(tag.split()).casefold()


@dataclass(frozen=True, slots=True)
class Subscription:
    id: uuid.UUID
    email: str
    organisation_id: str
    frequency: Frequency
    kind: SubscriptionKind
    service_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    min_criticality: int | None = None
    active: bool = True
    created_at: datetime | None = None
    # Waiting for the address's owner to confirm (double opt-in): nothing is sent to it.
    pending_confirmation: bool = False


def mail_domain(address: str) -> str:
    return address.rpartition("@")[2].strip().rstrip(".").casefold()


def normalise_domain(domain: str) -> str:
    return domain.strip().lstrip("@").rstrip(".").casefold()


def within_domains(address: str, domains: Iterable[str]) -> bool:
    """Whether the address is in one of the domains or a subdomain of one."""
    host = mail_domain(address)
    return any(host == d or host.endswith(f".{d}") for d in map(normalise_domain, domains) if d)


@dataclass(frozen=True, slots=True)
class StaffEmails:
    """How an organisation's staff are written to: the language the directory gives
    (`en`, `cy`, or `bilingual`: Welsh first, then English) and its Welsh name, if any."""

    language: str = "en"
    name_cy: str | None = None

    def context(self) -> dict[str, object]:
        """What an email's context carries of it (the templates read these)."""
        return {"language": self.language, "organisation_name_cy": self.name_cy}


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Command: someone at an organisation asks for email alerts."""

    email: str
    organisation_id: str
    frequency: Frequency
    kind: SubscriptionKind
    service_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    min_criticality: int | None = None


@dataclass(frozen=True, slots=True)
class StoryFacts:
    """What the matching rules look at in a published story."""

    story_id: uuid.UUID
    organisation_id: str
    service_id: str | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    criticality: int | None = None

    @classmethod
    def of(
        cls,
        story_id: uuid.UUID,
        organisation_id: str,
        service_id: str | None,
        tags: Iterable[str],
        criticality: int | None,
    ) -> StoryFacts:
        return cls(
            story_id=story_id,
            organisation_id=organisation_id,
            service_id=service_id,
            tags=frozenset(normalise_tag(t) for t in tags),
            criticality=criticality,
        )


def wants_story(subscription: Subscription, story: StoryFacts) -> bool:
    """Whether an active subscription's filters let this story through.

    Every filter that is set must pass: the organisation; one of the services (a
    story without a service does not pass a service filter); at least one of the
    tags; a criticality at or above the minimum (an unrated story passes only a
    minimum of 0, since we cannot tell that it is critical enough).
    """
    if not subscription.active or subscription.organisation_id != story.organisation_id:
        return False
    if subscription.service_ids and story.service_id not in subscription.service_ids:
        return False
    if subscription.tags and not {normalise_tag(t) for t in subscription.tags} & story.tags:
        return False
    if subscription.min_criticality:
        return story.criticality is not None and story.criticality >= subscription.min_criticality
    return True


def wants_safeguarding(
    subscription: Subscription, organisation_id: str, service_id: str | None
) -> bool:
    """Safeguarding alerts are filtered by organisation and services only: never hidden
    by tags or criticality."""
    if not subscription.active or subscription.kind is not SubscriptionKind.SAFEGUARDING:
        return False
    if subscription.organisation_id != organisation_id:
        return False
    return not subscription.service_ids or service_id in subscription.service_ids


def recipients(subscriptions: Iterable[Subscription]) -> dict[str, Subscription]:
    """One subscription per address (the first), so one address gets one email per event."""
    chosen: dict[str, Subscription] = {}
    for subscription in subscriptions:
        chosen.setdefault(subscription.email.casefold(), subscription)
    return chosen


@dataclass(frozen=True, slots=True)
class Delivery:
    """One email owed to one recipient because of one event (or one day, for a digest)."""

    id: uuid.UUID
    event_id: uuid.UUID
    story_id: uuid.UUID | None  # None for a digest, which lists many stories
    kind: DeliveryKind
    recipient: str
    context: dict[str, object]
    subscription_id: uuid.UUID | None = None
    attempts: int = 0
    status: DeliveryStatus = DeliveryStatus.PENDING
    digest_date: date | None = None


# -- daily digests ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """Digests go out once a day at a local wall-clock time (Europe/London by default)."""

    at: time
    timezone: ZoneInfo

    def due_date(self, now: datetime) -> date | None:
        """The local date whose digest is due at `now`, or None before today's time.

        Only today's digest is ever due: a day missed while the service was down
        rolls its stories into the next digest rather than sending two in one morning.
        """
        local = now.astimezone(self.timezone)
        return local.date() if local.time().replace(tzinfo=None) >= self.at else None


def digest_event_id(subscription_id: uuid.UUID, digest_date: date) -> uuid.UUID:
    """A stable id for one subscription's digest of one day (deliveries need an event id)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"candour:digest:{subscription_id}:{digest_date}")


def backoff_seconds(attempts: int, *, base: float, maximum: float) -> float:
    """Wait before the next try after `attempts` tries: base, 2*base, 4*base ... capped."""
    return float(min(maximum, base * 2 ** max(attempts - 1, 0)))


# Unsubscribe tokens: the target and an HMAC of it, so nobody can unsubscribe
# someone else by guessing ids, and no login is needed (RFC 8058 one-click).
class UnsubscribeScope(StrEnum):
    SUBSCRIPTION = "s"  # id is a subscription id
    AUTHOR = "a"  # id is a story id: the author's response emails for that story


@dataclass(frozen=True, slots=True)
class UnsubscribeTarget:
    scope: UnsubscribeScope
    id: uuid.UUID


class InvalidUnsubscribeToken(ValueError):
    pass


def _signature(secret: str, scope: UnsubscribeScope, target_id: uuid.UUID) -> str:
    digest = hmac.new(
        secret.encode(), f"candour-unsubscribe:{scope.value}:{target_id.hex}".encode(), "sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_unsubscribe(secret: str, target: UnsubscribeTarget) -> str:
    return f"{target.scope.value}.{target.id.hex}.{_signature(secret, target.scope, target.id)}"


_TOKEN = re.compile(r"^([sa])\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$")


def verify_unsubscribe(secret: str, token: str) -> UnsubscribeTarget:
    match = _TOKEN.match(token)
    if match is None:
        raise InvalidUnsubscribeToken("malformed unsubscribe token")
    scope, target_id = UnsubscribeScope(match.group(1)), uuid.UUID(hex=match.group(2))
    if not hmac.compare_digest(match.group(3), _signature(secret, scope, target_id)):
        raise InvalidUnsubscribeToken("unsubscribe token signature does not match")
    return UnsubscribeTarget(scope, target_id)


# Confirmation links (double opt-in): the subscription and an HMAC of it, so only
# someone who received the email at that address can confirm it.
_CONFIRM_TOKEN = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$")


def _confirmation_signature(secret: str, subscription_id: uuid.UUID) -> str:
    digest = hmac.new(
        secret.encode(), f"candour-confirm-subscription:{subscription_id.hex}".encode(), "sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_confirmation(secret: str, subscription_id: uuid.UUID) -> str:
    return f"{subscription_id.hex}.{_confirmation_signature(secret, subscription_id)}"


class InvalidConfirmationToken(ValueError):
    pass


def verify_confirmation(secret: str, token: str) -> uuid.UUID:
    match = _CONFIRM_TOKEN.match(token)
    if match is None:
        raise InvalidConfirmationToken("malformed confirmation token")
    subscription_id = uuid.UUID(hex=match.group(1))
    if not hmac.compare_digest(match.group(2), _confirmation_signature(secret, subscription_id)):
        raise InvalidConfirmationToken("confirmation token signature does not match")
    return subscription_id


def confirmation_event_id(subscription_id: uuid.UUID) -> uuid.UUID:
    """A stable id for a subscription's confirmation email (deliveries need an event id)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"candour:confirm-subscription:{subscription_id}")


# Acknowledgement links of safeguarding alerts: the delivery (one email to one person)
# and an HMAC of it, so the link says who acknowledged and cannot be forged.
_ACK_TOKEN = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$")


def _acknowledgement_signature(secret: str, delivery_id: uuid.UUID) -> str:
    digest = hmac.new(
        secret.encode(), f"candour-safeguarding-ack:{delivery_id.hex}".encode(), "sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_acknowledgement(secret: str, delivery_id: uuid.UUID) -> str:
    return f"{delivery_id.hex}.{_acknowledgement_signature(secret, delivery_id)}"


class InvalidAcknowledgementToken(ValueError):
    pass


def verify_acknowledgement(secret: str, token: str) -> uuid.UUID:
    match = _ACK_TOKEN.match(token)
    if match is None:
        raise InvalidAcknowledgementToken("malformed acknowledgement token")
    delivery_id = uuid.UUID(hex=match.group(1))
    if not hmac.compare_digest(match.group(2), _acknowledgement_signature(secret, delivery_id)):
        raise InvalidAcknowledgementToken("acknowledgement token signature does not match")
    return delivery_id


def author_published_event_id(story_id: uuid.UUID) -> uuid.UUID:
    """A stable id for the author's "your story is published" email: one per story, whatever
    event (a redelivery, a re-publication, a replay) brings the publication again."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"candour:author-published:{story_id}")


def author_rejected_event_id(story_id: uuid.UUID, rejected_at: datetime) -> uuid.UUID:
    """A stable id for the author's "not published" email: one per decision (a decision
    published twice has one time; a second rejection, after an edit, has its own)."""
    return uuid.uuid5(
        uuid.NAMESPACE_URL, f"candour:author-rejected:{story_id}:{rejected_at.isoformat()}"
    )


def realert_event_id(escalation_id: uuid.UUID) -> uuid.UUID:
    """A stable id for an escalation's re-alert (deliveries need an event id)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"candour:safeguarding-realert:{escalation_id}")


@dataclass(frozen=True, slots=True)
class SafeguardingPolicy:
    """Who else hears of a safeguarding alert, and how soon it must be acknowledged."""

    duty_contact: str | None
    duty_moderators: tuple[str, ...]
    ack_timeout_seconds: float


@dataclass(frozen=True, slots=True)
class SafeguardingAlert:
    escalation_id: uuid.UUID
    story_id: uuid.UUID
    organisation_id: str
    recipients: tuple[str, ...]
    to_duty_moderators: bool
    context: dict[str, object]
    alerted_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    realerted_at: datetime | None = None

    @property
    def erased(self) -> bool:
        """The author withdrew the story: nothing is left to act on."""
        return not self.context


# Screening's levels, least serious first (libs/screening).
_SAFEGUARDING_LEVELS = ("concern", "serious")


def more_serious(level: str, than: object) -> bool:
    """Whether screening `level` is more serious than an earlier one (an unknown earlier
    level counts as the least, an unknown new one as the most: never hide a new alert)."""
    rank = {name: position for position, name in enumerate(_SAFEGUARDING_LEVELS)}
    return rank.get(level, len(rank)) > rank.get(str(than), -1)


_ADDRESS = re.compile(r"[^\s<>@\"']+@[^\s<>\"']+")


def redact_addresses(text: str) -> str:
    """Remove email addresses from text bound for logs or the database (SMTP replies echo them)."""
    return _ADDRESS.sub("<address>", text)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    id: uuid.UUID
    kind: DeliveryKind
    status: DeliveryStatus
    recipient: str
    story_id: uuid.UUID | None
    subscription_id: uuid.UUID | None
    digest_date: date | None
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
