"""Sending emails over SMTP (aiosmtplib); telling temporary failures from permanent ones."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import re
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import structlog

from candour_notifications.adapters.mime import WIRE_POLICY, WireHeaders, flatten
from candour_notifications.domain import redact_addresses
from candour_notifications.settings import NotificationsSettings

log = structlog.get_logger(__name__)


class DeliveryError(Exception):
    """Sending failed; `str()` is safe to log and store (addresses redacted)."""

    temporary: bool = False


class TemporaryDeliveryError(DeliveryError):
    """Worth another try later: a 4xx reply, or the server could not be reached."""

    temporary = True


class PermanentDeliveryError(DeliveryError):
    """Trying again will not help: a 5xx reply."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand `message` to the mail system; raise a DeliveryError if it was not accepted."""


def classify(exc: Exception) -> DeliveryError:
    """Map an SMTP client error to a temporary or permanent delivery error."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        temporary = bool(codes) and all(400 <= c < 500 for c in codes)
        return _error(temporary, f"recipient refused: {detail}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        temporary = 400 <= exc.code < 500
        return _error(temporary, f"{type(exc).__name__}: {exc.code} {exc.message}")
    if isinstance(
        exc,
        aiosmtplib.SMTPConnectError
        | aiosmtplib.SMTPServerDisconnected
        | aiosmtplib.SMTPTimeoutError
        | OSError
        | TimeoutError,
    ):
        return _error(True, f"{type(exc).__name__}: {exc}")
    return _error(False, f"{type(exc).__name__}: {exc}")


def _error(temporary: bool, detail: str) -> DeliveryError:
    safe = redact_addresses(detail)[:500]
    return TemporaryDeliveryError(safe) if temporary else PermanentDeliveryError(safe)


def to_wire(message: EmailMessage) -> bytes:
    if isinstance(message.policy, WireHeaders):  # built by `mime.compose_alternative`
        return flatten(message)
    return message.as_bytes(policy=WIRE_POLICY)


def envelope_addresses(message: EmailMessage) -> tuple[str, list[str]]:
    return _sender(str(message["From"])), _recipients(str(message["To"]))


@functools.lru_cache(maxsize=8)
def _sender(from_header: str) -> str:
    return email.utils.parseaddr(from_header)[1]  # the same few From lines every time


# One plain address, as a delivery's `To` always is: no parsing needed.
_PLAIN_ADDRESS = re.compile(r"[^\s,;:<>()\[\]\"\\@]+@[^\s,;:<>()\[\]\"\\@]+")


def _recipients(to_header: str) -> list[str]:
    if _PLAIN_ADDRESS.fullmatch(to_header):
        return [to_header]
    return [address for _, address in email.utils.getaddresses([to_header])]


# Seconds without an email after which we end the SMTP session ourselves. Servers
# drop idle sessions too (often after a minute or less, 10 s for a busy Postfix);
# ending ours first makes finding one dropped rare, and it is handled anyway.
IDLE_SECONDS = 5.0
# QUIT is a courtesy: never hold up a shutdown for it.
QUIT_TIMEOUT = 2.0


class SmtpMailer:
    """Sends over one SMTP session, opened on the first email and kept for the next ones.

    Each email is its own mail transaction (MAIL, RCPT, DATA), with the guarantees of a
    fresh connection per email:

    - A failure is classified (`classify`) exactly as before, and any failure ends the
      session: whatever state it was left in, the next email starts a new one.
    - A kept session the server has since closed (idle timeout, restart, a per-session
      limit: a dropped connection or a 421 reply) is replaced without a failed attempt,
      but only while nothing of the email has been sent (MAIL FROM, RCPT TO): the email
      then goes over a new session, once. From DATA on it is never sent again here,
      since the server may have taken it; the delivery worker decides, as for any
      failure, and a copy carries the same Message-ID.
    - The session is ended (QUIT) after `idle_seconds` without an email, and by `close()`.
    """

    def __init__(self, settings: NotificationsSettings, *, idle_seconds: float = IDLE_SECONDS):
        self._settings = settings
        self._idle_seconds = idle_seconds
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()  # one transaction at a time on the session
        self._idle_timer: asyncio.TimerHandle | None = None
        self._quitting: set[asyncio.Task[None]] = set()

    async def send(self, message: EmailMessage) -> None:
        async with self._lock:
            self._stop_idle_timer()
            try:
                sender, recipients = envelope_addresses(message)
                # Every SMTP step has `smtp_timeout`; the whole email has this, so the
                # worker's resend-if-stuck window can be longer than any send.
                async with asyncio.timeout(self._settings.smtp_send_timeout):
                    await self._transact(sender, recipients, to_wire(message))
            # UnicodeError: an address that needs SMTPUTF8 (not sent): permanent, like a 5xx.
            except (aiosmtplib.SMTPException, OSError, TimeoutError, UnicodeError) as exc:
                raise classify(exc) from exc
            finally:
                self._start_idle_timer()

    async def close(self) -> None:
        """End the session (QUIT) if one is open; a later email opens a new one."""
        async with self._lock:
            self._stop_idle_timer()
            client, self._client = self._client, None
            if client is not None:
                await _quit(client)
        if self._quitting:
            await asyncio.gather(*self._quitting, return_exceptions=True)

    async def _transact(self, sender: str, recipients: list[str], wire: bytes) -> None:
        try:
            client = self._client
            if client is not None and client.is_connected:
                try:
                    await _envelope(client, sender, recipients, size=len(wire))
                except Exception as exc:
                    if not _session_ended_by_server(exc):
                        raise
                    log.info(
                        "SMTP session ended by the server; opening a new one",
                        error=type(exc).__name__,
                    )
                    client = None
            else:
                client = None
            if client is None:
                self._drop()
                client = await self._open()
                await _envelope(client, sender, recipients, size=len(wire))
            await client.data(wire)
        except BaseException:
            self._drop()  # a transaction may be half done: never reuse the session
            raise

    async def _open(self) -> aiosmtplib.SMTP:
        s = self._settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_implicit_tls,
            # Explicit either way: never an opportunistic upgrade we did not ask for.
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout,
        )
        await client.connect()  # closes itself if it fails
        self._client = client
        return client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _start_idle_timer(self) -> None:
        if self._client is not None:
            loop = asyncio.get_running_loop()
            self._idle_timer = loop.call_later(self._idle_seconds, self._end_idle_session)

    def _stop_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _end_idle_session(self) -> None:
        self._idle_timer = None
        if self._lock.locked():
            return  # an email is being sent; its end starts the timer again
        client, self._client = self._client, None
        if client is not None:
            task = asyncio.create_task(_quit(client), name="smtp-quit")
            self._quitting.add(task)
            task.add_done_callback(self._quitting.discard)


async def _envelope(
    client: aiosmtplib.SMTP, sender: str, recipients: list[str], *, size: int
) -> None:
    """MAIL FROM and RCPT TO, as `aiosmtplib.SMTP.sendmail` sends them: no message data."""
    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            await client.helo()
    # RFC 1870 SIZE: the wire form already has CRLF line ends, as the size counts them.
    options = [f"size={size}"] if client.supports_extension("size") else []
    await client.mail(sender, options=options)
    refused: list[aiosmtplib.SMTPRecipientRefused] = []
    for recipient in recipients:
        try:
            await client.rcpt(recipient)
        except aiosmtplib.SMTPRecipientRefused as exc:
            refused.append(exc)
    if len(refused) == len(recipients):
        raise aiosmtplib.SMTPRecipientsRefused(refused)


def _session_ended_by_server(exc: Exception) -> bool:
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError):
        return True
    # 421: "service not available, closing transmission channel".
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            if client.is_connected:
                await client.quit(timeout=QUIT_TIMEOUT)
    finally:
        client.close()
