"""The staff's side of story-intake against real PostgreSQL and Kafka: the inbox, the
response page with the story and its earlier responses, the preview, and correcting or
deleting a response within its window (pages and API), each change a new version of
response.posted."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import asyncpg
import httpx
import pytest

from candour_common.auth import Role, issue_token
from candour_common.events import OrganisationRef, PublicAuthor, ServiceRef, StoryApproved
from candour_common.topics import Topic, TopicNames
from candour_intake.bootstrap import create_app
from candour_intake.settings import IntakeSettings
from tests.infra import read_topic, serving
from tests.integration.intake.conftest import SECRET, STORY, MakeIntake
from tests.integration.intake.test_lifecycle import publish

pytestmark = pytest.mark.integration

TAD = OrganisationRef(id="TAD", name="Bradford District Care NHS Foundation Trust")
CMHT = ServiceRef(id="TAD-CMHT", name="Community mental health team")
RESPONSE = {
    "body": "Thank you for telling us; we have shared this with the ward.",
    "responder_name": "Sam Jones",
    "responder_role": "Ward manager",
    "change": "planned",
}


def db(settings: IntakeSettings) -> str:
    return settings.database_url.get_secret_value()


def staff_token(subject: str = "ward-manager@tad", organisation_id: str = "TAD") -> str:
    return issue_token(SECRET, role=Role.STAFF, subject=subject, organisation_id=organisation_id)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, token: str) -> None:
    page = await client.get("/respond/sign-in")
    signed = await client.post(
        "/respond/sign-in",
        data={"token": token, "next": "/respond", "csrf_token": csrf_of(page.text)},
    )
    assert signed.status_code == 303, signed.text


async def fetch(url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def published_story(
    client: httpx.AsyncClient,
    settings: IntakeSettings,
    kafka_bootstrap: str,
    topics: TopicNames,
    *,
    title: str,
    criticality: int | None = 2,
    service: ServiceRef | None = CMHT,
    published_at: datetime | None = None,
) -> str:
    """A story submitted through the API and published by a story.approved on Kafka whose
    (moderated) title and text differ from what the author wrote."""
    created = await client.post("/v1/stories", json=STORY)
    assert created.status_code == 201, created.text
    story_id = created.json()["story_id"]
    await publish(
        kafka_bootstrap,
        topics,
        StoryApproved(
            story_id=uuid.UUID(story_id),
            published_at=published_at or datetime.now(UTC),
            title=title,
            body=f"{title}: the published words. [name removed] was kind.\nSecond paragraph.",
            organisation=TAD,
            service=service,
            author=PublicAuthor(display_name="A patient", relationship="patient"),
            criticality=criticality,
        ),
    )
    for _ in range(150):
        status = await fetch(db(settings), "SELECT status FROM stories WHERE id = $1", story_id)
        if status == "published":
            return str(story_id)
        await asyncio.sleep(0.1)
    raise AssertionError(f"story {story_id} was never published in intake")


def inbox_titles(html: str) -> list[str]:
    return [unescape(t) for t in re.findall(r'<h3><a href="/respond/[^"]+">([^<]+)</a></h3>', html)]


async def post_response(client: httpx.AsyncClient, story_id: str, **changes: str) -> None:
    page = await client.get(f"/respond/{story_id}")
    answer = await client.post(
        f"/respond/{story_id}",
        data={**RESPONSE, **changes, "action": "publish", "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 303, answer.text


async def test_respond_is_the_organisations_inbox_unanswered_first_with_filters_and_pages(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    """Defect: `/respond` asked for a story id instead of listing the stories to answer."""
    settings = await make_intake()
    earlier = datetime.now(UTC) - timedelta(days=2)
    async with serving(create_app(settings)) as client:
        answered = await published_story(
            client, settings, kafka_bootstrap, topics, title="Answered story", criticality=4
        )
        await published_story(
            client,
            settings,
            kafka_bootstrap,
            topics,
            title="Older unanswered",
            published_at=earlier,
        )
        await published_story(
            client, settings, kafka_bootstrap, topics, title="Newest unanswered", criticality=5
        )
        await published_story(
            client,
            settings,
            kafka_bootstrap,
            topics,
            title="No service",
            service=None,
            criticality=0,
        )
        waiting = await client.post("/v1/stories", json=STORY)  # not published: not listed
        assert waiting.status_code == 201
        await sign_in(client, staff_token())
        await post_response(client, answered)

        inbox = await client.get("/respond")
        assert inbox.status_code == 200
        assert "Bradford District Care NHS Foundation Trust" in inbox.text
        assert 'name="story"' not in inbox.text  # no longer asks for a story id
        titles = inbox_titles(inbox.text)
        # Unanswered first (newest first), then the answered ones.
        assert titles == ["No service", "Newest unanswered", "Older unanswered", "Answered story"]
        assert "4 stories" in inbox.text
        assert '<option value="TAD-CMHT">Community mental health team</option>' in inbox.text

        only_unanswered = await client.get("/respond", params={"answered": "no"})
        assert inbox_titles(only_unanswered.text) == [
            "No service",
            "Newest unanswered",
            "Older unanswered",
        ]
        only_answered = await client.get("/respond", params={"answered": "yes"})
        assert inbox_titles(only_answered.text) == ["Answered story"]
        critical = await client.get("/respond", params={"criticality": "4"})
        assert inbox_titles(critical.text) == ["Newest unanswered", "Answered story"]
        by_service = await client.get("/respond", params={"service": "TAD-CMHT"})
        assert "No service" not in inbox_titles(by_service.text)
        assert len(inbox_titles(by_service.text)) == 3

        # Clear errors for filters that make no sense, never a 500.
        bad = await client.get(
            "/respond", params={"service": "RXA-CRISIS", "criticality": "9", "answered": "x"}
        )
        assert bad.status_code == 422
        for field in ("service", "criticality", "answered"):
            assert f'id="{field}-error"' in bad.text and f'href="#{field}"' in bad.text

        # Another organisation's staff see none of these.
        await sign_in(client, staff_token("crisis@rxa", "RXA"))
        other = await client.get("/respond")
        assert inbox_titles(other.text) == [] and "0 stories" in other.text


async def test_the_inbox_pages_through_many_stories(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        for n in range(23):
            await published_story(client, settings, kafka_bootstrap, topics, title=f"Story {n}")
        await sign_in(client, staff_token())
        first = await client.get("/respond", params={"criticality": "2"})
        assert len(inbox_titles(first.text)) == 20 and "Page 1 of 2" in first.text
        following = re.search(r'rel="next" href="([^"]+)"', first.text)
        assert following, "no link to the next page"
        assert "criticality=2" in unescape(following.group(1))  # the filters stay on
        second = await client.get(unescape(following.group(1)))
        assert len(inbox_titles(second.text)) == 3 and "Page 2 of 2" in second.text
        assert not set(inbox_titles(first.text)) & set(inbox_titles(second.text))


async def test_the_response_page_shows_the_published_story_and_earlier_responses(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    """Defect: the response form showed neither the story nor the earlier responses."""
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        story_id = await published_story(
            client, settings, kafka_bootstrap, topics, title="Waited six hours"
        )
        await sign_in(client, staff_token("colleague@tad"))
        await post_response(client, story_id, body="A colleague's earlier answer.")
        await sign_in(client, staff_token())
        page = await client.get(f"/respond/{story_id}")
    assert page.status_code == 200
    html = unescape(page.text)
    assert "Waited six hours: the published words. [name removed] was kind." in html
    assert "Second paragraph." in html
    # The author's own (unmoderated) words and contact are never shown to staff.
    assert STORY["body"] not in html and "author@example.org" not in html
    assert "Community mental health team" in html and "mildly critical" in html
    assert "A colleague's earlier answer." in html and "Sam Jones" in html
    assert "Ward manager" in html
    # Someone else's response offers no change or delete.
    assert "/edit" not in html and "/delete" not in html


async def test_a_response_is_previewed_before_it_is_published(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    """Defect: there was no preview; the first press published."""
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        story_id = await published_story(client, settings, kafka_bootstrap, topics, title="S")
        await sign_in(client, staff_token())
        page = await client.get(f"/respond/{story_id}")
        csrf = csrf_of(page.text)
        assert 'name="action" value="preview"' in page.text

        empty = await client.post(
            f"/respond/{story_id}",
            data={"body": "", "responder_name": "", "responder_role": "", "csrf_token": csrf},
        )
        assert empty.status_code == 422
        for field in ("body", "responder_name", "responder_role"):
            assert f'id="{field}-error"' in empty.text and f'href="#{field}"' in empty.text

        preview = await client.post(
            f"/respond/{story_id}", data={**RESPONSE, "action": "preview", "csrf_token": csrf}
        )
        assert preview.status_code == 200
        assert "Check your response before it is published" in preview.text
        assert "We are planning a change because of this story" in preview.text
        assert await fetch(db(settings), "SELECT count(*) FROM responses") == 0

        back = await client.post(
            f"/respond/{story_id}", data={**RESPONSE, "action": "change", "csrf_token": csrf}
        )
        assert back.status_code == 200 and RESPONSE["body"] in unescape(back.text)
        assert '<textarea class="nhsuk-textarea" id="body"' in back.text
        assert await fetch(db(settings), "SELECT count(*) FROM responses") == 0

        published = await client.post(
            f"/respond/{story_id}", data={**RESPONSE, "action": "publish", "csrf_token": csrf}
        )
        assert published.status_code == 303
        landing = await client.get(published.headers["location"])
        assert "Your response has been published." in landing.text
        assert RESPONSE["body"] in unescape(landing.text)
        assert await fetch(db(settings), "SELECT count(*) FROM responses") == 1

        # Links of earlier versions still arrive at the new page.
        old = await client.get(f"/stories/{story_id}/respond")
        assert old.status_code == 308 and old.headers["location"] == f"/respond/{story_id}"
        legacy = await client.get("/respond", params={"story": story_id})
        assert legacy.status_code == 303 and legacy.headers["location"] == f"/respond/{story_id}"


async def response_versions(kafka_bootstrap: str, topics: TopicNames, at_least: int) -> list[Any]:
    records = await read_topic(
        kafka_bootstrap, topics.name(Topic.RESPONSE_POSTED), at_least=at_least, settle=0.5
    )
    return [json.loads(r.value) if r.value is not None else None for r in records]


async def test_the_responder_corrects_then_deletes_their_response_from_the_pages(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    """Defect: there was no way to correct a typo after publishing."""
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        story_id = await published_story(client, settings, kafka_bootstrap, topics, title="S")
        await sign_in(client, staff_token())
        await post_response(client, story_id, body="Thank you, we have shraed this.")
        response_id = str(await fetch(db(settings), "SELECT id FROM responses"))
        page = await client.get(f"/respond/{story_id}")
        edit_link = f"/respond/{story_id}/responses/{response_id}/edit"
        assert edit_link in page.text
        form = await client.get(edit_link)
        assert "Thank you, we have shraed this." in unescape(form.text)
        csrf = csrf_of(form.text)
        fixed = {**RESPONSE, "body": "Thank you, we have shared this."}
        preview = await client.post(
            edit_link, data={**fixed, "action": "preview", "csrf_token": csrf}
        )
        assert preview.status_code == 200 and "Publish the change" in preview.text
        saved = await client.post(
            edit_link, data={**fixed, "action": "publish", "csrf_token": csrf}
        )
        assert saved.status_code == 303
        after = await client.get(saved.headers["location"])
        assert "Thank you, we have shared this." in unescape(after.text)
        assert "shraed" not in after.text and "changed" in after.text

        # Someone else (even of the same trust) cannot change or delete it.
        await sign_in(client, staff_token("colleague@tad"))
        theirs = await client.get(edit_link)
        assert theirs.status_code == 403 and "Not your response" in theirs.text
        await sign_in(client, staff_token())

        delete_link = f"/respond/{story_id}/responses/{response_id}/delete"
        confirm = await client.get(delete_link)
        assert confirm.status_code == 200 and "Delete your response?" in confirm.text
        assert await fetch(db(settings), "SELECT deleted_at FROM responses") is None
        gone = await client.post(delete_link, data={"csrf_token": csrf_of(confirm.text)})
        assert gone.status_code == 303
        after = await client.get(gone.headers["location"])
        assert "Your response has been deleted." in after.text
        assert "shared this" not in after.text
        assert await fetch(db(settings), "SELECT body FROM responses") == ""
        assert (
            await fetch(
                db(settings),
                "SELECT response_count FROM stories WHERE id = $1",
                uuid.UUID(story_id),
            )
            == 0
        )
        versions = await response_versions(kafka_bootstrap, topics, at_least=4)
    assert [(v or {}).get("version") for v in versions] == [1, 2, 3, None]
    assert [(v or {}).get("deleted") for v in versions[:3]] == [False, False, True]
    assert {v["response_id"] for v in versions[:3]} == {response_id}
    assert versions[1]["body"] == "Thank you, we have shared this."
    assert versions[1]["posted_at"] == versions[0]["posted_at"] and versions[1]["edited_at"]
    assert versions[2]["body"] == "" and versions[3] is None  # the tombstone


async def test_the_api_edits_and_deletes_within_the_window_and_names_the_reason_after(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake()
    body = {"body": "Thank you.", "responder": {"display_name": "Jo", "role": "Manager"}}
    mine, colleague = bearer(staff_token()), bearer(staff_token("colleague@tad"))
    async with serving(create_app(settings)) as client:
        story_id = await published_story(client, settings, kafka_bootstrap, topics, title="S")
        posted = await client.post(f"/v1/stories/{story_id}/responses", json=body, headers=mine)
        response_id = posted.json()["response_id"]
        url = f"/v1/stories/{story_id}/responses/{response_id}"

        edited = await client.put(url, json={**body, "body": "Thank you!"}, headers=mine)
        assert edited.status_code == 200, edited.text
        assert edited.json()["version"] == 2

        for method in ("PUT", "DELETE"):
            refused = await client.request(
                method, url, json=body if method == "PUT" else None, headers=colleague
            )
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["type"].endswith("/not-your-response")
        other_trust = await client.put(url, json=body, headers=bearer(staff_token("x", "RXA")))
        assert other_trust.status_code == 403
        unknown = await client.put(
            f"/v1/stories/{story_id}/responses/{uuid.uuid4()}", json=body, headers=mine
        )
        assert unknown.status_code == 404
        invalid = await client.put(url, json={"body": ""}, headers=mine)
        assert invalid.status_code == 422

        # 31 minutes later the window has closed: 409, naming why.
        await fetch(
            db(settings),
            "UPDATE responses SET posted_at = posted_at - interval '31 minutes' WHERE id = $1",
            uuid.UUID(response_id),
        )
        for method in ("PUT", "DELETE"):
            late = await client.request(
                method, url, json=body if method == "PUT" else None, headers=mine
            )
            assert late.status_code == 409, late.text
            assert late.headers["content-type"] == "application/problem+json"
            assert late.json()["type"].endswith("/edit-window-closed")
            assert "minutes after posting" in late.json()["detail"]

        second = await client.post(f"/v1/stories/{story_id}/responses", json=body, headers=mine)
        second_url = f"/v1/stories/{story_id}/responses/{second.json()['response_id']}"
        deleted = await client.delete(second_url, headers=mine)
        assert deleted.status_code == 200 and deleted.json() == {
            "response_id": second.json()["response_id"],
            "version": 2,
            "status": "deleted",
        }
        again = await client.delete(second_url, headers=mine)
        assert again.status_code == 409 and again.json()["type"].endswith("/response-deleted")
        versions = await response_versions(kafka_bootstrap, topics, at_least=5)
    first = [v for v in versions if v and v["response_id"] == response_id]
    assert [v["version"] for v in first] == [1, 2] and first[1]["body"] == "Thank you!"


def response_key_of(html: str) -> str | None:
    found = re.search(r'name="response_key" value="([^"]+)"', html)
    return found.group(1) if found else None


async def test_a_refreshed_or_double_clicked_response_form_publishes_once(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    """Defect: the response form had no idempotency key, so the browser resending the
    publish (a refresh of the answer, a double click) published the response twice."""
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        story_id = await published_story(client, settings, kafka_bootstrap, topics, title="S")
        await sign_in(client, staff_token())
        page = await client.get(f"/respond/{story_id}")
        preview = await client.post(
            f"/respond/{story_id}",
            data={
                **RESPONSE,
                "action": "preview",
                "csrf_token": csrf_of(page.text),
                **({"response_key": k} if (k := response_key_of(page.text)) else {}),
            },
        )
        assert preview.status_code == 200
        # The preview's publish form, exactly as the browser would send it every time.
        publish = {
            **RESPONSE,
            "action": "publish",
            "csrf_token": csrf_of(preview.text),
            **({"response_key": k} if (k := response_key_of(preview.text)) else {}),
        }
        first, second = await asyncio.gather(
            client.post(f"/respond/{story_id}", data=publish),
            client.post(f"/respond/{story_id}", data=publish),
        )
        again = await client.post(f"/respond/{story_id}", data=publish)  # a refresh
        for answer in (first, second, again):
            assert answer.status_code == 303, answer.text
            assert answer.headers["location"] == f"/respond/{story_id}?posted=posted#responses"
        assert await fetch(db(settings), "SELECT count(*) FROM responses") == 1

        # The same key with other words is not a resend: it is refused, nothing published.
        other = await client.post(
            f"/respond/{story_id}", data={**publish, "body": "Something else entirely."}
        )
        assert other.status_code == 409 and "already been published" in other.text
        assert await fetch(db(settings), "SELECT count(*) FROM responses") == 1

        # The next response is a new form with a new key, and is published.
        landing = await client.get(f"/respond/{story_id}")
        assert response_key_of(landing.text) not in (None, publish.get("response_key"))
        await post_response(client, story_id, body="A second, different answer.")
        assert await fetch(db(settings), "SELECT count(*) FROM responses") == 2
        versions = await response_versions(kafka_bootstrap, topics, at_least=2)
    assert len(versions) == 2
    assert {v["body"] for v in versions} == {RESPONSE["body"], "A second, different answer."}


async def test_a_resent_correction_makes_one_new_version(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    """The correction form carries its own key too: sent twice, it makes one version."""
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        story_id = await published_story(client, settings, kafka_bootstrap, topics, title="S")
        await sign_in(client, staff_token())
        await post_response(client, story_id, body="Thank you, we have shraed this.")
        response_id = str(await fetch(db(settings), "SELECT id FROM responses"))
        edit_link = f"/respond/{story_id}/responses/{response_id}/edit"
        form = await client.get(edit_link)
        key = response_key_of(form.text)
        assert key is not None
        fixed = {
            **RESPONSE,
            "body": "Thank you, we have shared this.",
            "action": "publish",
            "csrf_token": csrf_of(form.text),
            "response_key": key,
        }
        for _ in range(2):
            saved = await client.post(edit_link, data=fixed)
            assert saved.status_code == 303, saved.text
        assert await fetch(db(settings), "SELECT version FROM responses") == 2
        versions = await response_versions(kafka_bootstrap, topics, at_least=2)
    assert [v["version"] for v in versions] == [1, 2]
