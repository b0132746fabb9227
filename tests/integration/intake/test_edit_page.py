"""The follow page's "Edit and send again" over HTTP (no browser; the server round
trips that work without JavaScript), against real PostgreSQL and Kafka: the form filled
in with the story as sent, the same check step as the share page, the same edit path as
`PUT /v1/stories/{id}`, and the private code only in POST bodies."""

from __future__ import annotations

import json
import re
from html import unescape

import httpx
import pytest

from candour_common.topics import Topic, TopicNames
from candour_intake.bootstrap import create_app
from tests.infra import read_topic, serving
from tests.integration.intake.conftest import MakeIntake
from tests.integration.intake.test_check_page import body_of, remove_values
from tests.integration.intake.test_lifecycle import approved, publish, wait_status
from tests.integration.intake.test_pages import (
    SHARE_FORM,
    count,
    csrf_of,
    db,
    private_parts_of,
    share,
)

pytestmark = pytest.mark.integration

PHONE = "07700 900123"


def field_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
    assert found, f"no {name} field"
    return unescape(found.group(1))


async def opened(client: httpx.AsyncClient) -> tuple[str, str, str]:
    """Share a story; its reference, private code and a CSRF token."""
    sent = await share(client, SHARE_FORM)
    story_id, token = private_parts_of(sent.text)
    return story_id, token, csrf_of(sent.text)


async def test_edit_check_and_send_again_from_the_follow_page(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        story_id, token, csrf = await opened(client)
        private = {"story": story_id, "token": token, "csrf_token": csrf}
        follow = await client.post("/follow", data=private)
        assert 'action="/follow/edit"' in follow.text and "Edit and send again" in follow.text
        form = await client.post("/follow/edit", data=private)
        assert form.status_code == 200, form.text
        assert form.headers["cache-control"] == "no-store"
        assert field_value(form.text, "title") == SHARE_FORM["title"]
        assert body_of(form.text) == SHARE_FORM["body"]
        assert 'value="TAD|TAD-CMHT" selected' in form.text
        assert 'value="kindness" id="tags_good" checked' in form.text
        assert 'name="language" value="en" id="language" checked' in form.text
        # The code only ever in the form's body, never in an address.
        assert f"?token={token}" not in form.text and f"code={token}" not in form.text

        changed = {
            **private,
            "place": "TAD",
            "title": "Kind nurses, long wait",
            "body": f"They listened, but call me on {PHONE} about the wait.",
            "tags_improve": "waiting times",
        }
        checked = await client.post("/follow/edit/check", data=changed)
        assert checked.status_code == 200, checked.text
        assert f">{PHONE}</mark>" in checked.text
        [phone] = [v for v in remove_values(checked.text) if v.startswith("body:")]
        assert 'formaction="/follow/edit/check"' in checked.text
        removed = await client.post("/follow/edit/check", data={**changed, "remove": phone})
        assert "We took it out." in removed.text
        new_body = body_of(removed.text)
        assert PHONE not in new_body and "[phone number]" in new_body
        # Checking stored and sent nothing.
        assert await count(db(settings), "SELECT count(*) FROM outbox") == 1

        sent = await client.post("/follow/edit/send", data={**changed, "body": new_body})
        assert sent.status_code == 200, sent.text
        assert 'id="sent-again"' in sent.text and 'data-status="submitted"' in sent.text
        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.STORY_SUBMITTED), at_least=2, settle=0.5
        )
        again = json.loads(records[-1].value)
        assert (again["version"], again["title"], again["body"]) == (2, changed["title"], new_body)
        assert again["service"] is None and again["tags"]["improve"] == ["waiting times"]
        assert again["author"]["email"] == SHARE_FORM["email"]

        # Once published, the page offers no edit, and a form sent anyway changes nothing.
        await publish(kafka_bootstrap, topics, approved(story_id))
        await wait_status(client, story_id, token, "published")
        follow = await client.post("/follow", data=private)
        assert "Edit and send again" not in follow.text
        late = await client.post("/follow/edit/send", data={**changed, "title": "Too late"})
        assert 'data-status="published"' in late.text and 'id="sent-again"' not in late.text
    assert await count(db(settings), "SELECT max(version) FROM stories") == 2


async def test_a_wrong_code_or_bad_form_changes_nothing(make_intake: MakeIntake) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        story_id, token, csrf = await opened(client)
        wrong = {"story": story_id, "token": "x" * 43, "csrf_token": csrf}
        assert (await client.post("/follow/edit", data=wrong)).status_code == 404
        refused = await client.post("/follow/edit/send", data={**wrong, "title": "Mine now"})
        assert refused.status_code == 404
        private = {"story": story_id, "token": token, "csrf_token": csrf}
        empty = await client.post(
            "/follow/edit/send", data={**private, "place": "TAD", "title": "", "body": "x"}
        )
        assert empty.status_code == 422
        assert "Enter a title for your story" in empty.text
        nowhere = await client.post(
            "/follow/edit/send", data={**private, "place": "NOPE", "title": "t", "body": "b"}
        )
        assert nowhere.status_code == 422
        assert "Choose an organisation or service from the list" in nowhere.text
        # Without the CSRF token the form is refused before anything else.
        forged = await client.post(
            "/follow/edit/send",
            data={"story": story_id, "token": token, "place": "TAD", "title": "t", "body": "b"},
        )
        assert forged.status_code == 403
    assert await count(db(settings), "SELECT max(version) FROM stories") == 1
    assert await count(db(settings), "SELECT count(*) FROM outbox") == 1


async def test_the_edit_page_shares_the_rate_limit_of_sending(make_intake: MakeIntake) -> None:
    settings = await make_intake(submission_rate_limit=2)
    async with serving(create_app(settings)) as client:
        story_id, token, csrf = await opened(client)  # the first of two
        changed = {
            "story": story_id,
            "token": token,
            "csrf_token": csrf,
            "place": "TAD",
            "title": "Changed",
            "body": "Changed by its author.",
        }
        # Opening the form sends nothing and counts nothing; checking counts as one.
        assert (await client.post("/follow/edit", data=changed)).status_code == 200
        assert (await client.post("/follow/edit/check", data=changed)).status_code == 200
        limited = await client.post("/follow/edit/send", data=changed)
    assert limited.status_code == 429 and "retry-after" in limited.headers
    assert await count(db(settings), "SELECT max(version) FROM stories") == 1
