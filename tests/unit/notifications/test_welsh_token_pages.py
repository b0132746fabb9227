"""The pages emails link to (acknowledge, confirm, unsubscribe) in Welsh, every branch,
rendered as the routes render them: Welsh words only, no English left (#20)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from candour_common.translatable import N_, Filled
from candour_notifications.entrypoints import pages
from candour_notifications.service_layer.handlers import Acknowledgement
from candour_notifications.settings import NotificationsSettings

pytestmark = pytest.mark.unit

SAFEGUARDING = "safeguarding alerts for organisation RXA"


def welsh_request() -> Request:
    app = Starlette()
    app.state.alert_templates = pages.create_alert_templates(NotificationsSettings())
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "server": ("127.0.0.1", 8003),
            "path": "/v1/safeguarding/acknowledge",
            "root_path": "",
            "query_string": b"lang=cy",
            "headers": [],
            "app": app,
        }
    )


def main_text(body: bytes) -> str:
    html = body.decode()
    assert '<html lang="cy"' in html
    found = re.search(r"<main.*?</main>", html, re.S)
    assert found is not None
    return unescape(re.sub(r"<[^>]+>", " ", found.group(0)))


ENGLISH = re.compile(
    r"\b(the|you|your|this|alert|acknowledge[d]?|emails?|nothing|thank|confirm|stop)\b", re.I
)


@pytest.mark.parametrize(
    ("acknowledgement", "expected"),
    [
        (Acknowledgement(found=False), "Dim byd i'w gydnabod"),
        (
            Acknowledgement(found=True, organisation_name="Bwrdd Iechyd Addysgu Powys"),
            "Cadarnhewch fod y rhybudd diogelu am stori sy'n ymwneud â Bwrdd Iechyd Addysgu "
            "Powys gennych",
        ),
        (
            Acknowledgement(
                found=True,
                organisation_name="Powys",
                acknowledged_by="ward@powys.example",
                acknowledged_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
                changed=True,
            ),
            "Diolch: rydych wedi cydnabod y rhybudd",
        ),
        (
            Acknowledgement(
                found=True,
                organisation_name="Powys",
                acknowledged_by="ward@powys.example",
                acknowledged_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
            ),
            "Mae'r rhybudd hwn eisoes wedi'i gydnabod",
        ),
    ],
)
def test_the_acknowledgement_page_is_welsh_in_every_state(
    acknowledgement: Acknowledgement, expected: str
) -> None:
    response = pages.acknowledge_page(welsh_request(), acknowledgement, action="/ack?token=t")
    text = main_text(response.body)
    assert expected in text
    assert not ENGLISH.findall(text.replace("ward@powys.example", "")), text
    if acknowledgement.acknowledged_at is not None:
        assert "Cydnabuwyd gan ward@powys.example ar 1 Mawrth 2026, 9:30yb GMT." in text


@pytest.mark.parametrize(
    ("done", "waiting", "changed", "expected"),
    [
        (False, True, False, "Dechrau cael rhybuddion diogelu i sefydliad RXA?"),
        (True, False, True, "Byddwch yn cael rhybuddion diogelu i sefydliad RXA."),
        (True, False, False, "Dim byd i'w gadarnhau"),
        (False, False, False, "Cafodd y cais hwn ei gadarnhau o'r blaen"),
    ],
)
def test_the_confirmation_page_is_welsh_in_every_state(
    done: bool, waiting: bool, changed: bool, expected: str
) -> None:
    what = Filled(N_("safeguarding alerts for organisation {organisation}"), organisation="RXA")
    assert what == SAFEGUARDING  # English wherever it is not translated (emails, logs)
    response = pages.confirm_page(
        welsh_request(), done=done, waiting=waiting, changed=changed, what=what, action="/c"
    )
    text = main_text(response.body)
    assert expected in text
    assert not ENGLISH.findall(text), text
