from __future__ import annotations

import uuid

import pytest

from candour_notifications.domain import (
    InvalidAcknowledgementToken,
    InvalidUnsubscribeToken,
    UnsubscribeScope,
    UnsubscribeTarget,
    sign_acknowledgement,
    sign_confirmation,
    sign_unsubscribe,
    verify_acknowledgement,
    verify_unsubscribe,
)

pytestmark = pytest.mark.unit

SECRET = "test-secret"


@pytest.mark.parametrize("scope", list(UnsubscribeScope))
def test_a_signed_token_verifies_to_its_target(scope: UnsubscribeScope) -> None:
    target = UnsubscribeTarget(scope, uuid.uuid4())
    token = sign_unsubscribe(SECRET, target)
    assert verify_unsubscribe(SECRET, token) == target
    assert "@" not in token


def test_a_token_for_another_id_or_secret_is_refused() -> None:
    target = UnsubscribeTarget(UnsubscribeScope.SUBSCRIPTION, uuid.uuid4())
    token = sign_unsubscribe(SECRET, target)
    scope, _, signature = token.split(".")
    forged = f"{scope}.{uuid.uuid4().hex}.{signature}"
    with pytest.raises(InvalidUnsubscribeToken):
        verify_unsubscribe(SECRET, forged)
    with pytest.raises(InvalidUnsubscribeToken):
        verify_unsubscribe("another-secret", token)
    # The same id in the other scope is another target: its signature differs.
    with pytest.raises(InvalidUnsubscribeToken):
        verify_unsubscribe(SECRET, "a" + token[1:])


@pytest.mark.parametrize("token", ["", "nonsense", "s.123.abc", "x" * 200])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidUnsubscribeToken):
        verify_unsubscribe(SECRET, token)


def test_acknowledgement_links_are_signed_per_delivery_and_in_their_own_domain() -> None:
    delivery_id = uuid.uuid4()
    token = sign_acknowledgement("k" * 40, delivery_id)
    assert verify_acknowledgement("k" * 40, token) == delivery_id
    with pytest.raises(InvalidAcknowledgementToken):
        verify_acknowledgement("x" * 40, token)
    # A confirmation token for the same id is not an acknowledgement.
    with pytest.raises(InvalidAcknowledgementToken):
        verify_acknowledgement("k" * 40, sign_confirmation("k" * 40, delivery_id))
    with pytest.raises(InvalidAcknowledgementToken):
        verify_acknowledgement("k" * 40, "not-a-token")
