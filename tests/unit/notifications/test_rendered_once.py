"""Issue 18, point 5: a story's email is rendered once for all its recipients, and each
recipient's email is exactly what rendering it alone would give (their own links)."""

from __future__ import annotations

import uuid

import pytest

from candour_notifications.adapters.templates import EmailRenderer, render_email
from candour_notifications.domain import SAFEGUARDING_KINDS, DeliveryKind
from candour_notifications.service_layer.delivery import build_message
from tests.unit.notifications.test_emails import (
    POLICY,
    SAFEGUARDING_CONTEXT,
    STORY_CONTEXT,
    story_delivery,
)

pytestmark = pytest.mark.unit


def context_of(kind: DeliveryKind) -> dict[str, object]:
    if kind in SAFEGUARDING_KINDS:
        return SAFEGUARDING_CONTEXT
    single: dict[str, object] = {
        **STORY_CONTEXT,
        "story_title": None,
        "responder_name": "Dr <Lee>",
        "responder_role": "Matron",
        "change": "planned",
        "organisation_id": "RXA",
        "what": "emails about new stories for organisation RXA",
        "follow_url": "http://intake.test/follow?story=1",
        "reason": "too_old",
    }
    if kind in (DeliveryKind.STORY_DIGEST, DeliveryKind.RESPONSE_DIGEST):
        return {"digest_date": "2025-01-14", "organisation_name": "Trust", "items": [single]}
    return single


@pytest.mark.parametrize("language", ["en", "cy", "bilingual"])
@pytest.mark.parametrize("kind", list(DeliveryKind))
def test_each_recipient_gets_what_rendering_alone_gives_with_their_own_links(
    kind: DeliveryKind, language: str
) -> None:
    """In each language (issue #20): a bilingual email has each link twice, both the
    recipient's own."""
    renderer = EmailRenderer()
    context = {**context_of(kind), "language": language}
    # Links with characters HTML escapes, as a real one could have.
    for n in range(3):
        links: dict[str, str | None] = {
            "unsubscribe_url": None if kind in SAFEGUARDING_KINDS else f"http://u/?t={n}&x=<{n}>",
            "acknowledge_url": f"http://ack/?t={n}&y=1" if kind in SAFEGUARDING_KINDS else None,
            "confirm_url": f"http://confirm/?t={n}"
            if kind is DeliveryKind.SUBSCRIPTION_CONFIRMATION
            else None,
        }
        shared = renderer.render(kind, context, **links)
        alone = render_email(kind, context, **links)
        assert shared == alone
    assert renderer.renders == 1


def test_a_thousand_recipients_of_one_story_cost_one_rendering() -> None:
    renderer = EmailRenderer()
    event_id = uuid.uuid4()
    messages = [
        build_message(
            story_delivery(event_id=event_id, recipient=f"r{i}@example.org"), POLICY, renderer
        )
        for i in range(1000)
    ]
    assert renderer.renders == 1
    # Every one carries its own unsubscribe link, never another recipient's.
    links = {m["List-Unsubscribe"] for m in messages}
    assert len(links) == 1000
    for message in messages:
        link = message["List-Unsubscribe"].strip("<>")
        plain = message.get_payload()[0].get_payload(decode=True).decode()  # type: ignore[index, union-attr]
        assert link in plain


def test_a_corrected_context_renders_again() -> None:
    renderer = EmailRenderer()
    kind = DeliveryKind.RESPONSE_ALERT
    first = renderer.render(kind, {**context_of(kind), "body": "First."}, unsubscribe_url="u:1")
    corrected = renderer.render(
        kind, {**context_of(kind), "body": "Corrected."}, unsubscribe_url="u:2"
    )
    assert "First." in first.text
    assert "Corrected." in corrected.text
    assert "First." not in corrected.text
    assert renderer.renders == 2
