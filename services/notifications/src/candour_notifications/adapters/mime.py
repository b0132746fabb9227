"""The wire form of our emails, composed without the stdlib's header parsing.

`EmailMessage()` with the default policy parses every header as it is set and
re-parses it to fold it on output: most of the CPU an email costs us. Our emails
have one shape (multipart/alternative: text and HTML, quoted-printable), so we
write each header as it is: the stdlib's encoder runs only for the rare header
that needs encoding. The result is still an `EmailMessage` (headers read back as
set, `iter_parts()`), and its wire form is what the stdlib's SMTP policy would
write (tests/unit/notifications/test_wire_form.py), except that quoted-printable
lines are wrapped at 76 characters (RFC 2045; the stdlib allows 78) and the HTML
part has no MIME-Version header of its own (only the top level needs one).
"""

from __future__ import annotations

import binascii
import email.policy
import functools
import random
import re
import sys
from collections.abc import Iterable
from email.message import EmailMessage, Message
from typing import Any

# RFC 5322 allows lines of up to 998 characters. The stdlib would fold at 78 and
# RFC 2047-encode a header it cannot fold (a long unsubscribe URL has no spaces),
# which mail clients do not read as a URL.
MAX_LINE_LENGTH = 998
WIRE_POLICY = email.policy.SMTP.clone(max_line_length=MAX_LINE_LENGTH)

_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})
# What the stdlib writes back unchanged: a bare ASCII address, or printable ASCII
# words with single spaces (no RFC 2047 encoded-word lookalikes, checked apart).
_BARE_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")
_PLAIN_TEXT = re.compile(r"[!-~]+(?: [!-~]+)*")


class WireHeaders(email.policy.Compat32):
    """Header values are kept as set and encoded when written, by `encode_header`.

    Part payloads are stored as they go on the wire (see `compose_alternative`).
    """

    def header_store_parse(self, name: str, value: str) -> tuple[str, str]:
        encode_header(name, value)  # refuse now what could not be written later
        return name, value

    def fold(self, name: str, value: str) -> str:
        return f"{name}: {encode_header(name, value)}{self.linesep}"

    def fold_binary(self, name: str, value: str) -> bytes:
        return self.fold(name, value).encode("ascii")


WIRE_HEADERS = WireHeaders(linesep="\r\n", mangle_from_=False, max_line_length=None)


def encode_header(name: str, value: str) -> str:
    """`value` exactly as the stdlib's SMTP policy (lines up to 998) puts it on the wire."""
    plain = _BARE_ADDRESS if name.lower() in _ADDRESS_HEADERS else _PLAIN_TEXT
    if (
        plain.fullmatch(value)
        and "=?" not in value
        and len(name) + 2 + len(value) <= MAX_LINE_LENGTH
    ):
        return value
    return _encode_with_stdlib(name, value)


@functools.lru_cache(maxsize=256)
def _encode_with_stdlib(name: str, value: str) -> str:
    # Non-ASCII (RFC 2047), display names, over-long lines: rare, and repeated
    # (From; a story's subject for each subscriber), hence the cache.
    if "\r" in value or "\n" in value:
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    folded: str = WIRE_POLICY.header_factory(name, value).fold(policy=WIRE_POLICY)
    return folded[len(name) + 1 : -len(WIRE_POLICY.linesep)].lstrip(" ")


def quoted_printable(text: str) -> str:
    """UTF-8, quoted-printable, CRLF line ends: 7-bit clean for any relay (no 8BITMIME).

    Lines are split as the stdlib's content manager splits them (\\n, \\r, \\r\\n).
    """
    lines = text.encode("utf-8").splitlines()
    return binascii.b2a_qp(b"\r\n".join(lines) + b"\r\n", istext=True).decode("ascii")


def _boundary() -> str:
    # The stdlib's form. "==" never occurs in quoted-printable text, so the
    # boundary cannot collide with a body and need not be searched for.
    return "=" * 15 + f"{random.randrange(sys.maxsize):019d}" + "=="


def _text_part(subtype: str, text: str) -> EmailMessage:
    part = EmailMessage(policy=WIRE_HEADERS)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(quoted_printable(text))
    return part


def compose_alternative(
    headers: Iterable[tuple[str, str]], *, text: str, html: str
) -> EmailMessage:
    """A multipart/alternative email: `headers` in order, then the text and HTML parts."""
    message = EmailMessage(policy=WIRE_HEADERS)
    for name, value in headers:
        message[name] = value
    message["MIME-Version"] = "1.0"
    message["Content-Type"] = f'multipart/alternative; boundary="{_boundary()}"'
    message.attach(_text_part("plain", text))
    message.attach(_text_part("html", html))
    return message


def flatten(message: Message[Any, Any]) -> bytes:
    """The wire form of a message built by `compose_alternative`.

    Byte for byte what `message.as_bytes()` writes for it, without the generator's
    per-line work.
    """
    chunks: list[str] = []
    _write(message, chunks)
    return "".join(chunks).encode("ascii")


def _write(part: Message[Any, Any], chunks: list[str]) -> None:
    for name, value in part.raw_items():
        chunks.append(f"{name}: {encode_header(name, value)}\r\n")
    chunks.append("\r\n")
    payload = part.get_payload()
    if isinstance(payload, list):
        boundary = part.get_boundary()
        for sub in payload:
            assert isinstance(sub, Message)
            chunks.append(f"--{boundary}\r\n")
            _write(sub, chunks)
            chunks.append("\r\n")
        chunks.append(f"--{boundary}--\r\n")
    else:
        chunks.append(str(payload))
