"""The emails' wire form equals what the stdlib's `EmailMessage` (default policy, flattened
with the SMTP policy at 998 characters) writes for the same email: the same header lines
byte for byte, the same parts, the same decoded text. It is composed without the stdlib's
header parsing, which was most of the CPU an email cost.
"""

from __future__ import annotations

import email.policy
import email.utils
import re
import uuid
from email import message_from_bytes
from email.message import EmailMessage

import pytest

from candour_notifications.adapters.mailer import envelope_addresses, to_wire
from candour_notifications.adapters.mime import MAX_LINE_LENGTH
from candour_notifications.adapters.templates import render_email
from candour_notifications.domain import Delivery, DeliveryKind
from candour_notifications.service_layer.delivery import MailPolicy, build_message

pytestmark = pytest.mark.unit

STDLIB_WIRE = email.policy.SMTP.clone(max_line_length=MAX_LINE_LENGTH)

CONTEXT: dict[str, object] = {
    "story_id": "11815f3b-0228-4db2-a6fe-e4066a9bfc4f",
    "title": "Night <b>shift</b> & me",
    "body": "They were kind.\n<script>alert('x')</script>",
    "organisation_name": "Royal <Test> Trust",
    "service_name": "Cardiology",
    "criticality_label": "moderately critical",
    "author_name": "Sam",
    "author_relationship": "patient",
    "tags": ["kind staff"],
    "story_url": "http://search.test/v1/stories/1",
    "published_at": "2025-01-01T00:00:00+00:00",
    "story_title": None,
    "responder_name": "Dr <Lee>",
    "responder_role": "Matron",
    "change": "planned",
    "rejected_at": "2025-01-01T00:00:00+00:00",
    # A subscription's confirmation email (double opt-in).
    "organisation_id": "RXA",
    "what": "emails about new stories for organisation RXA",
    "follow_url": "http://intake.test/follow?story=1",
    "reason": "too_old",
    # A safeguarding alert (and its re-alert).
    "escalation_id": "5b0e4a51-8f55-4d3c-9d0c-2f0b7e5d9c11",
    "raised_at": "2025-01-01T09:00:00+00:00",
    "trigger": "moderator",
    "raised_by": "moderator-1",
    "note": "Please call — tonight",
    "status": "pending",
    "submitted_at": "2025-01-01T08:00:00+00:00",
    "level": "serious",
    "matches": [
        {
            "field": "body",
            "text": "kill myself",
            "category": "suicide",
            "category_label": "suicide",
            "level": "serious",
            "reason": "intent",
        }
    ],
    "author_email": "sam@example.org",
    "to_duty_moderators": False,
    "duty_contact": "Duty moderator, 0300 000 0000",
    "duty_moderators": ["duty@candour.example"],
    "ack_timeout_minutes": 60,
    "alerted_to": ["lead@trust.example"],
    "alerted_at": "2025-01-01T09:00:05+00:00",
}
AWKWARD_BODY = (
    "From here\n.\n. dot\nlong " + "x" * 100 + " trailing   \n=eq\ttab\t\n"
    "crlf\r\nlone cr\rform\x0cfeed\x0bvt\u2028ls\x85nel\nemoji 😀 é ß —\n"
    + "ü" * 80
    + "\n"
    + "=" * 90
    + "\n\n\n\ttab start\n end"
)
POLICY = MailPolicy(
    secret="s3cret",
    mail_from="Candour <alerts@candour.example>",
    unsubscribe_base_url="http://notify.test/",
    max_attempts=3,
    backoff_base=10,
    backoff_max=100,
)


def delivery(kind: DeliveryKind, context: dict[str, object], **overrides: object) -> Delivery:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "event_id": uuid.uuid4(),
        "story_id": uuid.uuid4(),
        "kind": kind,
        "recipient": "ward@example.org",
        "context": context,
        "subscription_id": uuid.uuid4(),
        "attempts": 1,
    }
    values.update(overrides)
    return Delivery(**values)  # type: ignore[arg-type]


def stdlib_message(delivery: Delivery, policy: MailPolicy) -> EmailMessage:
    """The same email built the straightforward way, with the stdlib's header registry."""
    url = policy.unsubscribe_url(delivery)
    rendered = render_email(
        delivery.kind,
        delivery.context,
        unsubscribe_url=url,
        confirm_url=policy.confirm_url(delivery),
        acknowledge_url=policy.acknowledge_url(delivery),
    )
    message = EmailMessage()
    message["From"] = policy.mail_from
    message["To"] = delivery.recipient
    message["Subject"] = rendered.subject
    message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    domain = email.utils.parseaddr(policy.mail_from)[1].rpartition("@")[2] or "candour.invalid"
    message["Message-ID"] = f"<{delivery.id}@{domain}>"
    if url is not None:  # safeguarding alerts have none
        message["List-Unsubscribe"] = f"<{url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    if rendered.urgent:
        message["Importance"] = "high"
        message["X-Priority"] = "1 (Highest)"
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return message


def header_block(wire: bytes) -> str:
    head = wire.split(b"\r\n\r\n", 1)[0].decode("ascii")
    # The date itself differs between the two builds; its form must not.
    head = re.sub(r"(?m)^Date: (.*)$", lambda m: "Date: " + _date_form(m[1]), head)
    return re.sub(r'boundary="[^"]+"', 'boundary="(random)"', head)


def _date_form(date: str) -> str:
    return re.sub(r"[A-Z][a-z]{2}", "Xxx", re.sub(r"\d", "0", date))


def parts(wire: bytes) -> list[tuple[str, str | None, str, str]]:
    parsed = message_from_bytes(wire, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return [
        (
            part.get_content_type(),
            part.get_content_charset(),
            str(part["Content-Transfer-Encoding"]),
            part.get_content(),
        )
        for part in parsed.iter_parts()
    ]


DIGEST: dict[str, object] = {
    "digest_date": "2025-01-14",
    "organisation_name": "Royal Trust",
    "items": [CONTEXT, CONTEXT],
}


CASES = {
    **{
        kind.value: (
            delivery(
                kind,
                DIGEST if "digest" in kind.value else CONTEXT,
                subscription_id=None if kind is DeliveryKind.AUTHOR_RESPONSE else uuid.uuid4(),
            ),
            POLICY,
        )
        for kind in DeliveryKind
    },
    "non-ASCII subject and body": (
        delivery(
            DeliveryKind.SAFEGUARDING_ALERT,
            {**CONTEXT, "organisation_name": "Ysbyty Gwynedd — Cardiología", "body": AWKWARD_BODY},
        ),
        POLICY,
    ),
    "long non-ASCII subject": (
        delivery(DeliveryKind.STORY_ALERT, {**CONTEXT, "organisation_name": "Ysbyty Ŵŷ " * 30}),
        POLICY,
    ),
    "long ASCII subject": (
        delivery(DeliveryKind.STORY_ALERT, {**CONTEXT, "organisation_name": "Riverside " * 40}),
        POLICY,
    ),
    "encoded-word lookalike in the subject": (
        delivery(DeliveryKind.STORY_ALERT, {**CONTEXT, "organisation_name": "=?utf-8?q?hi?= T"}),
        POLICY,
    ),
    "long unsubscribe URL": (
        delivery(DeliveryKind.STORY_ALERT, CONTEXT),
        MailPolicy(
            secret="s",
            mail_from="alerts@candour.example",
            unsubscribe_base_url="https://notifications.example.org/" + "p" * 400,
            max_attempts=1,
            backoff_base=1,
            backoff_max=1,
        ),
    ),
    "non-ASCII sender name": (
        delivery(DeliveryKind.STORY_ALERT, CONTEXT),
        MailPolicy(
            secret="s",
            mail_from='"Cândour, NHS" <alerts@candour.example>',
            unsubscribe_base_url="http://n",
            max_attempts=1,
            backoff_base=1,
            backoff_max=1,
        ),
    ),
    "recipient with a plus": (
        delivery(DeliveryKind.STORY_ALERT, CONTEXT, recipient="first.last+tag@sub.example.co.uk"),
        POLICY,
    ),
    "quoted recipient": (
        delivery(DeliveryKind.STORY_ALERT, CONTEXT, recipient='"odd person"@example.org'),
        POLICY,
    ),
}


@pytest.mark.parametrize(("delivery", "policy"), CASES.values(), ids=CASES.keys())
def test_the_wire_form_is_the_stdlib_one(delivery: Delivery, policy: MailPolicy) -> None:
    message = build_message(delivery, policy)
    reference = stdlib_message(delivery, policy)
    wire = to_wire(message)
    expected = reference.as_bytes(policy=STDLIB_WIRE)

    assert header_block(wire) == header_block(expected)
    assert parts(wire) == parts(expected)
    assert envelope_addresses(message) == envelope_addresses(reference)
    # 7-bit, CRLF only, no line over 998 characters, quoted-printable lines of at most 76.
    text = wire.decode("ascii")
    assert text.count("\n") == text.count("\r\n")
    lines = text.split("\r\n")
    assert max(len(line) for line in lines) <= MAX_LINE_LENGTH
    body_lines = text.split("\r\n\r\n", 1)[1].split("\r\n")
    assert max(len(line) for line in body_lines) <= 76
    # The fast writer and the stdlib's generator agree on it byte for byte.
    assert wire == message.as_bytes()


def test_headers_read_back_as_they_were_set() -> None:
    context = {**CONTEXT, "organisation_name": "Ysbyty Gwynedd — Cardiología"}
    message = build_message(delivery(DeliveryKind.SAFEGUARDING_ALERT, context), POLICY)
    assert message["Subject"] == (
        "URGENT: safeguarding concern about Cardiology, Ysbyty Gwynedd — Cardiología"
    )
    assert message["From"] == "Candour <alerts@candour.example>"
    assert message["Importance"] == "high"
    assert message["X-Priority"] == "1 (Highest)"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


def test_a_header_that_could_carry_another_is_refused_when_the_email_is_built() -> None:
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        build_message(
            delivery(DeliveryKind.STORY_ALERT, CONTEXT, recipient="a@example.org\r\nBcc: b@x"),
            POLICY,
        )


@pytest.mark.parametrize(
    "to",
    [
        "staff@trust.example",
        "a+tag@trust.example",
        "Named Person <named@trust.example>",
        "one@trust.example, two@trust.example",
        '"odd@name" <real@trust.example>',
        "comment@trust.example (a comment)",
    ],
)
def test_the_envelope_recipients_are_the_stdlib_parse_of_to(to: str) -> None:
    """The fast path for a plain address gives what `email.utils.getaddresses` does."""
    message = EmailMessage()
    message["From"] = "Candour <alerts@candour.example>"
    message["To"] = to
    sender, recipients = envelope_addresses(message)
    assert sender == "alerts@candour.example"
    assert recipients == [a for _, a in email.utils.getaddresses([str(message["To"])])]
