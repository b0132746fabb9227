"""The staff's respond pages in Welsh against real PostgreSQL and Kafka: the inbox, the
respond form with its errors, the preview, the published answer, changing and deleting
it, and the message when the time to change it has passed; each with `<html lang="cy">`,
Welsh words (numbers and dates through Babel) and the switch back to English.

The fixtures and helpers are those of the English staff tests.
"""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest
from babel.dates import get_month_names

from candour_common.topics import TopicNames
from candour_intake.bootstrap import create_app
from tests.infra import serving
from tests.integration.intake.conftest import MakeIntake
from tests.integration.intake.test_staff_inbox import (
    RESPONSE,
    csrf_of,
    db,
    fetch,
    published_story,
    sign_in,
    staff_token,
)

pytestmark = pytest.mark.integration

# The months as Babel (CLDR) writes them in Welsh.
WELSH_MONTHS = tuple(get_month_names("wide", locale="cy").values())


def assert_welsh(page: httpx.Response, heading: str) -> str:
    """The page is Welsh with `heading` as its h1 and a switch to English; its text."""
    text = unescape(page.text)
    assert '<html lang="cy">' in page.text, page.text[:300]
    assert f"<h1>{heading}</h1>" in text, text
    assert re.search(r'id="language-switch" href="[^"]*lang=en" hreflang="en"', page.text)
    assert "Signed in as" not in text and "Sign out" not in text
    assert "Wedi mewngofnodi fel" in text and ">Allgofnodi</button>" in text
    return text


async def test_the_respond_pages_are_in_welsh(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake(response_edit_minutes=30)
    async with serving(create_app(settings)) as client:
        story_id = await published_story(
            client, settings, kafka_bootstrap, topics, title="Gofal da", criticality=2
        )
        # A Welsh link followed before signing in leads to the Welsh sign-in form.
        redirected = await client.get("/respond?lang=cy")
        assert redirected.status_code == 303
        assert redirected.headers["location"].startswith("/respond/sign-in")
        assert redirected.headers["set-cookie"].startswith("lang=cy;")
        assert '<html lang="cy">' in (await client.get(redirected.headers["location"])).text
        client.cookies.delete("lang")
        await sign_in(client, staff_token())

        inbox = await client.get("/respond?lang=cy")
        assert inbox.status_code == 200
        text = assert_welsh(
            inbox, "Straeon i'w hateb ar gyfer Bradford District Care NHS Foundation Trust"
        )
        assert '<h2 id="stories">1 stori</h2>' in text
        assert "heb gael ateb eto" in text and "cyhoeddwyd" in text
        assert "ychydig yn feirniadol" in text  # criticality 2, from the shared catalogue
        assert ">Dangos straeon</button>" in text
        assert any(f" {month} " in text for month in WELSH_MONTHS)

        wrong = await client.get("/respond?criticality=9")  # the cookie keeps Welsh
        assert wrong.status_code == 422
        assert "Dewiswch lefel feirniadol o'r rhestr" in unescape(wrong.text)

        form = await client.get(f"/respond/{story_id}")
        text = assert_welsh(form, "Ymateb i stori")
        assert "Ymatebion cynharach" in text and "Does neb wedi ymateb i'r stori hon eto." in text
        assert "am 30 munud wedyn" in text
        assert "Hyd at 1,000 o eiriau." in text
        assert ">Rhagweld eich ymateb</button>" in text
        csrf = csrf_of(form.text)

        empty = await client.post(
            f"/respond/{story_id}",
            data={"body": "", "responder_name": "", "responder_role": "", "csrf_token": csrf},
        )
        assert empty.status_code == 422
        text = assert_welsh(empty, "Ymateb i stori")
        assert "Mae problem wedi codi" in text
        assert "Ysgrifennwch eich ymateb" in text
        assert "Rhowch eich enw fel y dylai gael ei ddangos" in text

        preview = await client.post(
            f"/respond/{story_id}", data={**RESPONSE, "action": "preview", "csrf_token": csrf}
        )
        text = assert_welsh(preview, "Gwiriwch eich ymateb cyn iddo gael ei gyhoeddi")
        assert "Rydym yn cynllunio newid oherwydd y stori hon" in text
        assert ">Cyhoeddi'r ymateb</button>" in text

        published = await client.post(
            f"/respond/{story_id}", data={**RESPONSE, "action": "publish", "csrf_token": csrf}
        )
        assert published.status_code == 303
        landing = await client.get(published.headers["location"])
        text = assert_welsh(landing, "Ymateb i stori")
        assert "Mae eich ymateb wedi'i gyhoeddi." in text
        assert "Gallwch newid neu ddileu'r ymateb hwn tan" in text
        assert "postiwyd" in text

        response_id = str(await fetch(db(settings), "SELECT id FROM responses"))
        edit = await client.get(f"/respond/{story_id}/responses/{response_id}/edit")
        assert_welsh(edit, "Newid eich ymateb")
        delete = await client.get(f"/respond/{story_id}/responses/{response_id}/delete")
        text = assert_welsh(delete, "Dileu eich ymateb?")
        assert ">Ydw, dileu fy ymateb</button>" in text

        english = await client.get(f"/respond/{story_id}?lang=en")
        assert "<h1>Respond to a story</h1>" in english.text
        assert "Ymateb i stori" not in english.text


async def test_a_closed_edit_window_is_explained_in_welsh(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        story_id = await published_story(client, settings, kafka_bootstrap, topics, title="S")
        await sign_in(client, staff_token())
        page = await client.get(f"/respond/{story_id}?lang=cy")
        answer = await client.post(
            f"/respond/{story_id}",
            data={**RESPONSE, "action": "publish", "csrf_token": csrf_of(page.text)},
        )
        assert answer.status_code == 303
        response_id = await fetch(db(settings), "SELECT id FROM responses")
        await fetch(  # 31 minutes later: the 30 minutes to change it have passed
            db(settings),
            "UPDATE responses SET posted_at = posted_at - interval '31 minutes' WHERE id = $1",
            response_id,
        )
        late = await client.get(f"/respond/{story_id}/responses/{response_id}/edit")
        assert late.status_code == 409
        text = assert_welsh(late, "Ni ellir newid yr ymateb hwn mwyach")
        assert "Gellir newid neu ddileu ymateb am 30 munud ar ôl ei bostio" in text
