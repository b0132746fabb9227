"""The delivery worker: sends the emails owed, after the transactions that owed them.

Exactly-once towards people is impossible over SMTP. A row is claimed (`sending`,
committed) before any SMTP traffic and marked `sent` right after the server accepted
it. A crash in between leaves it `sending`; after `delivery_stale_after_seconds` it is
sent again with the same Message-ID (`DeliveryLedger.resume_interrupted`), so a second
copy needs a crash between the server's acceptance and the `sent` commit. Temporary
failures (4xx, unreachable server) go back to `pending` with exponential backoff
until the attempts run out. The mailer keeps its SMTP session between emails; a
session the server closed is replaced within the attempt, never once DATA has begun
(`adapters.mailer.SmtpMailer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from enum import StrEnum
from typing import Protocol, TypeVar

import structlog

from candour_common.messaging import TRANSIENT_ERRORS
from candour_notifications.adapters.mailer import DeliveryError, Mailer
from candour_notifications.adapters.mime import compose_alternative
from candour_notifications.adapters.templates import EmailRenderer
from candour_notifications.domain import (
    AUTHOR_KINDS,
    SAFEGUARDING_KINDS,
    Delivery,
    DeliveryKind,
    UnsubscribeScope,
    UnsubscribeTarget,
    backoff_seconds,
    sign_acknowledgement,
    sign_confirmation,
    sign_unsubscribe,
)
from candour_notifications.metrics import NotificationMetrics
from candour_notifications.settings import NotificationsSettings

log = structlog.get_logger(__name__)

T = TypeVar("T")


class DeliveryLedger(Protocol):
    """The deliveries as the worker sees them: each call commits on its own."""

    async def claim(self, limit: int) -> list[Delivery]:
        """Claim up to `limit` due emails (`sending`, committed), in one statement."""
        ...

    async def record_sent(
        self, sent: Sequence[uuid.UUID], about_to_send: Sequence[Delivery]
    ) -> set[uuid.UUID]:
        """Record `sent` as sent and return which of `about_to_send` (claimed by this
        worker) are still ours to send, in one commit: not cancelled meanwhile
        (withdrawn, unsubscribed), nor given back after the lease."""
        ...

    async def mark_retry(
        self, delivery_id: uuid.UUID, *, delay_seconds: float, error: str
    ) -> None: ...

    async def mark_failed(self, delivery_id: uuid.UUID, *, error: str) -> None: ...

    async def resume_interrupted(self, *, older_than_seconds: float) -> int:
        """Emails left `sending` by a worker that died go back to `pending`."""
        ...

    async def seconds_until_next_due(self) -> float | None: ...

    def holding(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The calls inside share one database connection (a burst of work)."""
        ...


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    error: str | None = None
    retry_in: float = 0.0


@dataclass(frozen=True, slots=True)
class MailPolicy:
    secret: str
    mail_from: str
    unsubscribe_base_url: str
    max_attempts: int
    backoff_base: float
    backoff_max: float

    @classmethod
    def from_settings(cls, settings: NotificationsSettings) -> MailPolicy:
        return cls(
            secret=settings.unsubscribe_key(),
            mail_from=settings.mail_from,
            unsubscribe_base_url=settings.notifications_public_url,
            max_attempts=settings.delivery_max_attempts,
            backoff_base=settings.delivery_backoff_base_seconds,
            backoff_max=settings.delivery_backoff_max_seconds,
        )

    def unsubscribe_url(self, delivery: Delivery) -> str | None:
        """None for a safeguarding alert: an operational message nobody unsubscribes from
        (safeguarding contacts are managed on the alerts page)."""
        if delivery.kind in SAFEGUARDING_KINDS:
            return None
        if delivery.kind in AUTHOR_KINDS:
            assert delivery.story_id is not None
            target = UnsubscribeTarget(UnsubscribeScope.AUTHOR, delivery.story_id)
        else:
            assert delivery.subscription_id is not None
            target = UnsubscribeTarget(UnsubscribeScope.SUBSCRIPTION, delivery.subscription_id)
        token = sign_unsubscribe(self.secret, target)
        return f"{self.unsubscribe_base_url.rstrip('/')}/v1/unsubscribe?token={token}"

    def acknowledge_url(self, delivery: Delivery) -> str | None:
        """The link a safeguarding alert's recipient acknowledges it from (their own)."""
        if delivery.kind not in SAFEGUARDING_KINDS:
            return None
        token = sign_acknowledgement(self.secret, delivery.id)
        return f"{self.unsubscribe_base_url.rstrip('/')}/v1/safeguarding/acknowledge?token={token}"

    def confirm_url(self, delivery: Delivery) -> str | None:
        """The double opt-in link, signed like an unsubscribe link (confirmation emails)."""
        if delivery.kind is not DeliveryKind.SUBSCRIPTION_CONFIRMATION:
            return None
        assert delivery.subscription_id is not None
        token = sign_confirmation(self.secret, delivery.subscription_id)
        return f"{self.unsubscribe_base_url.rstrip('/')}/v1/subscriptions/confirm?token={token}"


def build_message(
    delivery: Delivery, policy: MailPolicy, renderer: EmailRenderer | None = None
) -> EmailMessage:
    """The email of one delivery; `renderer` shares the rendering of the same content
    between recipients (the worker's does; one email alone needs none)."""
    unsubscribe_url = policy.unsubscribe_url(delivery)
    rendered = (renderer or EmailRenderer(capacity=0)).render(
        delivery.kind,
        delivery.context,
        unsubscribe_url=unsubscribe_url,
        confirm_url=policy.confirm_url(delivery),
        acknowledge_url=policy.acknowledge_url(delivery),
    )
    headers = [
        ("From", policy.mail_from),
        ("To", delivery.recipient),
        ("Subject", rendered.subject),
        ("Date", email.utils.format_datetime(datetime.now(UTC))),
        # Stable per delivery: should a copy ever go twice, mail systems can see it is one.
        ("Message-ID", f"<{delivery.id}@{_message_id_domain(policy.mail_from)}>"),
    ]
    if unsubscribe_url is not None:
        headers += [
            ("List-Unsubscribe", f"<{unsubscribe_url}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]
    headers.append(("Auto-Submitted", "auto-generated"))
    if rendered.urgent:
        headers += [("Importance", "high"), ("X-Priority", "1 (Highest)")]
    return compose_alternative(headers, text=rendered.text, html=rendered.html)


@functools.lru_cache(maxsize=8)
def _message_id_domain(mail_from: str) -> str:
    _, from_address = email.utils.parseaddr(mail_from)
    return from_address.rpartition("@")[2] or "candour.invalid"


async def attempt(
    delivery: Delivery, mailer: Mailer, policy: MailPolicy, renderer: EmailRenderer | None = None
) -> Result:
    """Try one claimed delivery once (its `attempts` already counts this try)."""
    try:
        message = build_message(delivery, policy, renderer)
    except Exception as exc:  # a template or data bug: retrying the same input cannot help
        return Result(Outcome.FAILED, error=f"could not build the email: {type(exc).__name__}")
    try:
        await mailer.send(message)
    except DeliveryError as exc:
        if exc.temporary and delivery.attempts < policy.max_attempts:
            delay = backoff_seconds(
                delivery.attempts, base=policy.backoff_base, maximum=policy.backoff_max
            )
            return Result(Outcome.RETRY, error=str(exc), retry_in=delay)
        return Result(Outcome.FAILED, error=str(exc))
    return Result(Outcome.SENT)


# Told when a dependency was unavailable (a retry follows): the transient-error metric.
OnTransient = Callable[[BaseException], None]


def _ignore(error: BaseException) -> None:
    pass


class DeliveryWorker:
    """Polls for due emails and sends them; `wake()` makes it look now.

    Each mailer is a lane: its own SMTP session with one email in flight, so lanes
    send side by side (`smtp_sessions`) while each keeps the one-at-a-time guarantee.
    """

    def __init__(self, settings: NotificationsSettings, mailers: Sequence[Mailer]) -> None:
        if not mailers:
            raise ValueError("a delivery worker needs at least one mailer")
        self._settings = settings
        self._mailers = list(mailers)
        self._policy = MailPolicy.from_settings(settings)
        # One rendering per email content, shared by the lanes (a story's recipients).
        self._renderer = EmailRenderer()
        self._wake = asyncio.Event()
        self._metrics: NotificationMetrics | None = None
        self._on_transient: OnTransient = _ignore

    def wake(self) -> None:
        self._wake.set()

    async def run(
        self,
        ledger: DeliveryLedger,
        metrics: NotificationMetrics | None = None,
        on_transient: OnTransient | None = None,
    ) -> None:
        """Send until cancelled. A database outage is waited out with capped backoff,
        each retry logged and counted (`on_transient`), never in silence."""
        self._metrics = metrics
        self._on_transient = on_transient or _ignore
        poll = self._settings.delivery_poll_interval
        backoff = poll
        last_reap = 0.0
        full = self._settings.delivery_batch_size * len(self._mailers)
        while True:
            wait = poll
            try:
                async with ledger.holding():
                    if time.monotonic() - last_reap > min(60.0, poll * 10):
                        await self._resume_interrupted(ledger)
                        last_reap = time.monotonic()
                    while await self.send_due(ledger) == full:
                        pass
                    due_in = await ledger.seconds_until_next_due()
                if due_in is not None:
                    wait = min(poll, due_in)
                backoff = poll
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database down: keep trying, never die
                log.warning("delivery worker retrying", error=repr(exc), retry_in=backoff)
                self._on_transient(exc)
                wait = backoff
                backoff = min(backoff * 2, 60.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.01))
            self._wake.clear()

    async def send_due(self, ledger: DeliveryLedger) -> int:
        """Claim up to a batch of due emails per lane in one statement and send them on
        every lane at once; return how many were claimed."""
        limit = self._settings.delivery_batch_size * len(self._mailers)
        claimed = await _with_retries(functools.partial(ledger.claim, limit), self._on_transient)
        if not claimed:
            return 0
        queue = deque(claimed)
        recorder = _SentRecorder(ledger, self._on_transient)
        # A task group: a lane that fails stops the others (the worker then backs off
        # and starts them all again), so no lane is left running on its own.
        async with asyncio.TaskGroup() as lanes:
            for mailer in self._mailers:
                lanes.create_task(self._send_on(ledger, mailer, queue, recorder))
        return len(claimed)

    async def _send_on(
        self,
        ledger: DeliveryLedger,
        mailer: Mailer,
        queue: deque[Delivery],
        recorder: _SentRecorder,
    ) -> None:
        """One lane: the claimed emails it takes from `queue`, one at a time.

        Each email is recorded `sent` before the lane sends another: that record is
        committed together with the check that the next one is still ours to send
        (not cancelled by a withdrawal or an unsubscribe since the claim), and the
        lanes' records share one statement (`_SentRecorder`). So a worker that dies
        leaves at most one email per lane whose fate is unknown: it is sent again after
        the lease (same Message-ID), and only a crash between the server's acceptance
        and that commit can make it a second copy.
        """
        sent: Delivery | None = None
        first = True
        while queue:
            delivery = queue.popleft()
            # The first email of a lane goes straight after the claim, as ever; every
            # other is checked again first, in the commit that records the lane's
            # previous email if there is one.
            if not first:
                ours = await recorder.record(sent, delivery)
                if sent is not None:
                    log.info("email sent", **_log_fields(sent))
                sent = None
                if not ours:
                    log.info("email no longer owed; not sent", **_log_fields(delivery))
                    continue
            first = False
            if await self._deliver(ledger, mailer, delivery):
                sent = delivery
        if sent is not None:
            await recorder.record(sent, None)
            log.info("email sent", **_log_fields(sent))

    async def _deliver(self, ledger: DeliveryLedger, mailer: Mailer, delivery: Delivery) -> bool:
        """Try `delivery`; record a retry or failure now. True when the server accepted
        it: the caller records that with its next claim."""
        result = await attempt(delivery, mailer, self._policy, self._renderer)
        if self._metrics is not None:
            self._metrics.record_attempt(delivery.kind.value, result.outcome.value)
        if result.outcome is Outcome.SENT:
            return True
        fields = _log_fields(delivery)
        retried = self._on_transient
        if result.outcome is Outcome.RETRY:
            await _with_retries(
                functools.partial(
                    ledger.mark_retry,
                    delivery.id,
                    delay_seconds=result.retry_in,
                    error=result.error or "",
                ),
                retried,
            )
            log.warning("email deferred", error=result.error, retry_in=result.retry_in, **fields)
        else:
            await _with_retries(
                functools.partial(ledger.mark_failed, delivery.id, error=result.error or ""),
                retried,
            )
            log.error("email failed", error=result.error, **fields)
        return False

    async def _resume_interrupted(self, ledger: DeliveryLedger) -> None:
        count = await ledger.resume_interrupted(
            older_than_seconds=self._settings.delivery_stale_after_seconds
        )
        if count:
            log.warning("emails interrupted while sending will be sent again", count=count)


class _SentRecorder:
    """Group commit for the lanes of one batch: each lane waits for its sent email to be
    recorded (and its next one checked) before it sends again, and the lanes waiting
    at the same moment share one statement instead of one each."""

    def __init__(self, ledger: DeliveryLedger, on_transient: OnTransient) -> None:
        self._ledger = ledger
        self._on_transient = on_transient
        self._waiting: list[tuple[Delivery | None, Delivery | None, asyncio.Future[bool]]] = []
        self._lock = asyncio.Lock()

    async def record(self, sent: Delivery | None, about_to_send: Delivery | None) -> bool:
        """Record `sent` (if any); True if `about_to_send` (if any) is still ours."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((sent, about_to_send, done))
        # One turn of the loop first: lanes whose SMTP replies are already in join
        # this statement rather than wait for the next.
        await asyncio.sleep(0)
        async with self._lock:  # FIFO: whoever holds it records everything waiting
            if not done.done():
                await self._flush()
        return done.result()

    async def _flush(self) -> None:
        batch, self._waiting = self._waiting, []
        try:
            ours = await _with_retries(
                functools.partial(
                    self._ledger.record_sent,
                    [s.id for s, _, _ in batch if s is not None],
                    [n for _, n, _ in batch if n is not None],
                ),
                self._on_transient,
            )
        except BaseException as exc:
            for _, _, done in batch:
                if done.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    done.cancel()
                else:
                    done.set_exception(exc)
            raise
        for _, about_to_send, done in batch:
            done.set_result(about_to_send is None or about_to_send.id in ours)


def _log_fields(delivery: Delivery) -> dict[str, object]:
    # Never the recipient: addresses stay out of logs.
    fields: dict[str, object] = {
        "delivery_id": str(delivery.id),
        "kind": delivery.kind.value,
        "attempt": delivery.attempts,
    }
    if delivery.story_id is not None:
        fields["story_id"] = str(delivery.story_id)
    if delivery.digest_date is not None:
        fields["digest_date"] = delivery.digest_date.isoformat()
    return fields


async def _with_retries(write: Callable[[], Awaitable[T]], on_transient: OnTransient) -> T:
    """`write` (a claim, or the record of a send's outcome), waiting out a database
    outage for as long as it lasts.

    Used for every record of a send's outcome: the email has already gone (or failed),
    and giving up would leave the row `sending`, so that after the lease it would be
    sent a second time. Each retry is logged and counted, with capped backoff, so a
    long outage is visible, not silent.
    """
    delay = 0.2
    while True:
        try:
            return await write()
        except TRANSIENT_ERRORS as exc:
            on_transient(exc)
            log.warning(
                "cannot record email outcome yet; retrying", error=repr(exc), retry_in=delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
