"""Sending one email over SMTP (aiosmtplib); telling temporary failures from permanent ones."""

from __future__ import annotations

import email.policy
import email.utils
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from candour_notifications.domain import redact_addresses
from candour_notifications.settings import NotificationsSettings


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


# aiosmtplib flattens with a 78-character fold limit, and a header that cannot be
# folded (a long unsubscribe URL has no spaces) would be RFC 2047-encoded, which
# mail clients do not read as a URL. RFC 5322 allows lines of up to 998 characters.
WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)


def to_wire(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=WIRE_POLICY)


def envelope_addresses(message: EmailMessage) -> tuple[str, list[str]]:
    sender = email.utils.parseaddr(str(message["From"]))[1]
    recipients = [address for _, address in email.utils.getaddresses([str(message["To"])])]
    return sender, recipients


class SmtpMailer:
    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self._settings
        try:
            sender, recipients = envelope_addresses(message)
            await aiosmtplib.send(
                to_wire(message),
                sender=sender,
                recipients=recipients,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_implicit_tls,
                # Explicit either way: never an opportunistic upgrade we did not ask for.
                start_tls=s.smtp_starttls,
                timeout=s.smtp_timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise classify(exc) from exc
