"""Double opt-in: an address a staff member subscribes outside their organisation's own
mail domains gets nothing but a confirmation email until its owner confirms from the
link; addresses in those domains, and every subscription an operator makes, need no
confirmation. An operator keeps each organisation's mail domains.

Real Kafka, PostgreSQL and SMTP: the alerts are owed by the story.approved consumer and
sent by the delivery worker, as in production.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest

from candour_common.auth import Role
from tests.infra import MailSink
from tests.integration.notifications.conftest import (
    Publisher,
    ServiceFactory,
    approved,
    auth,
    eventually,
)

pytestmark = pytest.mark.integration

COLLEAGUE = "colleague@mail.riverside.nhs.example"  # a subdomain of the trust's domain
OUTSIDER = "someone@webmail.example"  # a staff member's choice, outside the trust
OPERATOR_PICK = "board@elsewhere.example"  # an operator's choice: trusted as it is
LINK = re.compile(r"https?://\S+/v1/subscriptions/confirm\?token=[\w.-]+")


def subscription(email: str) -> dict[str, object]:
    return {"email": email, "organisation_id": "RXA", "frequency": "immediate", "kind": "stories"}


async def test_staff_subscriptions_outside_the_trust_wait_for_their_owner(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        client = service.client
        refused = await client.put(
            "/v1/organisations/RXA/mail-domains",
            json={"domains": ["riverside.nhs.example"]},
            headers=auth(Role.STAFF, "RXA"),
        )
        assert refused.status_code == 403
        domains = await client.put(
            "/v1/organisations/RXA/mail-domains",
            json={"domains": ["Riverside.NHS.example"]},
            headers=auth(Role.OPERATOR, None),
        )
        assert domains.status_code == 200, domains.text
        assert domains.json() == {"organisation_id": "RXA", "domains": ["riverside.nhs.example"]}
        seen = await client.get("/v1/organisations/RXA/mail-domains", headers=auth())
        assert seen.json()["domains"] == ["riverside.nhs.example"]

        made = {}
        for email, who in (
            (COLLEAGUE, auth()),
            (OUTSIDER, auth()),
            (OPERATOR_PICK, auth(Role.OPERATOR, None)),
        ):
            answer = await client.post("/v1/subscriptions", json=subscription(email), headers=who)
            assert answer.status_code == 201, answer.text
            made[email] = answer.json()
        assert {e: s["confirmed"] for e, s in made.items()} == {
            COLLEAGUE: True,
            OUTSIDER: False,
            OPERATOR_PICK: True,
        }

        # The outsider gets one email: the request to confirm, with the link.
        [request] = await smtp_server.wait_for(OUTSIDER)
        assert "Confirm" in request.subject
        [link] = {unescape(found) for found in LINK.findall(request.text())}

        await publish(approved(title="First story"))
        await smtp_server.wait_for(COLLEAGUE)
        await smtp_server.wait_for(OPERATOR_PICK)
        await eventually(lambda: _settled(service))
        assert [m.subject for m in smtp_server.to(OUTSIDER)] == [request.subject]

        path = urlsplit(link)
        target = f"{path.path}?{path.query}"
        forged = await client.post(target[:-3] + "abc")
        assert forged.status_code == 400
        assert forged.headers["content-type"].startswith("application/problem+json")
        page = await client.get(target)  # a link scanner's GET confirms nothing
        assert page.status_code == 200 and "Yes, send me these emails" in page.text
        listed = await client.get("/v1/subscriptions", headers=auth())
        assert {s["email"]: s["confirmed"] for s in listed.json()}[OUTSIDER] is False

        confirmed = await client.post(target)
        assert confirmed.status_code == 200 and "you are subscribed" in confirmed.text
        again = await client.post(target)
        assert "Nothing to confirm" in again.text

        await publish(approved(title="Second story"))
        mails = await smtp_server.wait_for(OUTSIDER, count=2)
        assert "Second story" in mails[-1].text()
        assert not any("First story" in m.text() for m in mails)


async def _settled(service: object) -> bool:
    rows = await service.fetch(  # type: ignore[attr-defined]
        "SELECT count(*) AS n FROM deliveries WHERE status IN ('pending', 'sending')"
    )
    return bool(rows[0]["n"] == 0)


async def test_a_request_nobody_confirms_lapses_with_its_email(
    notifications: ServiceFactory, smtp_server: MailSink
) -> None:
    async with notifications(
        smtp_port=smtp_server.port, retention_interval_seconds=0.3, subscription_confirmation_days=7
    ) as service:
        answer = await service.client.post(
            "/v1/subscriptions", json=subscription(OUTSIDER), headers=auth()
        )
        assert answer.status_code == 201 and answer.json()["confirmed"] is False
        await smtp_server.wait_for(OUTSIDER)
        kept = await service.client.post(
            "/v1/subscriptions", json=subscription(COLLEAGUE), headers=auth(Role.OPERATOR, None)
        )
        assert kept.status_code == 201
        # As if a week and a day had passed.
        await service.fetch("UPDATE subscriptions SET created_at = now() - interval '8 days'")
        await service.fetch("UPDATE deliveries SET created_at = now() - interval '8 days'")

        async def lapsed() -> bool:
            subscriptions = await service.fetch("SELECT email FROM subscriptions")
            deliveries = await service.fetch("SELECT recipient FROM deliveries")
            return [r["email"] for r in subscriptions] == [COLLEAGUE] and not deliveries

        await eventually(lapsed)
