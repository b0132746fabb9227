"""asyncpg persistence for subscriptions, author contacts, published stories and deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar, cast

import asyncpg

from candour_common.db import Connection
from candour_notifications.domain import (
    AUTHOR_KINDS,
    Delivery,
    DeliveryKind,
    DeliveryReport,
    DeliveryStatus,
    DigestItemKind,
    Frequency,
    SafeguardingAlert,
    StoryFacts,
    Subscription,
    SubscriptionKind,
)

_SUBSCRIPTION_COLUMNS = (
    "id, email, organisation_id, service_ids, tags, min_criticality, frequency, kind, active,"
    " created_at, pending_confirmation"
)


T = TypeVar("T")


def _subscription(row: asyncpg.Record) -> Subscription:
    return Subscription(
        id=row["id"],
        email=row["email"],
        organisation_id=row["organisation_id"],
        service_ids=tuple(row["service_ids"]),
        tags=tuple(row["tags"]),
        min_criticality=row["min_criticality"],
        frequency=Frequency(row["frequency"]),
        kind=SubscriptionKind(row["kind"]),
        active=row["active"],
        created_at=row["created_at"],
        pending_confirmation=row["pending_confirmation"],
    )


async def add_subscription(
    conn: Connection, subscription: Subscription, *, created_by: str
) -> Subscription:
    row = await conn.fetchrow(
        f"""
        INSERT INTO subscriptions (id, email, organisation_id, service_ids, tags,
                                   min_criticality, frequency, kind, created_by,
                                   pending_confirmation, confirmed_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                CASE WHEN $10 THEN NULL ELSE now() END)
        RETURNING {_SUBSCRIPTION_COLUMNS}
        """,  # noqa: S608 - the interpolated text is a constant column list
        subscription.id,
        subscription.email,
        subscription.organisation_id,
        list(subscription.service_ids),
        list(subscription.tags),
        subscription.min_criticality,
        subscription.frequency.value,
        subscription.kind.value,
        created_by,
        subscription.pending_confirmation,
    )
    assert row is not None
    return _subscription(row)


async def confirm_subscription(conn: Connection, subscription_id: uuid.UUID) -> bool:
    """The address's owner confirmed: from now on it gets its emails. False if there was
    nothing waiting (confirmed before, unsubscribed, or expired and deleted)."""
    status = await conn.execute(
        """
        UPDATE subscriptions SET pending_confirmation = false, confirmed_at = now()
        WHERE id = $1 AND pending_confirmation AND active
        """,
        subscription_id,
    )
    return bool(status == "UPDATE 1")


async def mail_domains(conn: Connection, organisation_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT domain FROM organisation_mail_domains WHERE organisation_id = $1 ORDER BY domain",
        organisation_id,
    )
    return [r["domain"] for r in rows]


async def set_mail_domains(conn: Connection, organisation_id: str, domains: list[str]) -> None:
    """Replace the organisation's own mail domains (in the caller's transaction)."""
    await conn.execute(
        "DELETE FROM organisation_mail_domains WHERE organisation_id = $1", organisation_id
    )
    await conn.executemany(
        "INSERT INTO organisation_mail_domains (organisation_id, domain) VALUES ($1, $2)",
        [(organisation_id, d) for d in domains],
    )


async def get_subscription(conn: Connection, subscription_id: uuid.UUID) -> Subscription | None:
    row = await conn.fetchrow(
        f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1",  # noqa: S608
        subscription_id,
    )
    return _subscription(row) if row else None


async def list_subscriptions(conn: Connection, organisation_id: str | None) -> list[Subscription]:
    rows = await conn.fetch(
        f"""
        SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions
        WHERE active AND ($1::text IS NULL OR organisation_id = $1)
        ORDER BY organisation_id, created_at, id
        """,  # noqa: S608
        organisation_id,
    )
    return [_subscription(r) for r in rows]


async def active_subscriptions(
    conn: Connection, organisation_id: str, kind: SubscriptionKind
) -> list[Subscription]:
    rows = await conn.fetch(
        f"""
        SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions
        WHERE active AND NOT pending_confirmation AND organisation_id = $1 AND kind = $2
        ORDER BY created_at, id
        """,  # noqa: S608
        organisation_id,
        kind.value,
    )
    return [_subscription(r) for r in rows]


async def active_subscriptions_among(
    conn: Connection, organisation_ids: Collection[str], kind: SubscriptionKind
) -> dict[str, list[Subscription]]:
    """`active_subscriptions` of several organisations in one statement (a batch)."""
    rows = await conn.fetch(
        f"""
        SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions
        WHERE active AND NOT pending_confirmation AND organisation_id = ANY($1::text[])
          AND kind = $2
        ORDER BY created_at, id
        """,  # noqa: S608
        list(organisation_ids),
        kind.value,
    )
    found: dict[str, list[Subscription]] = {o: [] for o in organisation_ids}
    for row in rows:
        subscription = _subscription(row)
        found[subscription.organisation_id].append(subscription)
    return found


async def delete_subscription(conn: Connection, subscription_id: uuid.UUID) -> None:
    await cancel_subscription_deliveries(conn, subscription_id)
    await conn.execute("DELETE FROM subscriptions WHERE id = $1", subscription_id)


async def deactivate_subscription(conn: Connection, subscription_id: uuid.UUID) -> bool:
    """Stop a subscription's emails; False if there is no such subscription."""
    status = await conn.execute(
        """
        UPDATE subscriptions SET active = false, unsubscribed_at = coalesce(unsubscribed_at, now())
        WHERE id = $1
        """,
        subscription_id,
    )
    await cancel_subscription_deliveries(conn, subscription_id)
    await conn.execute(
        "DELETE FROM digest_items WHERE subscription_id = $1 AND digest_delivery_id IS NULL",
        subscription_id,
    )
    return bool(status == "UPDATE 1")


async def cancel_subscription_deliveries(conn: Connection, subscription_id: uuid.UUID) -> None:
    await conn.execute(
        """
        UPDATE deliveries SET status = 'cancelled', updated_at = now()
        WHERE subscription_id = $1 AND status IN ('pending', 'sending')
        """,
        subscription_id,
    )


# -- author contacts ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthorContact:
    """The author's address, from the newest version of their story on story.submitted,
    with what their emails need: the story's language and title (never its text)."""

    story_id: uuid.UUID
    email: str
    notify_on_response: bool
    language: str = "en"
    title: str = ""
    version: int = 1
    told_published: bool = False


_CONTACT_COLUMNS = "story_id, email, notify_on_response, language, title, version, told_published"


async def record_submitted_version(conn: Connection, story_id: uuid.UUID, version: int) -> bool:
    """Note the version of a submitted story; False if a higher one was seen before."""
    row = await conn.fetchval(
        """
        INSERT INTO submitted_versions (story_id, version) VALUES ($1, $2)
        ON CONFLICT (story_id) DO UPDATE SET version = EXCLUDED.version
            WHERE submitted_versions.version <= EXCLUDED.version
        RETURNING version
        """,
        story_id,
        version,
    )
    return row is not None


async def record_submitted_versions(
    conn: Connection, versions: dict[uuid.UUID, int]
) -> set[uuid.UUID]:
    """`record_submitted_version` for many stories in one statement: the stories whose
    version was recorded (not lower than one seen before)."""
    rows = await conn.fetch(
        """
        INSERT INTO submitted_versions (story_id, version)
        SELECT * FROM unnest($1::uuid[], $2::integer[])
        ON CONFLICT (story_id) DO UPDATE SET version = EXCLUDED.version
            WHERE submitted_versions.version <= EXCLUDED.version
        RETURNING story_id
        """,
        list(versions),
        list(versions.values()),
    )
    return {r["story_id"] for r in rows}


async def discard_authors(conn: Connection, story_ids: Collection[uuid.UUID]) -> None:
    """Newest versions without an address: no contact, and no decision waiting for one."""
    ids = list(story_ids)
    await conn.execute("DELETE FROM author_contacts WHERE story_id = ANY($1::uuid[])", ids)
    await conn.execute(
        "DELETE FROM rejections_before_contact WHERE story_id = ANY($1::uuid[])", ids
    )


async def save_author_contact(conn: Connection, contact: AuthorContact) -> None:
    """Keep the contact of the newest version: a newer version replaces the address, the
    language and the title, and is back in moderation (no rejection stands)."""
    await conn.execute(
        """
        INSERT INTO author_contacts (story_id, email, notify_on_response, language, title,
                                     version)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (story_id) DO UPDATE
            SET email = EXCLUDED.email, notify_on_response = EXCLUDED.notify_on_response,
                language = EXCLUDED.language, title = EXCLUDED.title,
                version = EXCLUDED.version,
                rejected_at = CASE WHEN EXCLUDED.version > author_contacts.version THEN NULL
                                   ELSE author_contacts.rejected_at END
            WHERE author_contacts.version <= EXCLUDED.version
        """,
        contact.story_id,
        contact.email,
        contact.notify_on_response,
        contact.language,
        contact.title,
        contact.version,
    )


def _contact(row: asyncpg.Record) -> AuthorContact:
    return AuthorContact(
        story_id=row["story_id"],
        email=row["email"],
        notify_on_response=row["notify_on_response"],
        language=row["language"],
        title=row["title"],
        version=row["version"],
        told_published=row["told_published"],
    )


async def get_author_contact(conn: Connection, story_id: uuid.UUID) -> AuthorContact | None:
    row = await conn.fetchrow(
        f"SELECT {_CONTACT_COLUMNS} FROM author_contacts WHERE story_id = $1",  # noqa: S608
        story_id,
    )
    return _contact(row) if row is not None else None


async def get_author_contacts(
    conn: Connection, story_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, AuthorContact]:
    rows = await conn.fetch(
        f"SELECT {_CONTACT_COLUMNS} FROM author_contacts WHERE story_id = ANY($1::uuid[])",  # noqa: S608
        list(story_ids),
    )
    return {r["story_id"]: _contact(r) for r in rows}


async def discard_author_contact(conn: Connection, story_id: uuid.UUID) -> None:
    """Nothing more will be sent to the author (or they took their address out)."""
    await conn.execute("DELETE FROM author_contacts WHERE story_id = $1", story_id)


async def mark_told_published(conn: Connection, story_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE author_contacts SET told_published = true, rejected_at = NULL WHERE story_id = $1",
        story_id,
    )


async def mark_rejected(conn: Connection, story_id: uuid.UUID, rejected_at: datetime) -> None:
    """The clock of the contact's retention after a rejection starts (see the migration)."""
    await conn.execute(
        "UPDATE author_contacts SET rejected_at = $2 WHERE story_id = $1", story_id, rejected_at
    )


@dataclass(frozen=True)
class RejectionBeforeContact:
    """A decision not to publish that came before the story's submission (see 0035)."""

    story_id: uuid.UUID
    version: int
    reason: str
    rejected_at: datetime
    organisation_name: str


async def submitted_version(conn: Connection, story_id: uuid.UUID) -> int | None:
    return cast(
        "int | None",
        await conn.fetchval("SELECT version FROM submitted_versions WHERE story_id = $1", story_id),
    )


async def keep_rejection_before_contact(
    conn: Connection, rejection: RejectionBeforeContact
) -> None:
    """Keep the newest decision until the story arrives."""
    await conn.execute(
        """
        INSERT INTO rejections_before_contact
            (story_id, version, reason, rejected_at, organisation_name)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (story_id) DO UPDATE
            SET version = EXCLUDED.version, reason = EXCLUDED.reason,
                rejected_at = EXCLUDED.rejected_at,
                organisation_name = EXCLUDED.organisation_name
            WHERE rejections_before_contact.rejected_at <= EXCLUDED.rejected_at
        """,
        rejection.story_id,
        rejection.version,
        rejection.reason,
        rejection.rejected_at,
        rejection.organisation_name,
    )


async def take_rejection_before_contact(
    conn: Connection, story_id: uuid.UUID
) -> RejectionBeforeContact | None:
    row = await conn.fetchrow(
        """
        DELETE FROM rejections_before_contact WHERE story_id = $1
        RETURNING story_id, version, reason, rejected_at, organisation_name
        """,
        story_id,
    )
    return RejectionBeforeContact(**dict(row)) if row is not None else None


async def stop_author_notifications(conn: Connection, story_id: uuid.UUID) -> None:
    """The author unsubscribed: nothing to keep their address for any more."""
    await conn.execute("DELETE FROM author_contacts WHERE story_id = $1", story_id)
    await conn.execute(
        """
        UPDATE deliveries SET status = 'cancelled', updated_at = now()
        WHERE story_id = $1 AND kind = ANY($2::text[]) AND status IN ('pending', 'sending')
        """,
        story_id,
        sorted(kind.value for kind in AUTHOR_KINDS),
    )


# -- published stories and withdrawals ---------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishedStory:
    facts: StoryFacts
    revision: int
    title: str
    organisation_name: str
    service_name: str | None


_SAVE_PUBLISHED = """
    INSERT INTO published_stories (story_id, revision, title, organisation_id,
                                   organisation_name, service_id, service_name, tags,
                                   criticality)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (story_id) DO UPDATE SET
        revision = EXCLUDED.revision, title = EXCLUDED.title,
        organisation_id = EXCLUDED.organisation_id,
        organisation_name = EXCLUDED.organisation_name,
        service_id = EXCLUDED.service_id, service_name = EXCLUDED.service_name,
        tags = EXCLUDED.tags, criticality = EXCLUDED.criticality, updated_at = now()
    WHERE published_stories.revision <= EXCLUDED.revision
"""


def _published_row(story: PublishedStory) -> tuple[object, ...]:
    return (
        story.facts.story_id,
        story.revision,
        story.title,
        story.facts.organisation_id,
        story.organisation_name,
        story.facts.service_id,
        story.service_name,
        sorted(story.facts.tags),
        story.facts.criticality,
    )


async def save_published_story(conn: Connection, story: PublishedStory) -> None:
    """Keep the newest revision of a published story."""
    await conn.execute(_SAVE_PUBLISHED, *_published_row(story))


async def save_published_stories(conn: Connection, stories: Sequence[PublishedStory]) -> None:
    """`save_published_story` for a batch of different stories, in one round trip."""
    if stories:
        await conn.executemany(_SAVE_PUBLISHED, [_published_row(s) for s in stories])


async def get_published_story(conn: Connection, story_id: uuid.UUID) -> PublishedStory | None:
    row = await conn.fetchrow("SELECT * FROM published_stories WHERE story_id = $1", story_id)
    if row is None:
        return None
    return PublishedStory(
        facts=StoryFacts.of(
            row["story_id"],
            row["organisation_id"],
            row["service_id"],
            row["tags"],
            row["criticality"],
        ),
        revision=row["revision"],
        title=row["title"],
        organisation_name=row["organisation_name"],
        service_name=row["service_name"],
    )


async def withdrawn_among(conn: Connection, story_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT story_id FROM withdrawn_stories WHERE story_id = ANY($1::uuid[])",
        list(story_ids),
    )
    return {r["story_id"] for r in rows}


async def is_withdrawn(conn: Connection, story_id: uuid.UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM withdrawn_stories WHERE story_id = $1)", story_id
        )
    )


async def forget_story(conn: Connection, story_id: uuid.UUID, withdrawn_at: datetime) -> int:
    """Erase what we hold about a withdrawn story; cancel its unsent emails.

    Delivery rows stay (operators see what happened) but lose the story's text and,
    for the author's emails, the address. Returns how many emails were cancelled.
    """
    await conn.execute(
        """
        INSERT INTO withdrawn_stories (story_id, withdrawn_at) VALUES ($1, $2)
        ON CONFLICT DO NOTHING
        """,
        story_id,
        withdrawn_at,
    )
    await conn.execute("DELETE FROM author_contacts WHERE story_id = $1", story_id)
    await conn.execute("DELETE FROM submitted_versions WHERE story_id = $1", story_id)
    await conn.execute("DELETE FROM rejections_before_contact WHERE story_id = $1", story_id)
    await conn.execute("DELETE FROM published_stories WHERE story_id = $1", story_id)
    # The alerts keep who was told and who acknowledged, never the story: no re-alert either.
    await conn.execute(
        """
        UPDATE safeguarding_alerts SET context = '{}'::jsonb, realert_due_at = NULL
        WHERE story_id = $1
        """,
        story_id,
    )
    cancelled = await conn.fetchval(
        """
        WITH cancelled AS (
            UPDATE deliveries SET status = 'cancelled', updated_at = now()
            WHERE story_id = $1 AND status IN ('pending', 'sending')
            RETURNING 1
        )
        SELECT count(*) FROM cancelled
        """,
        story_id,
    )
    await conn.execute(
        """
        UPDATE deliveries
        SET context = '{}'::jsonb,
            recipient = CASE WHEN kind = ANY($2::text[]) THEN 'erased:' || id::text
                             ELSE recipient END,
            updated_at = now()
        WHERE story_id = $1
        """,
        story_id,
        sorted(kind.value for kind in AUTHOR_KINDS),
    )
    return int(cancelled or 0) + await _remove_story_from_digests(conn, story_id)


async def _remove_story_from_digests(conn: Connection, story_id: uuid.UUID) -> int:
    """Take a withdrawn story out of every digest: waiting items go, and digests that
    listed it lose its text; a digest not yet sent that listed nothing else is cancelled."""
    await conn.execute("DELETE FROM digest_items WHERE story_id = $1", story_id)
    await conn.execute(
        """
        UPDATE deliveries
        SET context = jsonb_set(context, '{items}', coalesce((
                SELECT jsonb_agg(item ORDER BY position)
                FROM jsonb_array_elements(context->'items') WITH ORDINALITY AS e(item, position)
                WHERE item->>'story_id' <> $1::text
            ), '[]'::jsonb)),
            updated_at = now()
        WHERE digest_date IS NOT NULL
          AND context->'items' @> jsonb_build_array(jsonb_build_object('story_id', $1::text))
        """,
        str(story_id),
    )
    cancelled = await conn.fetchval(
        """
        WITH cancelled AS (
            UPDATE deliveries SET status = 'cancelled', updated_at = now()
            WHERE digest_date IS NOT NULL AND status IN ('pending', 'sending')
              AND jsonb_array_length(context->'items') = 0
            RETURNING 1
        )
        SELECT count(*) FROM cancelled
        """
    )
    return int(cancelled or 0)


# -- deliveries ---------------------------------------------------------------------


async def add_delivery(conn: Connection, delivery: Delivery) -> bool:
    """Owe an email; False if this (event, recipient, kind) is already owed or sent."""
    status = await conn.execute(
        """
        INSERT INTO deliveries (id, event_id, story_id, kind, recipient, subscription_id, context)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
        ON CONFLICT (event_id, recipient, kind) DO NOTHING
        """,
        delivery.id,
        delivery.event_id,
        delivery.story_id,
        delivery.kind.value,
        delivery.recipient,
        delivery.subscription_id,
        json.dumps(delivery.context),
    )
    return bool(status == "INSERT 0 1")


async def add_deliveries(conn: Connection, deliveries: Sequence[Delivery]) -> int:
    """Owe many emails in one statement (a story's fan-out); returns how many were new.

    Each is skipped, as by `add_delivery`, if its (event, recipient, kind) is owed
    already. Deliveries sharing one context (a story's alert) serialize it once.
    """
    if not deliveries:
        return 0
    encoded: dict[int, str] = {}
    contexts = []
    for d in deliveries:
        text = encoded.get(id(d.context))
        if text is None:
            text = encoded[id(d.context)] = json.dumps(d.context)
        contexts.append(text)
    inserted = await conn.fetchval(
        """
        WITH added AS (
            INSERT INTO deliveries
                (id, event_id, story_id, kind, recipient, subscription_id, context)
            SELECT id, event_id, story_id, kind, recipient, subscription_id, context::jsonb
            FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                        $6::uuid[], $7::text[])
                AS t(id, event_id, story_id, kind, recipient, subscription_id, context)
            ON CONFLICT (event_id, recipient, kind) DO NOTHING
            RETURNING 1
        )
        SELECT count(*) FROM added
        """,
        [d.id for d in deliveries],
        [d.event_id for d in deliveries],
        [d.story_id for d in deliveries],
        [d.kind.value for d in deliveries],
        [d.recipient for d in deliveries],
        [d.subscription_id for d in deliveries],
        contexts,
    )
    return int(inserted or 0)


async def alerted_subscriptions(
    conn: Connection, story_id: uuid.UUID, kind: DeliveryKind
) -> set[uuid.UUID]:
    """Subscriptions already sent (or owed) an email of `kind` about this story."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT subscription_id FROM deliveries
        WHERE story_id = $1 AND kind = $2 AND subscription_id IS NOT NULL
        """,
        story_id,
        kind.value,
    )
    return {r["subscription_id"] for r in rows}


async def alerted_subscriptions_among(
    conn: Connection, story_ids: Collection[uuid.UUID], kind: DeliveryKind
) -> dict[uuid.UUID, set[uuid.UUID]]:
    """`alerted_subscriptions` of several stories in one statement (a batch)."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT story_id, subscription_id FROM deliveries
        WHERE story_id = ANY($1::uuid[]) AND kind = $2 AND subscription_id IS NOT NULL
        """,
        list(story_ids),
        kind.value,
    )
    found: dict[uuid.UUID, set[uuid.UUID]] = {s: set() for s in story_ids}
    for r in rows:
        found[r["story_id"]].add(r["subscription_id"])
    return found


def _delivery(row: asyncpg.Record) -> Delivery:
    return Delivery(
        id=row["id"],
        event_id=row["event_id"],
        story_id=row["story_id"],
        kind=DeliveryKind(row["kind"]),
        recipient=row["recipient"],
        context=json.loads(row["context"]),
        subscription_id=row["subscription_id"],
        attempts=row["attempts"],
        status=DeliveryStatus(row["status"]),
        digest_date=row["digest_date"],
    )


async def claim_due(conn: Connection, limit: int) -> list[Delivery]:
    """Take due emails for this worker: `sending` is committed before any SMTP traffic,
    so no other worker sends them while this one is alive."""
    rows = await conn.fetch(
        """
        WITH due AS (
            SELECT id FROM deliveries
            WHERE status = 'pending' AND next_attempt_at <= now()
            ORDER BY next_attempt_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE deliveries d
        SET status = 'sending', attempts = d.attempts + 1, updated_at = now()
        FROM due WHERE d.id = due.id
        RETURNING d.*
        """,
        limit,
    )
    return [_delivery(r) for r in rows]


async def record_sent(
    conn: Connection, sent: Sequence[uuid.UUID], about_to_send: Sequence[Delivery]
) -> set[uuid.UUID]:
    """Record `sent` as sent and take another lease on those of `about_to_send` that
    are still this worker's to send, in one statement; return those.

    Still ours: `sending` with the attempt count of our claim. A row cancelled since
    (withdrawn story, unsubscribe) is not, nor one given back after the lease
    (`resume_interrupted`), whether or not another worker claimed it since (its claim
    counted another attempt). The sent rows are never among them: they are not sent
    twice by this worker, and they are marked sent from `sending` (or `pending`, when
    the lease ran out during the send).
    """
    rows = await conn.fetch(
        """
        WITH sent AS (
            UPDATE deliveries SET status = 'sent', sent_at = now(), updated_at = now(),
                                  last_error = NULL
            WHERE id = ANY($1::uuid[]) AND status IN ('sending', 'pending')
        )
        UPDATE deliveries d SET updated_at = now()
        FROM unnest($2::uuid[], $3::int[]) AS ours(id, attempts)
        WHERE d.id = ours.id AND d.attempts = ours.attempts AND d.status = 'sending'
        RETURNING d.id
        """,
        list(sent),
        [d.id for d in about_to_send],
        [d.attempts for d in about_to_send],
    )
    return {r["id"] for r in rows}


async def mark_sent(conn: Connection, delivery_id: uuid.UUID) -> None:
    await conn.execute(
        """
        UPDATE deliveries SET status = 'sent', sent_at = now(), updated_at = now(),
                              last_error = NULL
        WHERE id = $1 AND status IN ('sending', 'pending')
        """,
        delivery_id,
    )


async def mark_retry(
    conn: Connection, delivery_id: uuid.UUID, *, delay_seconds: float, error: str
) -> None:
    # Only from `sending`: an email cancelled while in flight (story withdrawn,
    # unsubscribed) stays cancelled instead of coming back for another try.
    await conn.execute(
        """
        UPDATE deliveries
        SET status = 'pending', last_error = $2, updated_at = now(),
            next_attempt_at = now() + make_interval(secs => $3)
        WHERE id = $1 AND status = 'sending'
        """,
        delivery_id,
        error,
        delay_seconds,
    )


async def mark_failed(conn: Connection, delivery_id: uuid.UUID, *, error: str) -> None:
    # Only from `sending`, as for a retry: an email cancelled while in flight (story
    # withdrawn, unsubscribed) stays cancelled, never `failed` for operators to chase.
    await conn.execute(
        """
        UPDATE deliveries SET status = 'failed', last_error = $2, updated_at = now()
        WHERE id = $1 AND status = 'sending'
        """,
        delivery_id,
        error,
    )


async def resume_interrupted(conn: Connection, *, older_than_seconds: float) -> int:
    """Emails left `sending` by a worker that died: send them again.

    An SMTP server takes responsibility for a message only when it answers the end
    of DATA, and the worker records `sent` right after that answer; so an email
    found `sending` much later was almost always not accepted. Resending it (with
    the same Message-ID) loses nothing; a duplicate needs a crash in the instant
    between the server's answer and that commit.
    """
    count = await conn.fetchval(
        """
        WITH stale AS (
            UPDATE deliveries
            SET status = 'pending', next_attempt_at = now(), updated_at = now(),
                last_error = 'interrupted while sending; sending again'
            WHERE status = 'sending' AND updated_at < now() - make_interval(secs => $1)
            RETURNING 1
        )
        SELECT count(*) FROM stale
        """,
        older_than_seconds,
    )
    return int(count or 0)


async def seconds_until_next_due(conn: Connection) -> float | None:
    value = await conn.fetchval(
        """
        SELECT extract(epoch FROM min(next_attempt_at) - now()) FROM deliveries
        WHERE status = 'pending'
        """
    )
    return None if value is None else max(float(value), 0.0)


async def get_delivery(conn: Connection, delivery_id: uuid.UUID) -> Delivery | None:
    row = await conn.fetchrow("SELECT * FROM deliveries WHERE id = $1", delivery_id)
    return _delivery(row) if row is not None else None


# -- safeguarding alerts ------------------------------------------------------------


def _alert(row: asyncpg.Record) -> SafeguardingAlert:
    return SafeguardingAlert(
        escalation_id=row["escalation_id"],
        story_id=row["story_id"],
        organisation_id=row["organisation_id"],
        recipients=tuple(row["recipients"]),
        to_duty_moderators=row["to_duty_moderators"],
        context=json.loads(row["context"]),
        alerted_at=row["alerted_at"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
        realerted_at=row["realerted_at"],
    )


async def add_safeguarding_alert(
    conn: Connection,
    alert: SafeguardingAlert,
    *,
    event_id: uuid.UUID,
    raised_at: datetime,
    ack_timeout_seconds: float,
) -> datetime | None:
    """Record an alert, due for a re-alert after the timeout; None if this escalation
    was alerted before (a second copy of its event, under another id)."""
    alerted_at: datetime | None = await conn.fetchval(
        """
        INSERT INTO safeguarding_alerts (escalation_id, story_id, event_id, organisation_id,
                                         raised_at, recipients, to_duty_moderators,
                                         realert_due_at, context)
        VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8), $9::jsonb)
        ON CONFLICT (escalation_id) DO NOTHING
        RETURNING alerted_at
        """,
        alert.escalation_id,
        alert.story_id,
        event_id,
        alert.organisation_id,
        raised_at,
        list(alert.recipients),
        alert.to_duty_moderators,
        ack_timeout_seconds,
        json.dumps(alert.context),
    )
    return alerted_at


async def latest_screening_alert(conn: Connection, story_id: uuid.UUID) -> SafeguardingAlert | None:
    """The story's newest alert raised by screening (not erased), if any."""
    row = await conn.fetchrow(
        """
        SELECT * FROM safeguarding_alerts
        WHERE story_id = $1 AND context->>'trigger' = 'screening'
        ORDER BY alerted_at DESC
        LIMIT 1
        """,
        story_id,
    )
    return _alert(row) if row is not None else None


async def get_safeguarding_alert(
    conn: Connection, escalation_id: uuid.UUID, *, for_update: bool = False
) -> SafeguardingAlert | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT * FROM safeguarding_alerts WHERE escalation_id = $1{lock}",  # noqa: S608
        escalation_id,
    )
    return _alert(row) if row is not None else None


async def acknowledge_alert(conn: Connection, escalation_id: uuid.UUID, by: str) -> datetime:
    acknowledged_at: datetime = await conn.fetchval(
        """
        UPDATE safeguarding_alerts
        SET acknowledged_at = now(), acknowledged_by = $2, realert_due_at = NULL
        WHERE escalation_id = $1
        RETURNING acknowledged_at
        """,
        escalation_id,
        by,
    )
    return acknowledged_at


async def lock_overdue_alerts(conn: Connection, limit: int) -> list[SafeguardingAlert]:
    """Alerts nobody acknowledged in time, locked until commit; rows another copy of the
    service is re-alerting right now are skipped, never waited for or taken twice."""
    rows = await conn.fetch(
        """
        SELECT * FROM safeguarding_alerts
        WHERE realert_due_at <= now()
        ORDER BY realert_due_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED
        """,
        limit,
    )
    return [_alert(r) for r in rows]


async def mark_realerted(
    conn: Connection, escalation_id: uuid.UUID, recipients: Collection[str]
) -> datetime:
    realerted_at: datetime = await conn.fetchval(
        """
        UPDATE safeguarding_alerts
        SET realerted_at = now(), realerted_to = $2, realert_due_at = NULL
        WHERE escalation_id = $1
        RETURNING realerted_at
        """,
        escalation_id,
        list(recipients),
    )
    return realerted_at


# -- digests ------------------------------------------------------------------------


async def collect_digest_item(
    conn: Connection,
    *,
    subscription_id: uuid.UUID,
    item_key: str,
    kind: DigestItemKind,
    story_id: uuid.UUID,
    revision: int,
    context: dict[str, object],
) -> None:
    """Keep something for the subscription's next digest. A later revision of a story
    still waiting replaces it; one already sent in a digest is not listed again."""
    await conn.execute(
        """
        INSERT INTO digest_items (subscription_id, item_key, kind, story_id, revision, context)
        VALUES ($1, $2, $3, $4, $5, $6::jsonb)
        ON CONFLICT (subscription_id, item_key) DO UPDATE
            SET context = EXCLUDED.context, revision = EXCLUDED.revision
            WHERE digest_items.digest_delivery_id IS NULL
              AND digest_items.revision <= EXCLUDED.revision
        """,
        subscription_id,
        item_key,
        kind.value,
        story_id,
        revision,
        json.dumps(context),
    )


async def drop_waiting_story_items(
    conn: Connection, story_id: uuid.UUID, *, except_subscriptions: Collection[uuid.UUID]
) -> None:
    """An edit that no longer matches a subscription takes the story out of its next digest."""
    await conn.execute(
        """
        DELETE FROM digest_items
        WHERE story_id = $1 AND kind = $2 AND digest_delivery_id IS NULL
          AND NOT (subscription_id = ANY($3::uuid[]))
        """,
        story_id,
        DigestItemKind.STORY.value,
        list(except_subscriptions),
    )


async def drop_waiting_items_of_stories(
    conn: Connection, keep: dict[uuid.UUID, Collection[uuid.UUID]]
) -> None:
    """`drop_waiting_story_items` for several stories in one statement: each story's
    waiting items go, except those of the subscriptions `keep` names for it."""
    if not keep:
        return
    pairs = [(story, sub) for story, subs in keep.items() for sub in subs]
    await conn.execute(
        """
        DELETE FROM digest_items d
        WHERE d.story_id = ANY($1::uuid[]) AND d.kind = $2 AND d.digest_delivery_id IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM unnest($3::uuid[], $4::uuid[]) AS k(story_id, subscription_id)
              WHERE k.story_id = d.story_id AND k.subscription_id = d.subscription_id)
        """,
        list(keep),
        DigestItemKind.STORY.value,
        [p[0] for p in pairs],
        [p[1] for p in pairs],
    )


async def subscriptions_due_a_digest(conn: Connection, digest_date: date) -> list[Subscription]:
    """Active daily subscriptions with something waiting and no digest yet on that date."""
    rows = await conn.fetch(
        f"""
        SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions s
        WHERE s.active AND NOT s.pending_confirmation AND s.frequency = $1
          AND EXISTS (SELECT 1 FROM digest_items i
                      WHERE i.subscription_id = s.id AND i.digest_delivery_id IS NULL)
          AND NOT EXISTS (SELECT 1 FROM deliveries d
                          WHERE d.subscription_id = s.id AND d.digest_date = $2)
        ORDER BY s.created_at, s.id
        """,  # noqa: S608 - the interpolated text is a constant column list
        Frequency.DAILY.value,
        digest_date,
    )
    return [_subscription(r) for r in rows]


@dataclass(frozen=True, slots=True)
class DigestItem:
    item_key: str
    story_id: uuid.UUID
    context: dict[str, object]


async def lock_waiting_items(conn: Connection, subscription_id: uuid.UUID) -> list[DigestItem]:
    """What the subscription's next digest lists, oldest first, locked until commit so a
    concurrent digest (another copy of the service) cannot take the same items."""
    rows = await conn.fetch(
        """
        SELECT item_key, story_id, context FROM digest_items
        WHERE subscription_id = $1 AND digest_delivery_id IS NULL
        ORDER BY collected_at, item_key
        FOR UPDATE
        """,
        subscription_id,
    )
    return [DigestItem(r["item_key"], r["story_id"], json.loads(r["context"])) for r in rows]


async def add_digest_delivery(conn: Connection, delivery: Delivery) -> bool:
    """Owe a digest; False if the subscription already has one for that date."""
    assert delivery.digest_date is not None
    status = await conn.execute(
        """
        INSERT INTO deliveries (id, event_id, story_id, kind, recipient, subscription_id,
                                context, digest_date)
        VALUES ($1, $2, NULL, $3, $4, $5, $6::jsonb, $7)
        ON CONFLICT DO NOTHING
        """,
        delivery.id,
        delivery.event_id,
        delivery.kind.value,
        delivery.recipient,
        delivery.subscription_id,
        json.dumps(delivery.context),
        delivery.digest_date,
    )
    return bool(status == "INSERT 0 1")


async def mark_items_digested(
    conn: Connection, subscription_id: uuid.UUID, item_keys: list[str], delivery_id: uuid.UUID
) -> None:
    await conn.execute(
        """
        UPDATE digest_items SET digest_delivery_id = $3
        WHERE subscription_id = $1 AND item_key = ANY($2::text[])
        """,
        subscription_id,
        item_keys,
        delivery_id,
    )


# -- what operators see -------------------------------------------------------------


async def delivery_counts(conn: Connection) -> tuple[dict[DeliveryStatus, int], float | None]:
    """Deliveries per state, and the age in seconds of the oldest pending one."""
    rows = await conn.fetch("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
    counts = dict.fromkeys(DeliveryStatus, 0)
    for row in rows:
        counts[DeliveryStatus(row["status"])] = int(row["n"])
    oldest = await conn.fetchval(
        """
        SELECT extract(epoch FROM now() - min(created_at)) FROM deliveries
        WHERE status = 'pending'
        """
    )
    return counts, None if oldest is None else float(oldest)


async def list_deliveries(
    conn: Connection, status: DeliveryStatus | None, limit: int
) -> list[DeliveryReport]:
    rows = await conn.fetch(
        """
        SELECT id, kind, status, recipient, story_id, subscription_id, digest_date, attempts,
               last_error, created_at, updated_at, sent_at
        FROM deliveries
        WHERE $1::text IS NULL OR status = $1
        ORDER BY updated_at DESC, id
        LIMIT $2
        """,
        status.value if status else None,
        limit,
    )
    return [
        DeliveryReport(
            id=r["id"],
            kind=DeliveryKind(r["kind"]),
            status=DeliveryStatus(r["status"]),
            recipient=r["recipient"],
            story_id=r["story_id"],
            subscription_id=r["subscription_id"],
            digest_date=r["digest_date"],
            attempts=r["attempts"],
            last_error=r["last_error"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            sent_at=r["sent_at"],
        )
        for r in rows
    ]


# -- the repositories of the unit of work -----------------------------------------
# Each holds the unit of work's connection; the service layer sees only these.


class PostgresSubscriptions:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, subscription: Subscription, *, created_by: str) -> Subscription:
        return await add_subscription(self._conn, subscription, created_by=created_by)

    async def get(self, subscription_id: uuid.UUID) -> Subscription | None:
        return await get_subscription(self._conn, subscription_id)

    async def confirm(self, subscription_id: uuid.UUID) -> bool:
        return await confirm_subscription(self._conn, subscription_id)

    async def of_organisation(self, organisation_id: str | None) -> list[Subscription]:
        return await list_subscriptions(self._conn, organisation_id)

    async def active(self, organisation_id: str, kind: SubscriptionKind) -> list[Subscription]:
        return await active_subscriptions(self._conn, organisation_id, kind)

    async def active_among(
        self, organisation_ids: Collection[str], kind: SubscriptionKind
    ) -> dict[str, list[Subscription]]:
        return await active_subscriptions_among(self._conn, organisation_ids, kind)

    async def delete(self, subscription_id: uuid.UUID) -> None:
        await delete_subscription(self._conn, subscription_id)

    async def deactivate(self, subscription_id: uuid.UUID) -> bool:
        return await deactivate_subscription(self._conn, subscription_id)

    async def mail_domains(self, organisation_id: str) -> list[str]:
        return await mail_domains(self._conn, organisation_id)

    async def set_mail_domains(self, organisation_id: str, domains: list[str]) -> None:
        await set_mail_domains(self._conn, organisation_id, domains)

    async def due_a_digest(self, digest_date: date) -> list[Subscription]:
        return await subscriptions_due_a_digest(self._conn, digest_date)


class PostgresAuthorContacts:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def save(self, contact: AuthorContact) -> None:
        await save_author_contact(self._conn, contact)

    async def get(self, story_id: uuid.UUID) -> AuthorContact | None:
        return await get_author_contact(self._conn, story_id)

    async def get_many(self, story_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, AuthorContact]:
        return await get_author_contacts(self._conn, story_ids)

    async def record_version(self, story_id: uuid.UUID, version: int) -> bool:
        return await record_submitted_version(self._conn, story_id, version)

    async def discard(self, story_id: uuid.UUID) -> None:
        await discard_author_contact(self._conn, story_id)

    async def mark_told_published(self, story_id: uuid.UUID) -> None:
        await mark_told_published(self._conn, story_id)

    async def mark_rejected(self, story_id: uuid.UUID, rejected_at: datetime) -> None:
        await mark_rejected(self._conn, story_id, rejected_at)

    async def stop_notifications(self, story_id: uuid.UUID) -> None:
        await stop_author_notifications(self._conn, story_id)

    async def submitted_version(self, story_id: uuid.UUID) -> int | None:
        return await submitted_version(self._conn, story_id)

    async def record_versions(self, versions: dict[uuid.UUID, int]) -> set[uuid.UUID]:
        return await record_submitted_versions(self._conn, versions)

    async def discard_all(self, story_ids: Collection[uuid.UUID]) -> None:
        await discard_authors(self._conn, story_ids)

    async def keep_rejection_before_contact(self, rejection: RejectionBeforeContact) -> None:
        await keep_rejection_before_contact(self._conn, rejection)

    async def take_rejection_before_contact(
        self, story_id: uuid.UUID
    ) -> RejectionBeforeContact | None:
        return await take_rejection_before_contact(self._conn, story_id)


class PostgresStories:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def save_published(self, story: PublishedStory) -> None:
        await save_published_story(self._conn, story)

    async def save_published_many(self, stories: Sequence[PublishedStory]) -> None:
        await save_published_stories(self._conn, stories)

    async def get_published(self, story_id: uuid.UUID) -> PublishedStory | None:
        return await get_published_story(self._conn, story_id)

    async def is_withdrawn(self, story_id: uuid.UUID) -> bool:
        return await is_withdrawn(self._conn, story_id)

    async def withdrawn_among(self, story_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return await withdrawn_among(self._conn, story_ids)

    async def forget(self, story_id: uuid.UUID, withdrawn_at: datetime) -> int:
        return await forget_story(self._conn, story_id, withdrawn_at)


class PostgresDeliveries:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, delivery: Delivery) -> bool:
        return await add_delivery(self._conn, delivery)

    async def add_many(self, deliveries: Sequence[Delivery]) -> int:
        return await add_deliveries(self._conn, deliveries)

    async def add_digest(self, delivery: Delivery) -> bool:
        return await add_digest_delivery(self._conn, delivery)

    async def alerted_subscriptions(
        self, story_id: uuid.UUID, kind: DeliveryKind
    ) -> set[uuid.UUID]:
        return await alerted_subscriptions(self._conn, story_id, kind)

    async def alerted_subscriptions_among(
        self, story_ids: Collection[uuid.UUID], kind: DeliveryKind
    ) -> dict[uuid.UUID, set[uuid.UUID]]:
        return await alerted_subscriptions_among(self._conn, story_ids, kind)

    async def get(self, delivery_id: uuid.UUID) -> Delivery | None:
        return await get_delivery(self._conn, delivery_id)

    async def report(self, status: DeliveryStatus | None, limit: int) -> list[DeliveryReport]:
        return await list_deliveries(self._conn, status, limit)

    async def counts(self) -> tuple[dict[DeliveryStatus, int], float | None]:
        return await delivery_counts(self._conn)


class PostgresSafeguardingAlerts:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(
        self,
        alert: SafeguardingAlert,
        *,
        event_id: uuid.UUID,
        raised_at: datetime,
        ack_timeout_seconds: float,
    ) -> datetime | None:
        return await add_safeguarding_alert(
            self._conn,
            alert,
            event_id=event_id,
            raised_at=raised_at,
            ack_timeout_seconds=ack_timeout_seconds,
        )

    async def get(
        self, escalation_id: uuid.UUID, *, for_update: bool = False
    ) -> SafeguardingAlert | None:
        return await get_safeguarding_alert(self._conn, escalation_id, for_update=for_update)

    async def latest_from_screening(self, story_id: uuid.UUID) -> SafeguardingAlert | None:
        return await latest_screening_alert(self._conn, story_id)

    async def acknowledge(self, escalation_id: uuid.UUID, by: str) -> datetime:
        return await acknowledge_alert(self._conn, escalation_id, by)

    async def lock_overdue(self, limit: int) -> list[SafeguardingAlert]:
        return await lock_overdue_alerts(self._conn, limit)

    async def mark_realerted(
        self, escalation_id: uuid.UUID, recipients: Collection[str]
    ) -> datetime:
        return await mark_realerted(self._conn, escalation_id, recipients)


class PostgresDigestItems:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def collect(
        self,
        *,
        subscription_id: uuid.UUID,
        item_key: str,
        kind: DigestItemKind,
        story_id: uuid.UUID,
        revision: int,
        context: dict[str, object],
    ) -> None:
        await collect_digest_item(
            self._conn,
            subscription_id=subscription_id,
            item_key=item_key,
            kind=kind,
            story_id=story_id,
            revision=revision,
            context=context,
        )

    async def drop_waiting_story_items(
        self, story_id: uuid.UUID, *, except_subscriptions: Collection[uuid.UUID]
    ) -> None:
        await drop_waiting_story_items(
            self._conn, story_id, except_subscriptions=except_subscriptions
        )

    async def drop_waiting_items_of_stories(
        self, keep: dict[uuid.UUID, Collection[uuid.UUID]]
    ) -> None:
        await drop_waiting_items_of_stories(self._conn, keep)

    async def lock_waiting(self, subscription_id: uuid.UUID) -> list[DigestItem]:
        return await lock_waiting_items(self._conn, subscription_id)

    async def mark_digested(
        self, subscription_id: uuid.UUID, item_keys: list[str], delivery_id: uuid.UUID
    ) -> None:
        await mark_items_digested(self._conn, subscription_id, item_keys, delivery_id)


class PostgresDeliveryLedger:
    """The delivery worker's view of the deliveries: each call one statement, committed
    on its own (a claim must be committed before any SMTP traffic, a send's outcome as
    soon as it is known), so the worker needs no unit of work.

    Inside `holding()` (a burst of work) the calls share one pooled connection, one
    at a time, rather than take one from the pool each: every return to the pool costs
    a reset statement. A call that fails there gives it up: the calls after it (a retry
    through an outage) take fresh connections from the pool, as outside.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._held: Connection | None = None
        self._turn = asyncio.Lock()  # the lanes take turns on the held connection

    @contextlib.asynccontextmanager
    async def holding(self) -> AsyncIterator[None]:
        async with self._pool.acquire() as conn:
            self._held = conn
            try:
                yield
            finally:
                self._held = None

    async def _run(self, statement: Callable[[Connection], Awaitable[T]]) -> T:
        held = self._held
        if held is not None:
            async with self._turn:
                if self._held is held:
                    try:
                        return await statement(held)
                    except BaseException:
                        self._held = None
                        raise
        async with self._pool.acquire() as conn:
            return await statement(conn)

    async def claim(self, limit: int) -> list[Delivery]:
        return await self._run(lambda conn: claim_due(conn, limit))

    async def record_sent(
        self, sent: Sequence[uuid.UUID], about_to_send: Sequence[Delivery]
    ) -> set[uuid.UUID]:
        return await self._run(lambda conn: record_sent(conn, sent, about_to_send))

    async def mark_retry(self, delivery_id: uuid.UUID, *, delay_seconds: float, error: str) -> None:
        await self._run(
            lambda conn: mark_retry(conn, delivery_id, delay_seconds=delay_seconds, error=error)
        )

    async def mark_failed(self, delivery_id: uuid.UUID, *, error: str) -> None:
        await self._run(lambda conn: mark_failed(conn, delivery_id, error=error))

    async def resume_interrupted(self, *, older_than_seconds: float) -> int:
        return await self._run(
            lambda conn: resume_interrupted(conn, older_than_seconds=older_than_seconds)
        )

    async def seconds_until_next_due(self) -> float | None:
        return await self._run(seconds_until_next_due)

    async def counts(self) -> tuple[dict[DeliveryStatus, int], float | None]:
        async with self._pool.acquire() as conn:
            return await delivery_counts(conn)
