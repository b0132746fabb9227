"""story-intake's web pages against real PostgreSQL and Kafka, driven over HTTP (no browser)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from html import unescape

import asyncpg
import httpx
import pytest

from candour_common.auth import Role, issue_token
from candour_intake.adapters import repository
from candour_intake.bootstrap import create_app
from candour_intake.settings import IntakeSettings
from tests.infra import serving
from tests.integration.intake.conftest import SECRET, STORY, MakeIntake

pytestmark = pytest.mark.integration

SHARE_FORM = {
    "place": "TAD|TAD-CMHT",
    "title": "Kind nurses on ward 4",
    "body": "The staff listened to me and explained everything.",
    "display_name": "A patient",
    "relationship": "patient",
    "tags_good": ["kindness", "listening"],
    "tags_feelings": "reassured",
    "email": "author@example.org",
    "notify_on_response": "yes",
}


def db(settings: IntakeSettings) -> str:
    return settings.database_url.get_secret_value()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def private_parts_of(html: str) -> tuple[str, str]:
    """(story reference, private code) as the confirmation page shows them."""
    story = re.search(r'id="story-reference" readonly value="([^"]+)"', html)
    code = re.search(r'id="private-code" readonly value="([^"]+)"', html)
    assert story and code, "the page shows no story reference and private code"
    return unescape(story.group(1)), unescape(code.group(1))


async def count(url: str, sql: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


def submission_key_of(html: str) -> str:
    found = re.search(r'name="submission_key" value="([^"]+)"', html)
    assert found, "the share form carries no submission key"
    return found.group(1)


async def share(client: httpx.AsyncClient, form: dict[str, object]) -> httpx.Response:
    """Fill the share form and send it, following the redirect to the confirmation."""
    page = await client.get("/share")
    assert page.status_code == 200
    filled = {
        **form,
        "csrf_token": csrf_of(page.text),
        "submission_key": submission_key_of(page.text),
    }
    return await client.post("/share", data=filled, follow_redirects=True)


async def test_share_page_lists_the_directory_and_sets_a_csrf_cookie(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        page = await client.get("/share")
    assert page.status_code == 200
    assert "candour_csrf" in page.cookies
    assert '<optgroup label="Bradford District Care NHS Foundation Trust">' in page.text
    assert 'value="TAD|TAD-CMHT"' in page.text
    for field in ("place", "title", "body", "display_name", "email", "notify_on_response"):
        assert f'for="{field}"' in page.text, f"no label for {field}"


async def test_a_form_without_the_csrf_token_is_refused_and_nothing_is_stored(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        await client.get("/share")  # has the cookie, but the form does not carry the token
        refused = await client.post("/share", data=SHARE_FORM)
        forged = await client.post("/share", data={**SHARE_FORM, "csrf_token": "forged"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert forged.status_code == 403
    assert await count(db(settings), "SELECT count(*) FROM stories") == 0


async def test_errors_are_shown_next_to_each_field_and_nothing_is_stored(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    bad = {
        **SHARE_FORM,
        "title": "",
        "relationship": "",
        "email": "not-an-email",
        "body": "word " * 1001,
        "place": "TAD|NO-SUCH-SERVICE",
        "tags_good": "made-up tag",
    }
    async with serving(create_app(settings)) as client:
        answer = await share(client, bad)
    assert answer.status_code == 422
    html = answer.text
    assert 'class="nhsuk-error-summary"' in html
    for field in ("title", "relationship", "email", "body", "tags_good"):
        assert f'id="{field}-error"' in html, f"no error next to {field}"
        assert f'href="#{field}"' in html, f"{field} missing from the error summary"
    assert "Enter a title for your story" in html
    assert "1,000 words or fewer" in html
    assert "Kind nurses" not in html  # the title was blank
    assert "author@example.org" not in html and 'value="not-an-email"' in html  # kept as typed
    assert await count(db(settings), "SELECT count(*) FROM stories") == 0
    assert await count(db(settings), "SELECT count(*) FROM outbox") == 0

    async with serving(create_app(settings)) as client:
        unknown_service = await share(client, {**SHARE_FORM, "place": "TAD|NO-SUCH-SERVICE"})
    assert unknown_service.status_code == 422
    assert 'id="place-error"' in unknown_service.text
    assert await count(db(settings), "SELECT count(*) FROM stories") == 0


async def test_share_follow_and_withdraw_with_confirmation(make_intake: MakeIntake) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        done = await share(client, SHARE_FORM)
        assert done.status_code == 200, done.text
        assert done.headers["cache-control"] == "no-store"
        assert done.headers["referrer-policy"] == "no-referrer"
        story_id, token = private_parts_of(done.text)
        csrf = csrf_of(done.text)

        status = await client.post(
            "/follow", data={"story": story_id, "token": token, "csrf_token": csrf}
        )
        assert status.status_code == 200
        assert 'data-status="submitted"' in status.text

        wrong = await client.post(
            "/follow", data={"story": story_id, "token": "x" * 43, "csrf_token": csrf}
        )
        assert wrong.status_code == 404
        nonsense = await client.post(
            "/follow", data={"story": "nope", "token": token, "csrf_token": csrf}
        )
        assert nonsense.status_code == 404
        confirm = await client.post(
            "/follow/withdraw", data={"story": story_id, "token": token, "csrf_token": csrf}
        )
        assert confirm.status_code == 200
        assert "Are you sure" in confirm.text
        assert 'name="confirmed" value="yes"' in confirm.text
        assert (
            await count(db(settings), "SELECT count(*) FROM stories WHERE status = 'withdrawn'")
            == 0
        )

        no_csrf = await client.post(
            "/follow/withdraw", data={"story": story_id, "token": token, "confirmed": "yes"}
        )
        assert no_csrf.status_code == 403

        withdrawn = await client.post(
            "/follow/withdraw",
            data={"story": story_id, "token": token, "confirmed": "yes", "csrf_token": csrf},
        )
        assert withdrawn.status_code == 200
        assert 'data-status="withdrawn"' in withdrawn.text
        assert "Withdraw my story" not in withdrawn.text
        again = await client.post(
            "/follow", data={"story": story_id, "token": token, "csrf_token": csrf}
        )
        assert 'data-status="withdrawn"' in again.text

    row_count = await count(
        db(settings),
        f"SELECT count(*) FROM stories WHERE id = '{uuid.UUID(story_id)}' AND status = 'withdrawn'",
    )
    assert row_count == 1
    events = await count(db(settings), "SELECT count(*) FROM outbox")
    assert events >= 2  # story.submitted and story.withdrawn (relay may have sent them)


async def test_the_share_page_shares_the_api_rate_limit(make_intake: MakeIntake) -> None:
    settings = await make_intake(submission_rate_limit=1)
    async with serving(create_app(settings)) as client:
        first = await share(client, SHARE_FORM)
        second = await share(client, SHARE_FORM)
        api = await client.post("/v1/stories", json=STORY)
    assert first.status_code == 200
    assert second.status_code == 429 and "retry-after" in second.headers
    assert api.status_code == 429
    assert await count(db(settings), "SELECT count(*) FROM stories") == 1


async def _published_story(client: httpx.AsyncClient, database_url: str) -> str:
    done = await share(client, SHARE_FORM)
    story_id, _ = private_parts_of(done.text)
    conn = await asyncpg.connect(database_url)
    try:
        await repository.PostgresStories(conn).mark_published(
            uuid.UUID(story_id), datetime.now(UTC), 1
        )
    finally:
        await conn.close()
    return story_id


def staff_token(organisation_id: str = "TAD") -> str:
    return issue_token(
        SECRET, role=Role.STAFF, subject="ward-manager@tad", organisation_id=organisation_id
    )


async def sign_in(
    client: httpx.AsyncClient, token: str, next_page: str = "/respond"
) -> httpx.Response:
    page = await client.get("/respond/sign-in", params={"next": next_page})
    return await client.post(
        "/respond/sign-in",
        data={"token": token, "next": next_page, "csrf_token": csrf_of(page.text)},
    )


async def test_staff_sign_in_refuses_bad_and_non_staff_tokens(make_intake: MakeIntake) -> None:
    settings = await make_intake()
    moderator = issue_token(SECRET, role=Role.MODERATOR, subject="mod")
    async with serving(create_app(settings)) as client:
        bad = await sign_in(client, "not-a-token")
        wrong_role = await sign_in(client, moderator)
        offsite = await sign_in(client, staff_token(), next_page="//evil.example/")
        unsigned = await client.get("/respond")
    assert bad.status_code == 422 and 'id="token-error"' in bad.text
    assert wrong_role.status_code == 422 and "not a staff token" in wrong_role.text
    assert offsite.status_code == 303 and offsite.headers["location"] == "/respond"
    assert "candour_session" in offsite.cookies
    assert unsigned.status_code == 200 and "ward-manager@tad" in unsigned.text


async def test_staff_respond_to_their_own_organisations_published_story(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        done = await share(client, SHARE_FORM)
        submitted_id, _ = private_parts_of(done.text)
        story_id = await _published_story(client, db(settings))

        not_signed_in = await client.get(f"/respond/{story_id}")
        assert not_signed_in.status_code == 303
        assert not_signed_in.headers["location"].startswith("/respond/sign-in?next=")

        signed = await sign_in(client, staff_token(), next_page=f"/respond/{story_id}")
        assert signed.headers["location"] == f"/respond/{story_id}"

        not_yet = await client.get(f"/respond/{submitted_id}")
        assert not_yet.status_code == 409 and "still being checked" in not_yet.text

        form = await client.get(f"/respond/{story_id}")
        assert form.status_code == 200
        csrf = csrf_of(form.text)

        no_csrf = await client.post(
            f"/respond/{story_id}",
            data={"body": "Thank you", "responder_name": "Sam", "responder_role": "Manager"},
        )
        assert no_csrf.status_code == 403

        empty = await client.post(
            f"/respond/{story_id}",
            data={"body": "", "responder_name": "", "responder_role": "", "csrf_token": csrf},
        )
        assert empty.status_code == 422
        for field in ("body", "responder_name", "responder_role"):
            assert f'id="{field}-error"' in empty.text
        assert await count(db(settings), "SELECT count(*) FROM responses") == 0

        posted = await client.post(
            f"/respond/{story_id}",
            data={
                "body": "Thank you for telling us; we have shared this with the ward.",
                "responder_name": "Sam Jones",
                "responder_role": "Ward manager",
                "change": "planned",
                "action": "publish",
                "csrf_token": csrf,
            },
        )
        assert posted.status_code == 303
        landing = await client.get(posted.headers["location"])
        assert "Your response has been published" in landing.text
        assert (
            await count(db(settings), "SELECT count(*) FROM responses WHERE change = 'planned'")
            == 1
        )

        await sign_in(client, staff_token("RXA"))
        other_org = await client.get(f"/respond/{story_id}")
        assert other_org.status_code == 403

        sign_out = await client.post(
            "/respond/sign-out", data={"csrf_token": csrf_of(other_org.text)}
        )
        assert sign_out.status_code == 303
        after = await client.get(f"/respond/{story_id}")
        assert after.status_code == 303


async def test_pages_stay_out_of_the_openapi_document(make_intake: MakeIntake) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        document = (await client.get("/openapi.json")).json()
    for path in document["paths"]:
        assert not path.startswith(("/share", "/follow", "/respond", "/stories", "/static")), path


# ---------------------------------------------------------------- issue 23: sending a story


async def test_the_same_form_sent_twice_makes_one_story(make_intake: MakeIntake) -> None:
    """A double click (or a browser resending the form) must not send the story twice."""
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        page = await client.get("/share")
        # The same body twice, as a double click sends it (with the form's key if it has one).
        key = re.search(r'name="submission_key" value="([^"]+)"', page.text)
        filled = {**SHARE_FORM, "csrf_token": csrf_of(page.text)}
        if key:
            filled["submission_key"] = key.group(1)
        first = await client.post("/share", data=filled)
        second = await client.post("/share", data=filled)
        assert await count(db(settings), "SELECT count(*) FROM stories") == 1
        assert first.status_code == 303 and first.headers["location"] == "/share/sent"
        assert second.status_code == 303 and second.headers["location"] == "/share/sent"
        shown = await client.get("/share/sent")
    assert await count(db(settings), "SELECT count(*) FROM stories") == 1
    assert await count(db(settings), "SELECT count(*) FROM outbox") <= 1  # one story.submitted
    story_id, _ = private_parts_of(shown.text)
    assert await count(db(settings), f"SELECT count(*) FROM stories WHERE id = '{story_id}'") == 1


async def test_reloading_the_confirmation_shows_the_same_story_and_sends_nothing(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        done = await share(client, SHARE_FORM)
        again = await client.get("/share/sent")
    assert done.status_code == 200 and again.status_code == 200
    assert private_parts_of(done.text) == private_parts_of(again.text)
    assert again.headers["cache-control"] == "no-store"
    assert await count(db(settings), "SELECT count(*) FROM stories") == 1


async def test_the_confirmation_says_what_happens_next_and_offers_the_private_link(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        with_email = await share(client, SHARE_FORM)
        without_email = await share(client, {**SHARE_FORM, "email": "", "notify_on_response": ""})
    story_id, token = private_parts_of(with_email.text)
    text = unescape(with_email.text)
    assert (
        "A moderator reads your story before it is published, usually within a working day" in text
    )
    assert "We will email you when the organisation responds" in text
    # The private link keeps the code in the fragment, which browsers never send.
    assert f'/follow#story={story_id}&code={token}"' in text
    assert 'id="copy-follow-link"' in text and '<script src="/share/private-link.js"' in text
    assert "We will email you" not in unescape(without_email.text)
    assert "You did not ask for an email" in unescape(without_email.text)
    # No help panel for a story screening did not flag.
    assert 'id="help-now"' not in with_email.text


async def test_an_expired_confirmation_is_a_page_not_an_error(make_intake: MakeIntake) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        answer = await client.get("/share/sent")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "This page has expired" in answer.text


DISTRESS = {
    **SHARE_FORM,
    "title": "Nobody listened",
    "body": "I told the crisis team I don't want to be here any more and nobody called back.",
}


async def test_help_now_is_brief_on_the_share_page_and_prominent_after_a_flagged_story(
    make_intake: MakeIntake,
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        form = await client.get("/share")
        done = await share(client, DISTRESS)
        story_id, token = private_parts_of(done.text)
        followed = await client.post(
            "/follow", data={"story": story_id, "token": token, "csrf_token": csrf_of(done.text)}
        )
    brief = form.text
    assert "help-now--brief" in brief
    assert brief.index("help-now--brief") < brief.index('<form method="post" action="/share"')
    for page in (brief, done.text, followed.text):
        assert "116 123" in page and "999" in page and "choose option 2" in page
    assert 'class="help-now help-now--prominent"' in done.text
    assert 'class="help-now help-now--prominent"' in followed.text
    level = await count(
        db(settings),
        f"SELECT count(*) FROM stories WHERE id = '{story_id}' AND safeguarding_level = 'serious'",
    )
    assert level == 1


async def test_each_front_door_is_the_share_page(make_intake: MakeIntake) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        home = await client.get("/", follow_redirects=True)
    assert home.status_code == 200
    assert home.headers["content-type"].startswith("text/html")
    assert "<h1>Share your story</h1>" in home.text
