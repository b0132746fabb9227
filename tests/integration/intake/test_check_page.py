"""The share page's "Check my story" step over HTTP (no browser): the server round trip
that works without JavaScript. Real PostgreSQL and Kafka."""

from __future__ import annotations

import re
from html import unescape

import pytest

from candour_intake.bootstrap import create_app
from tests.infra import serving
from tests.integration.intake.conftest import MakeIntake
from tests.integration.intake.test_pages import (
    SHARE_FORM,
    count,
    csrf_of,
    db,
    submission_key_of,
)

pytestmark = pytest.mark.integration

PHONE = "07700 900123"
BODY = f"Dr Patel gave me her direct line, {PHONE}, and said to ring if the pain came back."


def remove_values(html: str) -> list[str]:
    return re.findall(r'name="remove" value="([^"]+)"', html)


def body_of(html: str) -> str:
    found = re.search(r'<textarea[^>]*id="body"[^>]*>(.*?)</textarea>', html, re.S)
    assert found
    return unescape(found.group(1))


async def test_check_marks_each_detail_removes_one_and_stores_nothing(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        page = await client.get("/share")
        form = {
            **SHARE_FORM,
            "body": BODY,
            "csrf_token": csrf_of(page.text),
            "submission_key": submission_key_of(page.text),
        }
        checked = await client.post("/share/check", data=form)
        assert checked.status_code == 200, checked.text
        assert "Check your story" in checked.text
        assert f">{PHONE}</mark>" in checked.text and "Patel</mark>" in checked.text
        assert 'class="help-now help-now--prominent"' not in checked.text
        # The form keeps its key: sending after the check is the same one attempt.
        assert submission_key_of(checked.text) == form["submission_key"]
        at = BODY.index(PHONE)
        phone = f"body:{at}:{at + len(PHONE)}"
        assert phone in remove_values(checked.text)
        removed = await client.post("/share/check", data={**form, "remove": phone})
        assert removed.status_code == 200
        assert "We took it out." in removed.text
        assert body_of(removed.text) == BODY.replace(PHONE, "[phone number]")
        assert f">{PHONE}</mark>" not in removed.text
        # A stale choice (the text changed since) removes nothing and checks again.
        stale = await client.post(
            "/share/check", data={**form, "body": "Nothing here at all.", "remove": phone}
        )
        assert "checked it again" in stale.text
        assert body_of(stale.text) == "Nothing here at all."
        everything = await client.post("/share/check", data={**form, "remove": "all"})
        assert "We took every detail out." in everything.text
        assert "</mark>" not in everything.text
    assert await count(db(settings), "SELECT count(*) FROM stories") == 0
    assert await count(db(settings), "SELECT count(*) FROM outbox") == 0
    assert await count(db(settings), "SELECT count(*) FROM idempotency_keys") == 0


async def test_help_comes_first_and_bad_forms_get_their_errors(make_intake: MakeIntake) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        page = await client.get("/share")
        form = {**SHARE_FORM, "csrf_token": csrf_of(page.text)}
        distress = await client.post(
            "/share/check",
            data={**form, "body": "I don't want to be here any more and nobody called back."},
        )
        bad = await client.post("/share/check", data={**form, "title": "", "place": "NOPE"})
        no_csrf = await client.post("/share/check", data=SHARE_FORM)
    assert distress.status_code == 200
    assert distress.text.index("help-now--prominent") < distress.text.index('id="story-check"')
    assert "116 123" in distress.text and "option 2" in distress.text
    assert bad.status_code == 422
    assert "Enter a title for your story" in bad.text
    assert 'id="story-check"' not in bad.text
    assert no_csrf.status_code == 403


async def test_the_share_page_suggests_a_name_that_does_not_identify_anyone(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        page = await client.get("/share")
    assert 'list="display_name-suggestions"' in page.text
    for name in ("A patient", "A carer"):
        assert f'<option value="{name}">' in page.text
    assert "Anonymous" in page.text
