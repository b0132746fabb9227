"""The rate limiter's sliding-window estimate and its Retry-After, without a database
(the counting itself is proved against PostgreSQL in tests/security/test_rate_limits.py)."""

from __future__ import annotations

import pytest

from candour_common.http.limits import retry_after, retry_after_header, sliding_count

pytestmark = pytest.mark.unit


def test_the_estimate_slides_the_previous_window_out() -> None:
    assert sliding_count(previous=10, current=2, elapsed=0.0) == 12
    assert sliding_count(previous=10, current=2, elapsed=0.25) == pytest.approx(9.5)
    assert sliding_count(previous=10, current=2, elapsed=1.0) == 2


@pytest.mark.parametrize(
    ("previous", "current", "elapsed"),
    [(0, 3, 0.5), (3, 0, 0.1), (3, 2, 0.4), (6, 3, 0.0), (2, 3, 0.99)],
)
def test_after_the_wait_exactly_one_more_fits(previous: int, current: int, elapsed: float) -> None:
    limit, window = 3, 60.0
    assert sliding_count(previous, current, elapsed) + 1 > limit  # refused now
    wait = retry_after(previous, current, elapsed, limit, window)
    assert wait > 0
    later = elapsed + wait / window
    if later < 1:  # still in this window
        then = sliding_count(previous, current, later)
    else:  # in the next one: this window is now the previous one
        then = sliding_count(current, 0, later - 1)
    assert then + 1 == pytest.approx(limit) or then + 1 < limit
    # A little earlier it would not have fitted.
    earlier = elapsed + (wait - 1.0) / window
    before = (
        sliding_count(previous, current, earlier)
        if earlier < 1
        else sliding_count(current, 0, earlier - 1)
    )
    assert before + 1 > limit


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert retry_after_header(0.2) == {"Retry-After": "1"}
    assert retry_after_header(59.1) == {"Retry-After": "60"}
