from datetime import UTC, datetime, timedelta

import jwt
import pytest

from candour_common.auth import InvalidToken, Role, issue_token, verify_token

pytestmark = pytest.mark.unit
SECRET = "s3cret-for-tests-only-0123456789abcdef"


def test_staff_token_round_trip() -> None:
    token = issue_token(SECRET, role=Role.STAFF, subject="ann", organisation_id="TAD")
    principal = verify_token(SECRET, token)
    assert (principal.role, principal.organisation_id, principal.subject) == (
        Role.STAFF,
        "TAD",
        "ann",
    )


def test_staff_needs_an_organisation() -> None:
    with pytest.raises(ValueError, match="organisation"):
        issue_token(SECRET, role=Role.STAFF, subject="ann")


def test_expired_token_is_refused() -> None:
    old = datetime.now(UTC) - timedelta(days=2)
    token = issue_token(SECRET, role=Role.MODERATOR, subject="m", ttl=timedelta(days=1), now=old)
    with pytest.raises(InvalidToken):
        verify_token(SECRET, token)


def test_other_key_and_alg_none_are_refused() -> None:
    other = issue_token("another-key-entirely-0123456789abcdef", role=Role.OPERATOR, subject="o")
    with pytest.raises(InvalidToken):
        verify_token(SECRET, other)
    unsigned = jwt.encode(
        {"iss": "candour", "sub": "o", "role": "operator", "iat": 0, "exp": 2**31},
        key=None,
        algorithm="none",
    )
    with pytest.raises(InvalidToken):
        verify_token(SECRET, unsigned)
