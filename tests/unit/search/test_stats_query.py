"""GET /v1/stats: bad parameters get 422 problem+json naming them, before any database work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from types import SimpleNamespace

import httpx
import pytest

from candour_search.bootstrap import create_app
from candour_search.domain import InvalidQuery, StoryStats, StoryStatsQuery, month_label
from candour_search.service_layer.unit_of_work import PostgresSearchUnitOfWork
from candour_search.settings import SearchSettings

pytestmark = pytest.mark.unit


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SearchSettings(jwt_secret="search-unit-tests-secret-0123456789abcdef"))
    # Not started (no lifespan): a unit of work without a pool would fail if opened (a
    # 500), so a 422 proves no query ran.
    app.state.platform = SimpleNamespace(
        pool=None, unit_of_work=lambda: PostgresSearchUnitOfWork(None, service="search")
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://search") as c:
        yield c


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "week"}, "query.group_by"),
        ({"from": "last week"}, "query.from"),
        ({"to": "2025-13-01"}, "query.to"),
        ({"from": "2025-02-01", "to": "2025-01-01"}, "query.from"),
        ({"organisation_id": ""}, "query.organisation_id"),
        ({"service_id": "x" * 41}, "query.service_id"),
        ({"organisation_id": "RX\x00A"}, "query.organisation_id"),
    ],
)
async def test_invalid_statistics_parameters(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    answer = await client.get("/v1/stats", params=params)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in answer.json()["errors"]]


async def test_openapi_documents_statistics(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    names = {p["name"] for p in spec["paths"]["/v1/stats"]["get"]["parameters"]}
    assert names == {"organisation_id", "service_id", "from", "to", "group_by"}


def test_dates_are_inclusive_utc_days() -> None:
    query = StoryStatsQuery(published_from=date(2025, 6, 1), published_to=date(2025, 6, 30))
    assert query.published_since is not None and query.published_since.isoformat() == (
        "2025-06-01T00:00:00+00:00"
    )
    assert query.published_before is not None and query.published_before.isoformat() == (
        "2025-07-01T00:00:00+00:00"
    )
    with pytest.raises(InvalidQuery) as refused:
        StoryStatsQuery(published_from=date(2025, 7, 1), published_to=date(2025, 6, 1))
    assert refused.value.parameter == "from"


def test_share_and_labels() -> None:
    assert StoryStats(4, 3, 4.0, 1, 1).responded_share == 0.75
    assert StoryStats(0, 0, None, 0, 0).responded_share is None
    assert month_label("2025-06") == "June 2025"
