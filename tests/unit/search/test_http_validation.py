"""Bad query parameters get 422 problem+json naming them, before any database work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest

from candour_search.bootstrap import create_app
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
        ({"limit": "0"}, "query.limit"),
        ({"limit": "101"}, "query.limit"),
        ({"limit": "ten"}, "query.limit"),
        ({"min_criticality": "6"}, "query.min_criticality"),
        ({"max_criticality": "-1"}, "query.max_criticality"),
        ({"min_criticality": "4", "max_criticality": "1"}, "query.min_criticality"),
        ({"responded": "perhaps"}, "query.responded"),
        ({"sort": "oldest"}, "query.sort"),
        ({"change": "maybe"}, "query.change"),
        ({"published_from": "last week"}, "query.published_from"),
        ({"published_from": "2025-02-01", "published_to": "2025-01-01"}, "query.published_from"),
        ({"cursor": "garbage"}, "query.cursor"),
        ({"organisation_id": ""}, "query.organisation_id"),
        ({"q": "x" * 501}, "query.q"),
        ({"q": "nurse\x00"}, "query.q"),
        ({"tag": "kind\x00"}, "query.tag"),
        ({"language": "fr"}, "query.language"),
        ({"language": "Welsh"}, "query.language"),
        ({"language": ""}, "query.language"),
    ],
)
async def test_invalid_search_parameters(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await client.get("/v1/search", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]]


async def test_story_id_must_be_a_uuid(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/stories/not-a-uuid")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["path.story_id"]


async def test_openapi_documents_the_public_api(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert {"/v1/search", "/v1/stories/{story_id}"} <= set(spec["paths"])
    names = {p["name"] for p in spec["paths"]["/v1/search"]["get"]["parameters"]}
    assert {
        "q",
        "organisation_id",
        "service_id",
        "tag",
        "min_criticality",
        "max_criticality",
        "responded",
        "sort",
        "limit",
        "cursor",
    } <= names
