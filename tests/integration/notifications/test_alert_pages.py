"""The alerts pages: staff sign in, see and change their organisation's subscriptions."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from candour_common.auth import Role
from candour_common.events import OrganisationRef, ServiceRef
from candour_notifications.domain import UnsubscribeScope, UnsubscribeTarget, sign_unsubscribe
from tests.infra import MailSink
from tests.integration.notifications.conftest import (
    EMERGENCY,
    MATERNITY,
    ORG_A,
    UNSUBSCRIBE_SECRET,
    Publisher,
    ServiceFactory,
    auth,
    learn_directory,
    list_in_directory,
    token,
)

pytestmark = pytest.mark.integration

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, organisation_id: str = "RXA") -> None:
    form = await client.get("/alerts/sign-in")
    response = await client.post(
        "/alerts/sign-in",
        data={"csrf_token": csrf_of(form), "token": token(Role.STAFF, organisation_id)},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/alerts"


async def test_staff_add_and_delete_their_organisations_subscriptions(
    notifications: ServiceFactory, smtp_server: MailSink, publish: Publisher
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        await learn_directory(service, publish, ORG_A, [MATERNITY, EMERGENCY])
        client = service.client
        assert (await client.get("/alerts")).headers["location"] == "/alerts/sign-in"

        form = await client.get("/alerts/sign-in")
        for bad, message in (
            ("nonsense", "not valid or has expired"),
            (token(Role.MODERATOR), "not a staff token"),
        ):
            refused = await client.post(
                "/alerts/sign-in", data={"csrf_token": csrf_of(form), "token": bad}
            )
            assert refused.status_code == 422
            assert message in refused.text

        # Another organisation's subscription stays invisible and untouchable.
        other = await client.post(
            "/v1/subscriptions",
            headers=auth(Role.STAFF, "RXB"),
            json={
                "email": "other@hillview.example",
                "organisation_id": "RXB",
                "frequency": "immediate",
                "kind": "stories",
            },
        )
        assert other.status_code == 201

        await sign_in(client)
        page = await client.get("/alerts")
        assert page.status_code == 200
        assert "Nobody at Riverside Hospitals NHS Trust gets email alerts yet" in page.text
        assert "other@hillview.example" not in page.text
        csrf = csrf_of(page)

        added = await client.post(
            "/alerts/subscriptions",
            data={
                "csrf_token": csrf,
                "email": "ward@riverside.example",
                "kind": "stories",
                "frequency": "daily",
                "service_ids": ["RXA-MAT", "RXA-ED"],
                "tags": "waiting times",
                "min_criticality": "3",
            },
        )
        assert added.status_code == 303, added.text
        listed = await client.get(added.headers["location"])
        assert "The subscription was added" in listed.text
        assert "ward@riverside.example" in listed.text
        assert "Maternity, Emergency Department" in listed.text
        api = await client.get("/v1/subscriptions", headers=auth())
        [stored] = api.json()
        assert stored["service_ids"] == ["RXA-MAT", "RXA-ED"]
        assert stored["tags"] == ["waiting times"]
        assert stored["min_criticality"] == 3
        assert stored["frequency"] == "daily"

        forbidden = await client.post(
            f"/alerts/subscriptions/{other.json()['id']}/delete",
            data={"csrf_token": csrf, "confirmed": "yes"},
        )
        assert forbidden.status_code == 404
        assert "no longer exists" in forbidden.text

        no_csrf = await client.post(f"/alerts/subscriptions/{stored['id']}/delete")
        assert no_csrf.status_code == 403
        deleted = await client.post(
            f"/alerts/subscriptions/{stored['id']}/delete",
            data={"csrf_token": csrf, "confirmed": "yes"},
        )
        assert deleted.status_code == 303
        after = await client.get(deleted.headers["location"])
        assert "The subscription was deleted" in after.text
        assert "ward@riverside.example" not in after.text
        assert (await client.get("/v1/subscriptions", headers=auth())).json() == []
        assert (
            len((await client.get("/v1/subscriptions", headers=auth(Role.STAFF, "RXB"))).json())
            == 1
        )

        again = await client.post(
            f"/alerts/subscriptions/{uuid.uuid4()}/delete",
            data={"csrf_token": csrf, "confirmed": "yes"},
        )
        assert again.status_code == 404

        out = await client.post("/alerts/sign-out", data={"csrf_token": csrf})
        assert out.status_code == 303
        assert (await client.get("/alerts")).status_code == 303


async def test_bad_subscription_forms_show_errors_and_change_nothing(
    notifications: ServiceFactory, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        client = service.client
        await sign_in(client)
        csrf = csrf_of(await client.get("/alerts"))

        no_csrf = await client.post(
            "/alerts/subscriptions",
            data={"email": "a@riverside.example", "kind": "stories", "frequency": "daily"},
        )
        assert no_csrf.status_code == 403

        bad_email = await client.post(
            "/alerts/subscriptions",
            data={
                "csrf_token": csrf,
                "email": "not-an-address",
                "kind": "stories",
                "frequency": "daily",
            },
        )
        assert bad_email.status_code == 422
        assert 'id="email-error"' in bad_email.text
        assert 'value="not-an-address"' in bad_email.text

        filtered_safeguarding = await client.post(
            "/alerts/subscriptions",
            data={
                "csrf_token": csrf,
                "email": "a@riverside.example",
                "kind": "safeguarding",
                "frequency": "daily",
            },
        )
        assert filtered_safeguarding.status_code == 422
        assert "always immediate" in filtered_safeguarding.text

        no_kind = await client.post(
            "/alerts/subscriptions",
            data={"csrf_token": csrf, "email": "a@riverside.example", "frequency": "daily"},
        )
        assert no_kind.status_code == 422
        assert 'id="kind-error"' in no_kind.text

        assert (await client.get("/v1/subscriptions", headers=auth())).json() == []


async def test_the_page_offers_the_organisations_services_and_tags_by_name(
    notifications: ServiceFactory, smtp_server: MailSink, publish: Publisher
) -> None:
    """Defects: free-text service codes and tags; the trust's code instead of its name."""
    async with notifications(smtp_port=smtp_server.port) as service:
        await learn_directory(
            service, publish, ORG_A, [MATERNITY, EMERGENCY], tags=["Parking  Charges"]
        )
        client = service.client
        await sign_in(client)
        page = await client.get("/alerts")
    html = page.text
    assert "Email alerts for Riverside Hospitals NHS Trust" in html
    assert "for organisation <strong>RXA</strong>" not in html
    for value, label in (("RXA-MAT", "Maternity"), ("RXA-ED", "Emergency Department")):
        assert re.search(
            rf'type="checkbox" id="service_ids[^"]*" name="service_ids" value="{value}"', html
        ), f"no checkbox for {value}"
        assert f">{label}</label>" in html
    for tag in ("waiting times", "kindness", "parking charges"):  # vocabulary and in use
        assert f'name="tags" value="{tag}"' in html, tag
    assert 'type="text" id="service_ids"' not in html and 'type="text" id="tags"' not in html


PHYSIO = ServiceRef(id="RXA-PHYSIO", name="Physiotherapy")


async def test_the_page_offers_every_service_of_the_directory_even_one_no_story_named(
    notifications: ServiceFactory, smtp_server: MailSink, publish: Publisher
) -> None:
    """Defect: the alerts page offered only the services some story had named; the
    directory (published by story-intake on directory.organisations) lists them all."""
    async with notifications(smtp_port=smtp_server.port) as service:
        await learn_directory(service, publish, ORG_A, [MATERNITY])
        await list_in_directory(service, publish, ORG_A, [MATERNITY, EMERGENCY, PHYSIO])
        client = service.client
        await sign_in(client)
        html = (await client.get("/alerts")).text
        for value, label in (
            ("RXA-MAT", "Maternity"),
            ("RXA-ED", "Emergency Department"),
            ("RXA-PHYSIO", "Physiotherapy"),
        ):
            assert f'name="service_ids" value="{value}"' in html, value
            assert f">{label}</label>" in html
        choices = await client.get("/v1/organisations/RXA/alert-choices", headers=auth())
        assert [s["id"] for s in choices.json()["services"]] == [
            "RXA-ED",
            "RXA-MAT",
            "RXA-PHYSIO",
        ]
        body = {
            "email": "physio@riverside.example",
            "organisation_id": "RXA",
            "frequency": "immediate",
            "kind": "stories",
            "service_ids": ["RXA-PHYSIO"],
        }
        created = await client.post("/v1/subscriptions", json=body, headers=auth())
        assert created.status_code == 201, created.text
        refused = await client.post(
            "/v1/subscriptions", json={**body, "service_ids": ["RXA-NOPE"]}, headers=auth()
        )
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == ["body.service_ids"]

        # The newest entry is the directory: renamed, and a service it no longer lists goes.
        renamed = OrganisationRef(id="RXA", name="Riverside University Hospitals NHS Trust")
        await list_in_directory(service, publish, renamed, [MATERNITY, PHYSIO])
        html = (await client.get("/alerts")).text
        assert "Email alerts for Riverside University Hospitals NHS Trust" in html
        assert 'value="RXA-ED"' not in html and 'value="RXA-PHYSIO"' in html


async def test_unknown_services_and_tags_are_refused_on_the_page_and_the_api(
    notifications: ServiceFactory, smtp_server: MailSink, publish: Publisher
) -> None:
    """Defect: the alerts page accepted service codes and tags that do not exist."""
    async with notifications(smtp_port=smtp_server.port) as service:
        await learn_directory(service, publish, ORG_A, [MATERNITY])
        client = service.client
        await sign_in(client)
        csrf = csrf_of(await client.get("/alerts"))
        refused = await client.post(
            "/alerts/subscriptions",
            data={
                "csrf_token": csrf,
                "email": "ward@riverside.example",
                "kind": "stories",
                "frequency": "immediate",
                "service_ids": ["RXA-MAT", "RXA-NOPE"],
                "tags": ["waiting times", "made up"],
            },
        )
        assert refused.status_code == 422
        for field in ("service_ids", "tags"):
            assert f'id="{field}-error"' in refused.text and f'href="#{field}"' in refused.text
        assert "RXA-NOPE is not one of your services" in refused.text
        assert "made up is not a tag stories use" in refused.text
        # What was ticked stays ticked.
        assert re.search(r'value="RXA-MAT" checked', refused.text)

        body = {
            "email": "ward@riverside.example",
            "organisation_id": "RXA",
            "frequency": "immediate",
            "kind": "stories",
            "service_ids": ["RXA-NOPE"],
            "tags": ["Made  Up"],
        }
        api = await client.post("/v1/subscriptions", json=body, headers=auth())
        assert api.status_code == 422
        assert api.headers["content-type"] == "application/problem+json"
        assert {e["field"] for e in api.json()["errors"]} == {"body.service_ids", "body.tags"}
        assert (await client.get("/v1/subscriptions", headers=auth())).json() == []

        fine = await client.post(
            "/v1/subscriptions",
            json={**body, "service_ids": ["RXA-MAT"], "tags": ["Waiting  Times"]},
            headers=auth(),
        )
        assert fine.status_code == 201, fine.text
        choices = await client.get("/v1/organisations/RXA/alert-choices", headers=auth())
        assert choices.status_code == 200
        assert choices.json()["organisation_name"] == "Riverside Hospitals NHS Trust"
        assert choices.json()["services"] == [{"id": "RXA-MAT", "name": "Maternity"}]
        assert "waiting times" in choices.json()["tags"]
        other = await client.get("/v1/organisations/RXB/alert-choices", headers=auth())
        assert other.status_code == 403
        # Operators set up a trust before its first story: they may name what is not seen yet.
        early = await client.post("/v1/subscriptions", json=body, headers=auth(Role.OPERATOR, None))
        assert early.status_code == 201, early.text


async def test_deleting_a_subscription_asks_first(
    notifications: ServiceFactory, smtp_server: MailSink
) -> None:
    """Defect: the alerts page deleted without confirmation."""
    async with notifications(smtp_port=smtp_server.port) as service:
        client = service.client
        created = await client.post(
            "/v1/subscriptions",
            headers=auth(Role.OPERATOR, None),
            json={
                "email": "safe@riverside.example",
                "organisation_id": "RXA",
                "frequency": "immediate",
                "kind": "safeguarding",
            },
        )
        subscription_id = created.json()["id"]
        await sign_in(client)
        page = await client.get("/alerts")
        link = f"/alerts/subscriptions/{subscription_id}/delete"
        assert f'href="{link}"' in page.text
        confirm = await client.get(link)
        assert confirm.status_code == 200
        assert "Delete this subscription?" in confirm.text
        assert "safe@riverside.example" in confirm.text
        assert "Make sure someone else still gets safeguarding alerts" in confirm.text
        # A delete that did not come from the confirmation page asks instead of deleting.
        unconfirmed = await client.post(link, data={"csrf_token": csrf_of(confirm)})
        assert unconfirmed.status_code == 200
        assert "Delete this subscription?" in unconfirmed.text
        assert len((await client.get("/v1/subscriptions", headers=auth())).json()) == 1
        confirmed = await client.post(
            link, data={"csrf_token": csrf_of(confirm), "confirmed": "yes"}
        )
        assert confirmed.status_code == 303
        assert (await client.get("/v1/subscriptions", headers=auth())).json() == []


async def test_the_unsubscribe_page_uses_the_site_layout(
    notifications: ServiceFactory, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        client = service.client
        created = await client.post(
            "/v1/subscriptions",
            headers=auth(),
            json={
                "email": "ward@riverside.example",
                "organisation_id": "RXA",
                "frequency": "immediate",
                "kind": "responses",
            },
        )
        link_token = sign_unsubscribe(
            UNSUBSCRIBE_SECRET,
            UnsubscribeTarget(UnsubscribeScope.SUBSCRIPTION, uuid.UUID(created.json()["id"])),
        )
        page = await client.get("/v1/unsubscribe", params={"token": link_token})
        assert page.status_code == 200
        assert '<link rel="stylesheet" href="/static/candour.css">' in page.text
        assert "Stop getting emails about responses for organisation RXA?" in page.text
        done = await client.post("/v1/unsubscribe", params={"token": link_token})
        assert "You are unsubscribed" in done.text
        assert (await client.get("/static/candour.css")).status_code == 200
        document = (await client.get("/openapi.json")).json()
        assert not [p for p in document["paths"] if p.startswith("/alerts")]


async def test_the_front_door_is_the_alerts_page(
    notifications: ServiceFactory, smtp_server: MailSink
) -> None:
    """Issue 23: `/` was a JSON 404; it is the alerts page (via its sign-in page)."""
    async with notifications(smtp_port=smtp_server.port) as service:
        home = await service.client.get("/", follow_redirects=True)
    assert home.status_code == 200
    assert home.headers["content-type"].startswith("text/html")
    assert str(home.url).endswith("/alerts/sign-in")
