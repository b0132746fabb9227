"""One SMTP session carries consecutive emails; a session the server ended is replaced
without a failed attempt, but never once DATA has begun; failures are classified as
before; the session is ended when idle and when the service stops.

A real aiosmtpd server over a real socket, as everywhere else; the mailer is the one the
service uses (`SmtpMailer`), fed messages from the service's own `build_message`.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from candour_notifications.adapters.mailer import (
    PermanentDeliveryError,
    SmtpMailer,
    TemporaryDeliveryError,
)
from candour_notifications.domain import Delivery, DeliveryKind
from candour_notifications.service_layer.delivery import (
    MailPolicy,
    Outcome,
    attempt,
    build_message,
)
from candour_notifications.settings import NotificationsSettings
from tests.infra import MailSink
from tests.integration.notifications.conftest import (
    SECRET,
    Publisher,
    ServiceFactory,
    approved,
    eventually,
    free_port,
)

pytestmark = pytest.mark.integration

CONTEXT: dict[str, object] = {
    "story_id": str(uuid.uuid4()),
    "title": "A kind night shift",
    "body": "They were kind.",
    "organisation_name": "Riverside Hospitals NHS Trust",
    "service_name": "Maternity",
    "criticality_label": "not critical",
    "author_name": "Sam",
    "author_relationship": "patient",
    "tags": [],
    "story_url": "http://search.test/v1/stories/1",
    "published_at": "2025-01-01T00:00:00+00:00",
}


@dataclass
class SessionSink(MailSink):
    """Records which session (client address) each message came over, and each QUIT.

    `refuse` maps a recipient to the reply its RCPT or DATA gets; `drop_data_for` names
    recipients whose DATA the server answers by closing the connection (it has read the
    whole message: the client cannot know whether it was taken).
    """

    sessions: list[Any] = field(default_factory=list)
    peers: list[tuple[str, int]] = field(default_factory=list)
    quits: int = 0
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: dict[str, str] = field(default_factory=dict)
    drop_data_for: set[str] = field(default_factory=set)
    data_seen: Counter[str] = field(default_factory=Counter)
    limit_per_session: int | None = None
    mails_per_peer: Counter[tuple[str, int]] = field(default_factory=Counter)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if server not in self.sessions:
            self.sessions.append(server)
        self.mails_per_peer[session.peer] += 1
        if self.limit_per_session and self.mails_per_peer[session.peer] > self.limit_per_session:
            return "421 4.7.0 Too many messages on this connection, reconnect"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        [recipient] = envelope.rcpt_tos
        self.data_seen[recipient] += 1
        if recipient in self.drop_data_for:
            server.transport.close()
            return "250 never heard"
        if recipient in self.data_replies:
            return self.data_replies[recipient]
        self.peers.append(session.peer)
        return await super().handle_DATA(server, session, envelope)

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"


@dataclass
class Server:
    sink: SessionSink
    controller: Controller

    def close_sessions_behind_the_clients_back(self) -> None:
        """Close every open session from the server's side, and block the caller's event
        loop meanwhile, so the client has not yet seen the close when it next sends."""
        closed = threading.Event()

        def close_all() -> None:
            for session in self.sink.sessions:
                if session.transport is not None:
                    session.transport.close()
            closed.set()

        self.controller.loop.call_soon_threadsafe(close_all)
        assert closed.wait(10)
        time.sleep(0.2)  # the FIN reaches the client's socket; its loop cannot run yet


@pytest.fixture
def server() -> Iterator[Server]:
    sink = SessionSink(host="127.0.0.1", port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield Server(sink, controller)
    finally:
        controller.stop()


def mailer_for(server: Server, **kwargs: Any) -> SmtpMailer:
    settings = NotificationsSettings(
        smtp_port=server.sink.port,
        jwt_secret=SECRET,
        database_url="postgresql://unused@127.0.0.1/unused",
    )
    return SmtpMailer(settings, **kwargs)


POLICY = MailPolicy(
    secret=SECRET,
    mail_from="Candour <alerts@candour.example>",
    unsubscribe_base_url="http://notifications.test",
    max_attempts=5,
    backoff_base=30,
    backoff_max=3600,
)


def delivery(recipient: str) -> Delivery:
    return Delivery(
        id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        story_id=uuid.uuid4(),
        kind=DeliveryKind.STORY_ALERT,
        recipient=recipient,
        context=CONTEXT,
        subscription_id=uuid.uuid4(),
        attempts=1,
    )


async def send(mailer: SmtpMailer, recipient: str) -> None:
    await mailer.send(build_message(delivery(recipient), POLICY))


async def test_consecutive_emails_go_over_one_session(server: Server) -> None:
    mailer = mailer_for(server)
    recipients = [f"ward{i}@riverside.example" for i in range(25)]
    for recipient in recipients:
        await send(mailer, recipient)
    await mailer.close()

    sink = server.sink
    assert sorted(r for m in sink.messages for r in m.envelope_to) == sorted(recipients)
    assert len(set(sink.peers)) == 1
    assert sink.quits == 1


@pytest.mark.parametrize("client_saw_it", [True, False], ids=["seen", "unseen"])
async def test_a_session_the_server_closed_is_replaced_without_a_failure(
    server: Server, client_saw_it: bool
) -> None:
    mailer = mailer_for(server)
    await send(mailer, "first@riverside.example")
    server.close_sessions_behind_the_clients_back()
    if client_saw_it:
        await asyncio.sleep(0.2)
    # Unseen, the client learns of the close from its MAIL command: nothing of the
    # email had been sent, so it goes over a new session within the same attempt.
    result = await attempt(delivery("second@riverside.example"), mailer, POLICY)
    await mailer.close()

    assert result.outcome is Outcome.SENT
    sink = server.sink
    assert [m.envelope_to for m in sink.messages] == [
        ["first@riverside.example"],
        ["second@riverside.example"],
    ]
    assert len(set(sink.peers)) == 2


async def test_a_421_from_a_kept_session_is_answered_with_a_new_session(
    server: Server,
) -> None:
    server.sink.limit_per_session = 1
    mailer = mailer_for(server)
    recipients = [f"ward{i}@riverside.example" for i in range(3)]
    results = [await attempt(delivery(r), mailer, POLICY) for r in recipients]
    await mailer.close()

    assert [r.outcome for r in results] == [Outcome.SENT] * 3
    assert [m.envelope_to for m in server.sink.messages] == [[r] for r in recipients]
    assert len(set(server.sink.peers)) == 3


async def test_a_session_dropped_during_data_is_temporary_and_never_resent_by_the_mailer(
    server: Server,
) -> None:
    server.sink.drop_data_for = {"dropped@riverside.example"}
    mailer = mailer_for(server)
    await send(mailer, "before@riverside.example")  # the drop happens on a kept session

    result = await attempt(delivery("dropped@riverside.example"), mailer, POLICY)
    assert result.outcome is Outcome.RETRY
    assert result.error is not None and "SMTPServerDisconnected" in result.error
    assert "dropped@riverside.example" not in result.error
    # The server may have taken it: the mailer did not send it a second time.
    assert server.sink.data_seen["dropped@riverside.example"] == 1

    await send(mailer, "after@riverside.example")
    await mailer.close()
    assert [m.envelope_to for m in server.sink.messages] == [
        ["before@riverside.example"],
        ["after@riverside.example"],
    ]


@pytest.mark.parametrize(
    ("where", "reply", "error", "expected_text"),
    [
        ("rcpt", "550 5.1.1 No such user", PermanentDeliveryError, "recipient refused: 550"),
        ("rcpt", "450 4.2.1 Mailbox busy", TemporaryDeliveryError, "recipient refused: 450"),
        ("data", "554 5.6.0 Rejected", PermanentDeliveryError, "SMTPDataError: 554"),
        ("data", "451 4.3.0 Try later", TemporaryDeliveryError, "SMTPDataError: 451"),
    ],
)
async def test_refusals_on_a_kept_session_are_classified_as_before(
    server: Server,
    where: str,
    reply: str,
    error: type[Exception],
    expected_text: str,
) -> None:
    refused = "refused@riverside.example"
    replies = server.sink.rcpt_replies if where == "rcpt" else server.sink.data_replies
    replies[refused] = reply
    mailer = mailer_for(server)
    await send(mailer, "before@riverside.example")

    with pytest.raises(error) as raised:
        await send(mailer, refused)
    assert str(raised.value).startswith(expected_text)
    assert refused not in str(raised.value)
    # A refusal was not a broken session: nothing is sent again behind the worker's back.
    assert server.sink.data_seen[refused] == (1 if where == "data" else 0)

    await send(mailer, "after@riverside.example")
    await mailer.close()
    assert [m.envelope_to for m in server.sink.messages] == [
        ["before@riverside.example"],
        ["after@riverside.example"],
    ]


async def test_an_address_that_needs_smtputf8_fails_for_good_and_the_session_goes_on(
    server: Server,
) -> None:
    mailer = mailer_for(server)
    with pytest.raises(PermanentDeliveryError) as raised:
        await send(mailer, "jos\u00e9@riverside.example")
    assert "riverside.example" not in str(raised.value)
    await send(mailer, "after@riverside.example")
    await mailer.close()
    assert [m.envelope_to for m in server.sink.messages] == [["after@riverside.example"]]


async def test_an_idle_session_is_ended_and_the_next_email_opens_another(
    server: Server,
) -> None:
    mailer = mailer_for(server, idle_seconds=0.2)
    await send(mailer, "first@riverside.example")

    async def quit_seen() -> bool:
        return server.sink.quits == 1

    await eventually(quit_seen, within=10)
    await send(mailer, "second@riverside.example")
    await mailer.close()

    assert len(server.sink.messages) == 2
    assert len(set(server.sink.peers)) == 2
    assert server.sink.quits == 2


async def test_the_service_ends_its_smtp_session_when_it_stops(
    server: Server, notifications: ServiceFactory, publish: Publisher
) -> None:
    async with notifications(smtp_port=server.sink.port) as service:
        await service.subscribe("ward@riverside.example")
        await publish(approved())
        await server.sink.wait_for("ward@riverside.example", timeout=45)
    # Ended by the shutdown (which waits for the answer to QUIT), or earlier when idle.
    assert server.sink.quits == 1


async def test_the_service_sends_over_its_smtp_sessions_at_once_each_email_once(
    server: Server, notifications: ServiceFactory, publish: Publisher
) -> None:
    """`smtp_sessions` lanes send side by side (a fan-out is not one long queue), each over
    its own kept session, and no recipient gets a second copy."""
    recipients = [f"ward{i}@riverside.example" for i in range(40)]
    async with notifications(smtp_port=server.sink.port, smtp_sessions=3) as service:
        for recipient in recipients:
            await service.subscribe(recipient)
        await publish(approved())
        for recipient in recipients:
            await server.sink.wait_for(recipient, timeout=60)
    sink = server.sink
    delivered = Counter(r for m in sink.messages for r in m.envelope_to)
    assert delivered == Counter(recipients)
    # Every session was used, and none beyond the three (a session is one client address).
    assert len(set(sink.peers)) == 3
