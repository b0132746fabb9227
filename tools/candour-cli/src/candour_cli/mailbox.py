"""A local mail catcher: an SMTP server that keeps every message, a mailbox web page
and the subset of Mailpit's API v1 that tests and tools use, so the compose stack can
swap in the real Mailpit.

API (shapes as Mailpit's):
  GET    /api/v1/messages?start=0&limit=50   newest first: {total, unread, count,
                                              messages_count, start, tags, messages:[summary]}
  GET    /api/v1/message/{ID}                 the message: From, To, Subject, Date, Text,
                                              HTML, ... (marks it read)
  GET    /api/v1/message/{ID}/headers         {header: [values]}
  GET    /api/v1/message/{ID}/raw             the message source
  DELETE /api/v1/messages                     body {"IDs": [...]} deletes those; no body or
                                              no IDs deletes every message

Messages are kept as .eml files in a directory, so they survive a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import html
import json
import re
import secrets
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

_ID_ALPHABET = string.ascii_letters + string.digits
_SPACES = re.compile(r"\s+")
_TAGS = re.compile(r"<[^>]+>")


def new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))


def _addresses(values: list[str]) -> list[dict[str, str]]:
    return [{"Name": n, "Address": a} for n, a in getaddresses(values) if a]


@dataclass
class StoredMessage:
    id: str
    raw: bytes
    created: datetime
    recipients: list[str] = field(default_factory=list)  # SMTP RCPT TO (shows Bcc)
    read: bool = False

    @property
    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def _part(self, message: EmailMessage, subtype: str) -> str:
        part = message.get_body(preferencelist=(subtype,))
        if part is None:
            return ""
        with contextlib.suppress(LookupError, ValueError):
            return str(part.get_content())
        return ""

    def summary(self) -> dict[str, Any]:
        message = self.parsed
        text = self._part(message, "plain") or _TAGS.sub(" ", self._part(message, "html"))
        to = _addresses(message.get_all("To", []))
        cc = _addresses(message.get_all("Cc", []))
        listed = {a["Address"].lower() for a in to + cc}
        bcc = [{"Name": "", "Address": r} for r in self.recipients if r.lower() not in listed]
        senders = _addresses(message.get_all("From", []))
        attachments = sum(1 for _ in message.iter_attachments())
        return {
            "ID": self.id,
            "MessageID": str(message.get("Message-ID", "")).strip("<>"),
            "Read": self.read,
            "From": senders[0] if senders else None,
            "To": to,
            "Cc": cc,
            "Bcc": bcc,
            "ReplyTo": _addresses(message.get_all("Reply-To", [])),
            "Subject": str(message.get("Subject", "")),
            "Created": self.created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "Tags": [],
            "Size": len(self.raw),
            "Attachments": attachments,
            "Snippet": _SPACES.sub(" ", text).strip()[:250],
        }

    def detail(self) -> dict[str, Any]:
        message = self.parsed
        summary = self.summary()
        date = summary["Created"]
        if message.get("Date"):
            with contextlib.suppress(TypeError, ValueError):
                date = parsedate_to_datetime(str(message["Date"])).isoformat()
        return {
            **{
                k: summary[k]
                for k in (
                    "ID",
                    "MessageID",
                    "Read",
                    "From",
                    "To",
                    "Cc",
                    "Bcc",
                    "ReplyTo",
                    "Subject",
                    "Tags",
                    "Size",
                )
            },
            "ReturnPath": str(message.get("Return-Path", "")).strip("<>"),
            "Date": date,
            "Text": self._part(message, "plain"),
            "HTML": self._part(message, "html"),
            "Inline": [],
            "Attachments": [
                {
                    "PartID": str(number),
                    "FileName": part.get_filename() or "",
                    "ContentType": part.get_content_type(),
                    "ContentID": str(part.get("Content-ID", "")).strip("<>"),
                    "Size": len(part.get_payload(decode=True) or b""),
                }
                for number, part in enumerate(message.iter_attachments(), 1)
            ],
        }

    def headers(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for name, value in self.parsed.items():
            result.setdefault(name, []).append(str(value))
        return result


class MailStore:
    """Messages in memory, each also written to `<directory>/<ID>.eml` (+ .json metadata)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._messages: dict[str, StoredMessage] = {}
        self.changed = asyncio.Event()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._load(directory)

    def _load(self, directory: Path) -> None:
        for eml in directory.glob("*.eml"):
            meta_path = eml.with_suffix(".json")
            try:
                meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
                created = (
                    datetime.fromisoformat(meta["created"])
                    if "created" in meta
                    else (datetime.fromtimestamp(eml.stat().st_mtime, UTC))
                )
            except (OSError, ValueError, KeyError):
                continue
            self._messages[eml.stem] = StoredMessage(
                id=eml.stem,
                raw=eml.read_bytes(),
                created=created,
                recipients=list(meta.get("recipients", [])),
                read=bool(meta.get("read", False)),
            )

    def _save_meta(self, message: StoredMessage) -> None:
        if self.directory is None:
            return
        (self.directory / f"{message.id}.json").write_text(
            json.dumps(
                {
                    "created": message.created.isoformat(),
                    "recipients": message.recipients,
                    "read": message.read,
                }
            )
        )

    def add(self, raw: bytes, recipients: list[str]) -> StoredMessage:
        message = StoredMessage(new_id(), raw, datetime.now(UTC), list(recipients))
        if self.directory is not None:
            (self.directory / f"{message.id}.eml").write_bytes(raw)
            self._save_meta(message)
        self._messages[message.id] = message
        self.changed.set()
        return message

    def newest_first(self) -> list[StoredMessage]:
        return sorted(self._messages.values(), key=lambda m: m.created, reverse=True)

    def get(self, message_id: str) -> StoredMessage | None:
        return self._messages.get(message_id)

    def mark_read(self, message: StoredMessage) -> None:
        if not message.read:
            message.read = True
            self._save_meta(message)

    def delete(self, ids: list[str] | None = None) -> None:
        for message_id in ids if ids else list(self._messages):
            if self._messages.pop(message_id, None) is not None and self.directory is not None:
                for suffix in (".eml", ".json"):
                    (self.directory / f"{message_id}{suffix}").unlink(missing_ok=True)

    def __iter__(self) -> Iterator[StoredMessage]:
        return iter(self.newest_first())

    def __len__(self) -> int:
        return len(self._messages)


class KeepEverything:
    """aiosmtpd handler: accept every message for every recipient and keep it."""

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        self.store.add(raw, [str(r) for r in envelope.rcpt_tos])
        return "250 Message accepted for delivery"


async def start_smtp(store: MailStore, host: str, port: int) -> asyncio.Server:
    handler = KeepEverything(store)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, hostname="candour-mailbox", loop=loop), host=host, port=port
    )


# ------------------------------------------------------------------ web


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title}</title><style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}
table{{border-collapse:collapse;width:100%}}td,th{{text-align:left;padding:.4rem;
border-bottom:1px solid #ddd;vertical-align:top}}tr.unread td{{font-weight:600}}
pre{{white-space:pre-wrap;background:#f6f6f6;padding:1rem}}
iframe{{width:100%;height:60vh;border:1px solid #ccc}}a{{color:#005eb8}}
</style></head><body>{body}</body></html>"""


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body))


def _who(address: dict[str, str] | None) -> str:
    if not address:
        return ""
    name = address.get("Name") or ""
    return f"{name} <{address['Address']}>" if name else address["Address"]


def create_mailbox_app(store: MailStore) -> FastAPI:
    app = FastAPI(title="Candour mailbox", description=__doc__, docs_url="/api/docs")

    def found(message_id: str) -> StoredMessage:
        message = store.get(message_id)
        if message is None:
            raise HTTPException(404, "message not found")
        return message

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def inbox() -> HTMLResponse:
        rows = "".join(
            f'<tr class="{"" if m.read else "unread"}"><td>{html.escape(s["Created"])}</td>'
            f"<td>{html.escape(_who(s['From']))}</td>"
            f"<td>{html.escape(', '.join(_who(a) for a in s['To']))}</td>"
            f'<td><a href="/view/{m.id}">{html.escape(s["Subject"] or "(no subject)")}</a>'
            f"<br><small>{html.escape(s['Snippet'][:120])}</small></td></tr>"
            for m in store
            for s in [m.summary()]
        )
        body = (
            f"<h1>Mailbox</h1><p>{len(store)} message(s) caught by the local SMTP server. "
            'JSON: <a href="/api/v1/messages">/api/v1/messages</a>.</p>'
            "<table><tr><th>received</th><th>from</th><th>to</th><th>subject</th></tr>"
            f"{rows}</table>"
        )
        return _page("Mailbox", body)

    @app.get("/view/{message_id}", response_class=HTMLResponse, include_in_schema=False)
    async def view(message_id: str) -> HTMLResponse:
        message = found(message_id)
        store.mark_read(message)
        detail = message.detail()
        headers = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, values in message.headers().items()
            for v in values
        )
        # The HTML part is shown in a sandboxed frame: no scripts, no same-origin access.
        rendered = (
            f'<h2>HTML</h2><iframe sandbox="" srcdoc="{html.escape(detail["HTML"])}"></iframe>'
            if detail["HTML"]
            else ""
        )
        body = (
            f'<p><a href="/">&larr; all messages</a> · <a href="/api/v1/message/{message.id}">'
            f'JSON</a> · <a href="/api/v1/message/{message.id}/raw">source</a></p>'
            f"<h1>{html.escape(detail['Subject'] or '(no subject)')}</h1>{rendered}"
            f"<h2>Text</h2><pre>{html.escape(detail['Text'])}</pre>"
            f"<h2>Headers</h2><table>{headers}</table>"
        )
        return _page(detail["Subject"] or "message", body)

    @app.get("/api/v1/messages", tags=["messages"])
    async def list_messages(
        start: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=5000)
    ) -> dict[str, Any]:
        everything = store.newest_first()
        page = everything[start : start + limit]
        return {
            "total": len(everything),
            "unread": sum(1 for m in everything if not m.read),
            "count": len(page),
            "messages_count": len(everything),
            "start": start,
            "tags": [],
            "messages": [m.summary() for m in page],
        }

    @app.delete("/api/v1/messages", tags=["messages"], response_class=PlainTextResponse)
    async def delete_messages(request: Request) -> str:
        ids: list[str] | None = None
        body = await request.body()
        if body.strip():
            try:
                payload = json.loads(body)
            except ValueError as exc:
                raise HTTPException(400, 'body must be JSON: {"IDs": [...]}') from exc
            raw_ids = payload.get("IDs") if isinstance(payload, dict) else None
            if raw_ids is not None and not (
                isinstance(raw_ids, list) and all(isinstance(i, str) for i in raw_ids)
            ):
                raise HTTPException(400, "IDs must be a list of message IDs")
            ids = raw_ids or None
        store.delete(ids)
        return "ok"

    @app.get("/api/v1/message/{message_id}", tags=["message"])
    async def get_message(message_id: str) -> dict[str, Any]:
        message = found(message_id)
        store.mark_read(message)
        return message.detail()

    @app.get("/api/v1/message/{message_id}/headers", tags=["message"])
    async def get_headers(message_id: str) -> dict[str, list[str]]:
        return found(message_id).headers()

    @app.get("/api/v1/message/{message_id}/raw", tags=["message"])
    async def get_raw(message_id: str) -> Response:
        return Response(found(message_id).raw, media_type="text/plain")

    @app.get("/livez", include_in_schema=False)
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    return app


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside another program's event loop: the host program owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def web_server(store: MailStore, host: str, port: int) -> EmbeddedServer:
    config = uvicorn.Config(
        create_mailbox_app(store),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    return EmbeddedServer(config)
