"""The moderation console's pages over real PostgreSQL (and the app's real broker).

Stories enter the queue through the same handler the story.submitted consumer
calls, so each test reads exactly the stories it made.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from candour_common.auth import Role, issue_token
from candour_common.events import (
    AuthorContact,
    OrganisationRef,
    Relationship,
    ServiceRef,
    StoryLanguage,
    StorySubmitted,
    Tags,
)
from candour_common.topics import TopicNames
from candour_moderation.bootstrap import create_app
from candour_moderation.service_layer import handlers
from candour_moderation.settings import ModerationSettings
from tests.infra import serving
from tests.unit.moderation.fakes import screen_in_process

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SECRET = "console-test-secret-0123456789abcdef0123"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def token(role: Role, subject: str, org: str | None = None) -> str:
    return issue_token(SECRET, role=role, subject=subject, organisation_id=org)


def story(body: str, *, title: str = "My care") -> StorySubmitted:
    return StorySubmitted(
        story_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        title=title,
        body=body,
        organisation=OrganisationRef(id="TAD", name="Bradford District Care NHS Foundation Trust"),
        service=ServiceRef(id="TAD-CMHT", name="Community mental health team"),
        author=AuthorContact(
            display_name="Sam",
            relationship=Relationship.PATIENT,
            email="sam.private@example.org",
            notify_on_response=False,
        ),
        tags=Tags(good=["kindness"]),
    )


@pytest.fixture
async def console(
    create_database: Any, kafka_bootstrap: str, topics: TopicNames
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = ModerationSettings(
        database_url=await create_database("moderation"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topics.prefix,
        jwt_secret=SECRET,
        outbox_poll_interval=0.2,
    )
    app = create_app(settings)
    async with serving(app) as client:
        assert isinstance(client, httpx.AsyncClient)
        yield app, client


async def queue(app: FastAPI, *stories: StorySubmitted) -> None:
    queued = await handlers.receive_stories(
        app.state.platform.unit_of_work(),
        stories,
        now=datetime.now(UTC),
        screen=screen_in_process,
    )
    assert [i.story_id for i in queued] == [s.story_id for s in stories]


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, subject: str = "mod-alice") -> None:
    form = await client.get("/console/sign-in")
    response = await client.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(form), "token": token(Role.MODERATOR, subject)},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console"


async def audit_actions(client: httpx.AsyncClient, story_id: uuid.UUID) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token(Role.MODERATOR, 'mod-audit')}"}
    response = await client.get(f"/v1/queue/{story_id}", headers=headers)
    assert response.status_code == 200, response.text
    audit: list[dict[str, Any]] = response.json()["audit"]
    return audit


async def test_every_console_page_needs_a_moderator_signed_in(console) -> None:
    app, client = console
    calm = story("The nurses were kind.")
    await queue(app, calm)
    for path in ("/console", f"/console/stories/{calm.story_id}"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/sign-in"

    form = await client.get("/console/sign-in")
    assert form.status_code == 200
    assert "httponly" in form.headers["set-cookie"].lower()
    for bad, message in (
        ("not-a-token", "not valid or has expired"),
        (token(Role.STAFF, "staff-1", "TAD"), "not a moderator"),
        ("", "Paste your moderator token"),
    ):
        response = await client.post(
            "/console/sign-in", data={"csrf_token": csrf_of(form), "token": bad}
        )
        assert response.status_code == 422
        assert message in response.text
        assert 'aria-invalid="true"' in response.text
    # A token signed with another key is not ours.
    foreign = issue_token("another-secret-0123456789abcdef01234", role=Role.MODERATOR, subject="x")
    response = await client.post(
        "/console/sign-in", data={"csrf_token": csrf_of(form), "token": foreign}
    )
    assert response.status_code == 422

    await sign_in(client)
    page = await client.get("/console")
    assert page.status_code == 200
    assert "mod-alice" in page.text

    signed_out = await client.post("/console/sign-out", data={"csrf_token": csrf_of(page)})
    assert signed_out.status_code == 303
    assert (await client.get("/console")).status_code == 303


async def test_the_queue_lists_safeguarding_first_with_badges(console) -> None:
    app, client = console
    calm = story("Dr Patel explained everything.", title="Calm")
    serious = story("Since discharge I want to kill myself.", title="Serious one")
    concern = story("Mum developed pressure sores on the ward.", title="Concern one")
    await queue(app, calm, serious, concern)
    await sign_in(client)
    page = await client.get("/console")
    assert page.status_code == 200
    order = re.findall(r'data-story-id="([^"]+)"', page.text)
    assert order == [str(serious.story_id), str(concern.story_id), str(calm.story_id)]
    assert page.text.index("Serious safeguarding") < page.text.index("Safeguarding concern")
    assert "1 suggested redaction" in page.text


async def test_the_story_page_highlights_suggestions_and_escapes_the_authors_text(
    console,
) -> None:
    app, client = console
    submitted = story(
        "Dr Patel was kind <script>alert(1)</script>. Email me at sam.t@example.org.",
        title="<b>Ward 5</b>",
    )
    await queue(app, submitted)
    await sign_in(client)
    page = await client.get(f"/console/stories/{submitted.story_id}")
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;b&gt;Ward 5&lt;/b&gt;" in page.text
    marks = re.findall(r'<mark data-redaction="(\d+)">([^<]*)</mark>', page.text)
    assert any("Patel" in text for _, text in marks)
    assert any(text == "sam.t@example.org" for _, text in marks)
    # Every suggestion starts accepted.
    boxes = re.findall(r'name="redaction" value="(\d+)"( checked)?', page.text)
    assert boxes and all(checked for _, checked in boxes)
    assert "[email address]" in page.text or "[email]" in page.text

    missing = await client.get(f"/console/stories/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert "Story not found" in missing.text


async def test_approving_with_one_suggestion_undone_publishes_that_choice_once(console) -> None:
    app, client = console
    submitted = story("Dr Patel was kind. Email me at sam.t@example.org.")
    await queue(app, submitted)
    await sign_in(client)
    path = f"/console/stories/{submitted.story_id}"
    page = await client.get(path)
    marks = {
        text: index
        for index, text in re.findall(r'<mark data-redaction="(\d+)">([^<]*)</mark>', page.text)
    }
    email_index = marks["sam.t@example.org"]
    keep = [index for text, index in marks.items() if text != "sam.t@example.org"]
    assert keep, marks
    form = {"csrf_token": csrf_of(page), "criticality": "2", "redaction": keep}

    preview = await client.post(
        f"{path}/approve", data={**form, "redaction": [email_index], "action": "preview"}
    )
    assert preview.status_code == 200
    assert "What will be published (updated)" in preview.text
    assert "Dr Patel" in preview.text.split('id="published"')[1]

    approved = await client.post(f"{path}/approve", data={**form, "action": "approve"})
    assert approved.status_code == 303, approved.text
    assert approved.headers["location"] == "/console?done=approved"
    listed = await client.get("/console?done=approved")
    assert "The story was approved" in listed.text
    assert str(submitted.story_id) not in listed.text

    again = await client.post(f"{path}/approve", data={**form, "action": "approve"})
    assert again.status_code == 409
    assert "already approved" in again.text

    audit = await audit_actions(client, submitted.story_id)
    decisions = [a for a in audit if a["action"] in ("approved", "rejected")]
    assert len(decisions) == 1
    detail = decisions[0]["detail"]
    assert detail["criticality"] == 2
    # The undone suggestion kept the author's words; the accepted one replaced a name.
    assert "sam.t@example.org" in detail["published"]["body"]
    assert "Patel" not in detail["published"]["body"]
    assert decisions[0]["actor"] == "mod-alice"


async def test_forms_without_the_csrf_token_change_nothing(console) -> None:
    app, client = console
    submitted = story("The nurses were kind.")
    await queue(app, submitted)
    await sign_in(client)
    path = f"/console/stories/{submitted.story_id}"
    for action, data in (
        ("approve", {"criticality": "1", "action": "approve"}),
        ("reject", {"reason": "duplicate"}),
        ("claim", {}),
    ):
        response = await client.post(f"{path}/{action}", data=data)
        assert response.status_code == 403
        response = await client.post(f"{path}/{action}", data={**data, "csrf_token": "forged"})
        assert response.status_code == 403
    audit = await audit_actions(client, submitted.story_id)
    assert [a["action"] for a in audit] == ["received"]


async def test_errors_are_shown_next_to_their_fields(console) -> None:
    app, client = console
    serious = story("Since discharge I want to kill myself.")
    await queue(app, serious)
    await sign_in(client)
    path = f"/console/stories/{serious.story_id}"
    page = await client.get(path)
    csrf = csrf_of(page)

    no_label = await client.post(f"{path}/approve", data={"csrf_token": csrf, "action": "approve"})
    assert no_label.status_code == 422
    assert 'id="criticality-error"' in no_label.text
    assert "Choose how critical the story is" in no_label.text

    long_title = await client.post(
        f"{path}/approve",
        data={
            "csrf_token": csrf,
            "action": "approve",
            "criticality": "1",
            "edited_title": "x" * 121,
        },
    )
    assert long_title.status_code == 422
    assert 'id="edited_title-error"' in long_title.text

    unacknowledged = await client.post(
        f"{path}/approve", data={"csrf_token": csrf, "action": "approve", "criticality": "5"}
    )
    assert unacknowledged.status_code == 422
    assert 'id="acknowledge_safeguarding-error"' in unacknowledged.text
    assert "serious safeguarding match" in unacknowledged.text

    no_reason = await client.post(f"{path}/reject", data={"csrf_token": csrf, "reason": "bogus"})
    assert no_reason.status_code == 422
    assert "Choose why the story is rejected" in no_reason.text

    rejected = await client.post(
        f"{path}/reject",
        data={"csrf_token": csrf, "reason": "safeguarding_escalated", "note": "escalated"},
    )
    assert rejected.status_code == 303
    audit = await audit_actions(client, serious.story_id)
    assert [a["action"] for a in audit].count("rejected") == 1


async def test_another_moderators_claim_is_shown_and_respected(console) -> None:
    app, client = console
    submitted = story("The nurses were kind.")
    await queue(app, submitted)
    bob = {"Authorization": f"Bearer {token(Role.MODERATOR, 'mod-bob')}"}
    claimed = await client.post(f"/v1/queue/{submitted.story_id}/claim", headers=bob)
    assert claimed.status_code == 200

    await sign_in(client)
    listed = await client.get("/console")
    assert "mod-bob" in listed.text
    path = f"/console/stories/{submitted.story_id}"
    page = await client.get(path)
    assert "mod-bob</strong> is working on this story" in page.text
    csrf = csrf_of(page)

    approve = await client.post(
        f"{path}/approve", data={"csrf_token": csrf, "action": "approve", "criticality": "0"}
    )
    assert approve.status_code == 409
    assert "mod-bob is working on this story until" in approve.text

    claim = await client.post(f"{path}/claim", data={"csrf_token": csrf})
    assert claim.status_code == 409

    released = await client.delete(f"/v1/queue/{submitted.story_id}/claim", headers=bob)
    assert released.status_code == 200
    claim = await client.post(f"{path}/claim", data={"csrf_token": csrf})
    assert claim.status_code == 303
    mine = await client.get(claim.headers["location"])
    assert "You are working on this story until" in mine.text
    assert "You have claimed this story" in mine.text


async def test_the_api_document_has_no_console_routes(console) -> None:
    _, client = console
    document = (await client.get("/openapi.json")).json()
    assert not [
        path
        for path in document["paths"]
        if not path.startswith("/v1") and path.startswith("/console")
    ]
    assert (await client.get("/static/candour.css")).status_code == 200


async def test_the_console_shows_categories_and_reasons_and_takes_screening_feedback(
    console, tmp_path
) -> None:
    """Issue 17: categories and reasons in the console; a moderator marks a flag
    wrong and adds a missed one; `candour screening export-labels` writes them."""
    from typer.testing import CliRunner

    from candour_cli.main import app as cli

    app, client = console
    flagged = story("The nurse took my bank card for safekeeping while I was in theatre.")
    missed = story("My nephew keeps Gran's post office book and she is scared of him.")
    await queue(app, flagged, missed)
    await sign_in(client)
    queue_page = await client.get("/console")
    assert "financial or material abuse" in queue_page.text

    page = await client.get(f"/console/stories/{flagged.story_id}")
    assert "because: money or property taken or controlled" in page.text
    assert "This flag is wrong" in page.text
    wrong = await client.post(
        f"/console/stories/{flagged.story_id}/screening-feedback",
        data={"csrf_token": csrf_of(page), "verdict": "wrong", "match": "0"},
    )
    assert wrong.status_code == 303, wrong.text

    page = await client.get(f"/console/stories/{missed.story_id}")
    no_category = await client.post(
        f"/console/stories/{missed.story_id}/screening-feedback",
        data={"csrf_token": csrf_of(page), "verdict": "missed", "category": ""},
    )
    assert no_category.status_code == 422
    assert "Choose the category screening missed" in no_category.text
    added = await client.post(
        f"/console/stories/{missed.story_id}/screening-feedback",
        data={
            "csrf_token": csrf_of(page),
            "verdict": "missed",
            "category": "financial_abuse",
            "level": "concern",
            "text": "keeps Gran's post office book",
        },
    )
    assert added.status_code == 303, added.text
    page = await client.get(f"/console/stories/{missed.story_id}")
    assert "missed financial or material abuse (concern)" in page.text

    # The API shows the same, with the audit line naming who.
    headers = {"Authorization": f"Bearer {token(Role.MODERATOR, 'mod-bob')}"}
    detail = (await client.get(f"/v1/queue/{flagged.story_id}", headers=headers)).json()
    assert detail["screening"]["safeguarding"]["categories"]
    assert all(m["reason"] for m in detail["screening"]["safeguarding"]["matches"])
    assert [f["verdict"] for f in detail["screening_feedback"]] == ["wrong"]
    assert detail["audit"][-1]["action"] == "screening_feedback"
    assert detail["audit"][-1]["actor"] == "mod-alice"
    api = await client.post(
        f"/v1/queue/{flagged.story_id}/screening-feedback",
        headers=headers,
        json={"verdict": "wrong", "match": 1},
    )
    assert api.status_code == 201, api.text
    bad = await client.post(
        f"/v1/queue/{flagged.story_id}/screening-feedback",
        headers=headers,
        json={"verdict": "missed", "category": "not_a_category"},
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    out_of_range = await client.post(
        f"/v1/queue/{flagged.story_id}/screening-feedback",
        headers=headers,
        json={"verdict": "wrong", "match": 9},
    )
    assert out_of_range.status_code == 422

    output = tmp_path / "labels.txt"
    url = app.state.platform.settings.database_url.get_secret_value()
    # The command runs its own event loop, as from a shell: off this test's loop.
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["screening", "export-labels", "--database-url", url, "--output", str(output)],
    )
    assert result.exit_code == 0, result.output
    assert output.read_text().splitlines() == [
        "none | - | The nurse took my bank card for safekeeping while I was in theatre.",
        # Screening's own flag (fear of him) stays; the missed category is added.
        "serious | domestic_abuse,financial_abuse | "
        "My nephew keeps Gran's post office book and she is scared of him.",
    ]


async def test_the_front_door_is_the_console(console) -> None:
    """Issue 23: `/` was a JSON 404; it is the console (via its sign-in page)."""
    _, client = console
    home = await client.get("/", follow_redirects=True)
    assert home.status_code == 200
    assert home.headers["content-type"].startswith("text/html")
    assert str(home.url).endswith("/console/sign-in")


async def test_the_console_shows_a_storys_language_and_marks_welsh_text(console) -> None:
    """Issue 20: the moderator sees which language a story is in; its text carries
    lang="cy" on an English console page (and the language survives the database)."""
    app, client = console
    welsh = story("Roedd y nyrsys yn garedig iawn.", title="Nyrsys caredig").model_copy(
        update={"language": StoryLanguage.WELSH}
    )
    english = story("The nurses were very kind.", title="Kind nurses")
    await queue(app, welsh, english)
    await sign_in(client)
    listing = await client.get("/console")
    row = listing.text[listing.text.index(f'data-story-id="{welsh.story_id}"') :]
    assert '<a href="/console/stories/' + str(welsh.story_id) + '" lang="cy">' in row
    assert "Written in Welsh" in row[: row.index("</tr>")]
    english_row = listing.text[listing.text.index(f'data-story-id="{english.story_id}"') :]
    assert "Written in" not in english_row[: english_row.index("</tr>")]

    page = await client.get(f"/console/stories/{welsh.story_id}")
    assert re.search(r'id="story-language">\s*Welsh\s*<', page.text)
    assert '<h1 lang="cy">Nyrsys caredig</h1>' in page.text
    assert 'id="original-body" class="panel pre-wrap" lang="cy"' in page.text
    plain = await client.get(f"/console/stories/{english.story_id}")
    assert re.search(r'id="story-language">\s*English\s*<', plain.text)
    assert "<h1>Kind nurses</h1>" in plain.text
    assert 'id="original-body" class="panel pre-wrap">' in plain.text

    headers = {"Authorization": f"Bearer {token(Role.MODERATOR, 'mod-api')}"}
    detail = await client.get(f"/v1/queue/{welsh.story_id}", headers=headers)
    assert detail.json()["language"] == "cy"


async def test_a_decision_on_the_page_read_before_the_authors_edit_is_refused(console) -> None:
    """The moderator opened version 1; the author's version 2 arrived before they
    pressed Approve: nothing is published, the page says why and shows version 2."""
    app, client = console
    submitted = story("The nurse was kind.")
    await queue(app, submitted)
    await sign_in(client)
    path = f"/console/stories/{submitted.story_id}"
    page = await client.get(path)
    assert 'name="version" value="1"' in page.text
    edited = submitted.model_copy(update={"version": 2, "body": "The nurse was kind and quick."})
    await handlers.receive_stories(
        app.state.platform.unit_of_work(), [edited], now=datetime.now(UTC), screen=screen_in_process
    )
    form = {"csrf_token": csrf_of(page), "criticality": "1", "version": "1", "action": "approve"}
    stale = await client.post(f"{path}/approve", data=form)
    assert stale.status_code == 409
    assert "read the new text before deciding" in stale.text
    rejected = await client.post(
        f"{path}/reject", data={"csrf_token": csrf_of(page), "reason": "other", "version": "1"}
    )
    assert rejected.status_code == 409
    fresh = await client.get(path)
    assert 'id="story-version"' in fresh.text and "kind and quick" in fresh.text
    approved = await client.post(f"{path}/approve", data={**form, "version": "2"})
    assert approved.status_code == 303, approved.text
    actions = [a["action"] for a in await audit_actions(client, submitted.story_id)]
    assert actions.index("resubmitted") < actions.index("approved")
    assert actions.count("approved") == 1
