"""The alerts pages in Welsh (#20): with `?lang=cy` (then the cookie) every alerts page,
its flash messages and its errors are Welsh, `<html lang="cy">` is set and the English
words are gone; English stays the default. Real PostgreSQL, real Kafka, real SMTP."""

from __future__ import annotations

import re
import uuid
from html import unescape

import httpx
import pytest

from candour_common.auth import Role
from candour_notifications.domain import (
    UnsubscribeScope,
    UnsubscribeTarget,
    sign_acknowledgement,
    sign_confirmation,
    sign_unsubscribe,
)
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
)
from tests.integration.notifications.test_alert_pages import csrf_of, sign_in

pytestmark = pytest.mark.integration


def welsh(page: httpx.Response, *words: str) -> str:
    """The page is a Welsh page holding `words` (as read, entities decoded); its text."""
    assert page.status_code in (200, 404, 422), page.text
    assert '<html lang="cy"' in page.text
    assert page.headers["content-language"] == "cy"
    text = unescape(page.text)
    for expected in words:
        assert expected in text, expected
    return text


def english_left(html: str, *words: str) -> list[str]:
    return [word for word in words if re.search(rf"\b{re.escape(word)}\b", html)]


async def test_the_signed_in_alerts_pages_are_welsh_with_lang_cy(
    notifications: ServiceFactory, smtp_server: MailSink, publish: Publisher
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        await learn_directory(service, publish, ORG_A, [MATERNITY, EMERGENCY])
        client = service.client
        await sign_in(client)
        empty = welsh(
            await client.get("/alerts?lang=cy"),
            "Rhybuddion e-bost ar gyfer Riverside Hospitals NHS Trust",
            "Nid oes neb yn Riverside Hospitals NHS Trust yn cael rhybuddion e-bost eto.",
            "Ychwanegu tanysgrifiad",
            "Straeon newydd",
            "Crynodeb dyddiol",
            "Allgofnodi",
        )
        assert not english_left(
            empty, "Email alerts", "Nobody", "Add subscription", "New stories", "Sign out"
        )
        csrf = csrf_of(await client.get("/alerts"))  # the cookie keeps Welsh now

        # An error made in Python, and a rule across fields, in Welsh.
        refused = await client.post(
            "/alerts/subscriptions",
            data={"csrf_token": csrf, "email": "not-an-address", "kind": "stories"},
        )
        assert refused.status_code == 422
        welsh(refused, "Rhowch gyfeiriad e-bost yn y fformat cywir, fel enw@example.org")
        unknown = await client.post(
            "/alerts/subscriptions",
            data={
                "csrf_token": csrf,
                "email": "ward@riverside.example",
                "kind": "stories",
                "frequency": "immediate",
                "service_ids": "RXA-NOPE",
            },
        )
        welsh(unknown, "nid yw RXA-NOPE yn un o'ch gwasanaethau")
        rule = await client.post(
            "/alerts/subscriptions",
            data={
                "csrf_token": csrf,
                "email": "safe@riverside.example",
                "kind": "safeguarding",
                "frequency": "daily",
            },
        )
        welsh(rule, "Mae rhybuddion diogelu bob amser ar unwaith")

        # The flash message after adding, and the table, in Welsh.
        added = await client.post(
            "/alerts/subscriptions",
            data={
                "csrf_token": csrf,
                "email": "ward@riverside.example",
                "kind": "stories",
                "frequency": "daily",
                "service_ids": ["RXA-MAT"],
                "min_criticality": "3",
            },
        )
        assert added.status_code == 303, added.text
        listed = welsh(
            await client.get(added.headers["location"]),
            "Ychwanegwyd y tanysgrifiad.",
            "Yn aros i'w berchennog gadarnhau",
            "Gwasanaethau: Maternity",
            "Tanysgrifiadau",
        )
        assert not english_left(listed, "The subscription was added", "Waiting", "Services")
        [stored] = (await client.get("/v1/subscriptions", headers=auth())).json()

        link = f"/alerts/subscriptions/{stored['id']}/delete"
        asking_page = await client.get(link)
        asking = welsh(
            asking_page,
            "Dileu'r tanysgrifiad hwn?",
            "Bydd <strong>ward@riverside.example</strong> yn peidio â chael straeon newydd "
            "(crynodeb dyddiol) am Riverside Hospitals NHS Trust.",
            "Dim ond ar gyfer y gwasanaethau hyn: Maternity.",
            "Na, cadwch ef",
        )
        assert not english_left(asking, "Delete this subscription", "will stop getting")
        deleted = await client.post(
            link, data={"csrf_token": csrf_of(asking_page), "confirmed": "yes"}
        )
        welsh(
            await client.get(deleted.headers["location"]),
            "Dilëwyd y tanysgrifiad; ni fydd rhagor o negeseuon e-bost yn cael eu hanfon",
        )
        gone = await client.post(link, data={"csrf_token": csrf, "confirmed": "yes"})
        assert gone.status_code == 404
        welsh(gone, "Nid yw'r tanysgrifiad hwnnw'n bodoli mwyach")

        # English is one click away, and stays the default without a choice.
        english = await client.get("/alerts?lang=en")
        assert '<html lang="en-GB"' in english.text and "Email alerts for" in english.text


async def test_a_welsh_link_to_the_alerts_page_leads_to_a_welsh_sign_in_form(
    notifications: ServiceFactory, smtp_server: MailSink
) -> None:
    """Defect: the redirect to the sign-in form dropped `?lang=cy`, so a Welsh link to
    the alerts page asked for the token in English."""
    async with notifications(smtp_port=smtp_server.port) as service:
        client = service.client
        redirected = await client.get("/alerts?lang=cy")
        assert redirected.status_code == 303
        assert redirected.headers["location"] == "/alerts/sign-in"
        welsh(
            await client.get(redirected.headers["location"]),
            "Mewngofnodi i reoli rhybuddion",
            "Tocyn staff",
        )


async def test_the_pages_reached_from_emails_are_welsh_with_lang_cy(
    notifications: ServiceFactory, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        client = service.client
        created = await client.post(
            "/v1/subscriptions",
            headers=auth(Role.STAFF, "RXA"),
            json={
                "email": "someone@elsewhere.example",  # outside the trust's domains: waits
                "organisation_id": "RXA",
                "frequency": "immediate",
                "kind": "safeguarding",
            },
        )
        assert created.status_code == 201, created.text
        subscription_id = uuid.UUID(created.json()["id"])

        confirming = sign_confirmation(UNSUBSCRIBE_SECRET, subscription_id)
        asked = welsh(
            await client.get(
                "/v1/subscriptions/confirm", params={"token": confirming, "lang": "cy"}
            ),
            "Cadarnhau rhybuddion e-bost",
            "Dechrau cael rhybuddion diogelu i sefydliad RXA?",
            "Iawn, anfonwch y negeseuon e-bost hyn ataf",
        )
        assert not english_left(asked, "Confirm email alerts", "Start getting")
        # The token is never repeated in the page's language links.
        assert confirming not in asked.replace(f'token={confirming}"', "")
        confirmed = await client.post(
            "/v1/subscriptions/confirm", params={"token": confirming, "lang": "cy"}
        )
        welsh(
            confirmed,
            "Diolch: rydych wedi tanysgrifio",
            "Byddwch yn cael rhybuddion diogelu i sefydliad RXA.",
        )
        again = await client.post("/v1/subscriptions/confirm", params={"token": confirming})
        welsh(again, "Dim byd i'w gadarnhau")  # the cookie remembered Welsh

        unsubscribing = sign_unsubscribe(
            UNSUBSCRIBE_SECRET, UnsubscribeTarget(UnsubscribeScope.SUBSCRIPTION, subscription_id)
        )
        welsh(
            await client.get("/v1/unsubscribe", params={"token": unsubscribing}),
            "Dad-danysgrifio",
            "Rhoi'r gorau i gael rhybuddion diogelu i sefydliad RXA?",
        )
        stopped = welsh(
            await client.post("/v1/unsubscribe", params={"token": unsubscribing}),
            "Rydych wedi dad-danysgrifio",
            "Ni fyddwch yn cael rhybuddion diogelu i sefydliad RXA mwyach.",
        )
        assert not english_left(stopped, "You are unsubscribed")
        # No CSRF cookie on these pages: the signed token is their authority.
        assert "candour_csrf" not in stopped

        acknowledging = sign_acknowledgement(UNSUBSCRIBE_SECRET, uuid.uuid4())
        nothing = welsh(
            await client.get("/v1/safeguarding/acknowledge", params={"token": acknowledging}),
            "Dim byd i'w gydnabod",
            "cysylltwch â chymedrolwyr Candour sydd ar ddyletswydd",
        )
        assert not english_left(nothing, "Nothing to acknowledge")

        english = await client.get("/v1/unsubscribe", params={"token": unsubscribing, "lang": "en"})
        assert "Stop getting safeguarding alerts for organisation RXA?" in english.text
