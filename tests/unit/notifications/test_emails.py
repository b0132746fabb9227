from __future__ import annotations

import email.policy
import uuid
from email import message_from_bytes
from email.message import EmailMessage

import aiosmtplib
import pytest

from candour_notifications.adapters.mailer import (
    PermanentDeliveryError,
    TemporaryDeliveryError,
    classify,
    envelope_addresses,
    to_wire,
)
from candour_notifications.adapters.templates import render_email
from candour_notifications.domain import SAFEGUARDING_KINDS, Delivery, DeliveryKind
from candour_notifications.service_layer.delivery import MailPolicy, Outcome, attempt, build_message

pytestmark = pytest.mark.unit

STORY_CONTEXT: dict[str, object] = {
    "story_id": str(uuid.uuid4()),
    "title": "Night <b>shift</b> & me",
    "body": 'They were kind.\n<script>alert("x")</script>\n<a href="http://evil">click</a>',
    "organisation_name": "Royal <Test> Trust",
    "service_name": "Cardiology",
    "criticality_label": "moderately critical",
    "author_name": "Sam",
    "author_relationship": "patient",
    "tags": ["kind staff", "<i>waiting</i>"],
    "story_url": "http://search.test/v1/stories/1",
    "published_at": "2025-01-01T00:00:00+00:00",
}

SAFEGUARDING_CONTEXT: dict[str, object] = {
    "escalation_id": str(uuid.uuid4()),
    "story_id": str(uuid.uuid4()),
    "organisation_name": "Royal <Test> Trust",
    "service_name": "Cardiology",
    "raised_at": "2025-03-04T09:16:00+00:00",
    "trigger": "screening",
    "raised_by": "screening",
    "note": None,
    "status": "pending",
    "submitted_at": "2025-03-04T09:15:00+00:00",
    "title": "Nobody <b>listened</b>",
    "body": 'I have been saving my tablets.\n<script>alert("x")</script>',
    "author_name": "Sam",
    "author_relationship": "patient",
    "author_email": None,
    "level": "serious",
    "matches": [
        {
            "field": "body",
            "text": "saving my tablets",
            "category": "suicide",
            "category_label": "suicide",
            "level": "serious",
            "reason": "means",
        }
    ],
    "to_duty_moderators": False,
    "duty_contact": "Candour duty moderator, 0300 000 0000",
    "duty_moderators": ["duty@candour.example"],
    "ack_timeout_minutes": 60,
    "alerted_to": ["lead@trust.example"],
    "alerted_at": "2025-03-04T09:16:05+00:00",
}

POLICY = MailPolicy(
    secret="s3cret",
    mail_from="Candour <alerts@candour.example>",
    unsubscribe_base_url="http://notify.test/",
    max_attempts=3,
    backoff_base=10,
    backoff_max=100,
)


def story_delivery(**overrides: object) -> Delivery:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "event_id": uuid.uuid4(),
        "story_id": uuid.uuid4(),
        "kind": DeliveryKind.STORY_ALERT,
        "recipient": "ward@example.org",
        "context": STORY_CONTEXT,
        "subscription_id": uuid.uuid4(),
        "attempts": 1,
    }
    values.update(overrides)
    return Delivery(**values)  # type: ignore[arg-type]


def test_story_markup_is_escaped_in_html_and_verbatim_in_text() -> None:
    email = render_email(
        DeliveryKind.STORY_ALERT, STORY_CONTEXT, unsubscribe_url="http://u/?a=1&b=2"
    )
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in email.html
    assert '<a href="http://evil">' not in email.html
    assert "Night &lt;b&gt;shift&lt;/b&gt; &amp; me" in email.html
    assert "Royal &lt;Test&gt; Trust" in email.html
    assert "&lt;i&gt;waiting&lt;/i&gt;" in email.html
    assert 'href="http://u/?a=1&amp;b=2"' in email.html
    assert '<a href="http://search.test/v1/stories/1"' in email.html
    # Plain text shows what the person wrote; a mail reader never interprets it.
    assert '<script>alert("x")</script>' in email.text
    assert "http://search.test/v1/stories/1" in email.text


def test_subject_names_organisation_service_and_criticality() -> None:
    email = render_email(DeliveryKind.STORY_ALERT, STORY_CONTEXT, unsubscribe_url="u")
    assert email.subject == "New story about Cardiology, Royal <Test> Trust (moderately critical)"


def test_subject_cannot_carry_extra_headers() -> None:
    context = {**STORY_CONTEXT, "organisation_name": "Trust\r\nBcc: victim@example.org"}
    email = render_email(DeliveryKind.STORY_ALERT, context, unsubscribe_url="u")
    assert "\n" not in email.subject
    assert "\r" not in email.subject


@pytest.mark.parametrize("kind", list(DeliveryKind))
def test_every_kind_renders(kind: DeliveryKind) -> None:
    context = {
        **STORY_CONTEXT,
        "story_title": None,
        "responder_name": "Dr <Lee>",
        "responder_role": "Matron",
        "change": "planned",
        "rejected_at": "2025-01-01T00:00:00+00:00",
        "organisation_id": "RXA",
        "what": "emails about new stories for organisation RXA",
        "follow_url": "http://intake.test/follow?story=1",
        "reason": "offensive",
    }
    if kind in (DeliveryKind.STORY_DIGEST, DeliveryKind.RESPONSE_DIGEST):
        # A digest lists items, each with what the single email of its kind shows.
        context = {
            "digest_date": "2025-01-14",
            "organisation_name": "Royal <Test> Trust",
            "items": [context, context],
        }
    if kind in SAFEGUARDING_KINDS:
        # Operational: no unsubscribe link at all, an acknowledgement link instead.
        email = render_email(
            kind, SAFEGUARDING_CONTEXT, unsubscribe_url=None, acknowledge_url="http://ack"
        )
        assert "http://ack" in email.text
        assert "http://ack" in email.html
        assert "unsubscribe" not in email.html.lower().replace("cannot be unsubscribed", "")
    else:
        email = render_email(kind, context, unsubscribe_url="http://u")
        assert "http://u" in email.text
    assert email.subject
    assert "<script>" not in email.html
    assert email.urgent is (kind in SAFEGUARDING_KINDS)


def test_message_has_one_click_unsubscribe_headers_and_both_parts() -> None:
    delivery = story_delivery()
    message = build_message(delivery, POLICY)
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith("<http://notify.test/v1/unsubscribe?token=s.")
    assert unsubscribe.endswith(">")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["To"] == "ward@example.org"
    assert message["Message-ID"] == f"<{delivery.id}@candour.example>"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


def test_author_email_unsubscribes_from_the_story_not_a_subscription() -> None:
    delivery = story_delivery(
        kind=DeliveryKind.AUTHOR_RESPONSE,
        subscription_id=None,
        context={
            **STORY_CONTEXT,
            "story_title": "t",
            "responder_name": "r",
            "responder_role": "m",
            "change": None,
        },
    )
    assert "token=a." in build_message(delivery, POLICY)["List-Unsubscribe"]


class FakeMailer:
    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)


async def test_attempt_sends() -> None:
    mailer = FakeMailer()
    result = await attempt(story_delivery(), mailer, POLICY)
    assert result.outcome is Outcome.SENT
    assert len(mailer.sent) == 1


async def test_temporary_failure_retries_with_backoff_until_attempts_run_out() -> None:
    failure = TemporaryDeliveryError("451 try later")
    first = await attempt(story_delivery(attempts=1), FakeMailer(failure), POLICY)
    assert (first.outcome, first.retry_in) == (Outcome.RETRY, 10)
    second = await attempt(story_delivery(attempts=2), FakeMailer(failure), POLICY)
    assert (second.outcome, second.retry_in) == (Outcome.RETRY, 20)
    last = await attempt(story_delivery(attempts=3), FakeMailer(failure), POLICY)
    assert last.outcome is Outcome.FAILED
    assert last.error == "451 try later"


async def test_permanent_failure_fails_at_once() -> None:
    result = await attempt(
        story_delivery(attempts=1), FakeMailer(PermanentDeliveryError("550 no")), POLICY
    )
    assert result.outcome is Outcome.FAILED


async def test_broken_context_fails_without_sending() -> None:
    mailer = FakeMailer()
    result = await attempt(story_delivery(context={}), mailer, POLICY)
    assert result.outcome is Outcome.FAILED
    assert mailer.sent == []


@pytest.mark.parametrize(
    ("error", "temporary"),
    [
        (aiosmtplib.SMTPDataError(451, "try again later"), True),
        (aiosmtplib.SMTPDataError(554, "rejected"), False),
        (aiosmtplib.SMTPSenderRefused(421, "busy", "alerts@candour.example"), True),
        (aiosmtplib.SMTPConnectError("connection refused"), True),
        (aiosmtplib.SMTPServerDisconnected("gone"), True),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(450, "mailbox busy", "a@example.org")]
            ),
            True,
        ),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@example.org")]
            ),
            False,
        ),
    ],
)
def test_classify_smtp_errors(error: Exception, temporary: bool) -> None:
    assert classify(error).temporary is temporary


def test_classified_errors_never_carry_addresses() -> None:
    error = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "<nurse@trust.nhs.uk> unknown", "nurse@trust.nhs.uk")]
    )
    assert "nurse@trust.nhs.uk" not in str(classify(error))


def test_wire_form_keeps_the_unsubscribe_url_readable() -> None:
    delivery = story_delivery(
        context={**STORY_CONTEXT, "organisation_name": "Ysbyty Gwynedd — Cardiología"}
    )
    message = build_message(delivery, POLICY)
    wire = to_wire(message)
    wire.decode("ascii")  # 7-bit clean: any relay accepts it
    url = message["List-Unsubscribe"]
    assert f"List-Unsubscribe: {url}\r\n".encode() in wire
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in wire
    parsed = message_from_bytes(wire, policy=email.policy.default)
    assert "Cardiología" in str(parsed["Subject"])
    assert envelope_addresses(message) == ("alerts@candour.example", ["ward@example.org"])
