"""Subscriptions over HTTP: staff manage their own organisation's, operators any."""

from __future__ import annotations

import uuid

import pytest

from candour_common.auth import Role
from tests.infra import MailSink
from tests.integration.notifications.conftest import (
    MATERNITY,
    ORG_A,
    Publisher,
    ServiceFactory,
    auth,
    learn_directory,
)

pytestmark = pytest.mark.integration

BODY = {
    "email": "ward@riverside.example",
    "organisation_id": "RXA",
    "service_ids": ["RXA-MAT"],
    "tags": ["waiting times"],
    "min_criticality": 2,
    "frequency": "immediate",
    "kind": "stories",
}


async def test_subscriptions_are_scoped_to_the_callers_organisation(
    notifications: ServiceFactory, smtp_server: MailSink, publish: Publisher
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        # Staff may name only a service stories have named (RXA-MAT).
        await learn_directory(service, publish, ORG_A, [MATERNITY])
        client = service.client

        missing = await client.post("/v1/subscriptions", json=BODY)
        assert missing.status_code == 401
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert missing.headers["www-authenticate"] == "Bearer"
        garbage = await client.get("/v1/subscriptions", headers={"Authorization": "Bearer x.y.z"})
        assert garbage.status_code == 401
        moderator = await client.get(
            "/v1/subscriptions", headers=auth(Role.MODERATOR, organisation_id=None)
        )
        assert moderator.status_code == 403

        created = await client.post("/v1/subscriptions", json=BODY, headers=auth())
        assert created.status_code == 201, created.text
        subscription = created.json()
        assert subscription["email"] == BODY["email"]
        assert subscription["service_ids"] == ["RXA-MAT"]
        assert subscription["min_criticality"] == 2
        uuid.UUID(subscription["id"])

        other_staff = auth(Role.STAFF, "RXB")
        assert (
            await client.post("/v1/subscriptions", json=BODY, headers=other_staff)
        ).status_code == 403
        assert (
            await client.get("/v1/subscriptions?organisation_id=RXA", headers=other_staff)
        ).status_code == 403
        assert (
            await client.delete(f"/v1/subscriptions/{subscription['id']}", headers=other_staff)
        ).status_code == 403
        # Their own list does not show another organisation's subscriptions.
        own = await client.get("/v1/subscriptions", headers=other_staff)
        assert own.status_code == 200
        assert own.json() == []

        listed = await client.get("/v1/subscriptions?organisation_id=RXA", headers=auth())
        assert [s["id"] for s in listed.json()] == [subscription["id"]]
        everything = await client.get("/v1/subscriptions", headers=auth(Role.OPERATOR, None))
        assert [s["id"] for s in everything.json()] == [subscription["id"]]

        deleted = await client.delete(f"/v1/subscriptions/{subscription['id']}", headers=auth())
        assert deleted.status_code == 204
        gone = await client.delete(f"/v1/subscriptions/{subscription['id']}", headers=auth())
        assert gone.status_code == 404
        assert (await client.get("/v1/subscriptions", headers=auth())).json() == []


BAD_INPUT = [
    ({"min_criticality": 7}, "body.min_criticality"),
    ({"email": "not-an-address"}, "body.email"),
    ({"frequency": "hourly"}, "body.frequency"),
    ({"kind": "everything"}, "body.kind"),
    ({"organisation_id": ""}, "body.organisation_id"),
    ({"unexpected": 1}, "body.unexpected"),
    ({"kind": "safeguarding", "frequency": "daily", "tags": []}, "body"),
]


async def test_bad_input_is_a_problem_naming_the_field(
    notifications: ServiceFactory, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        for change, field in BAD_INPUT:
            answer = await service.client.post(
                "/v1/subscriptions", json={**BODY, **change}, headers=auth()
            )
            assert answer.status_code == 422, change
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert field in [e["field"] for e in answer.json()["errors"]], answer.json()
        malformed = await service.client.post(
            "/v1/subscriptions",
            content=b"{not json",
            headers={**auth(), "Content-Type": "application/json"},
        )
        assert malformed.status_code == 400
        bad_id = await service.client.delete("/v1/subscriptions/not-a-uuid", headers=auth())
        assert bad_id.status_code == 422
