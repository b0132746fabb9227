"""The console's story page in Welsh over real PostgreSQL: its words, the errors and
conflicts made in Python, numbers and times through Babel, and the language switch.

The fixtures and helpers are those of the English console tests.
"""

from __future__ import annotations

import re

import pytest
from babel.dates import get_month_names

from candour_common.auth import Role
from tests.integration.moderation.test_console_pages import (
    console,
    csrf_of,
    queue,
    sign_in,
    story,
    token,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

__all__ = ["console"]  # the fixture, found by its name


async def test_the_story_page_and_its_errors_are_in_welsh(console) -> None:
    app, client = console
    serious = story("Since discharge I want to kill myself. Email me at sam.t@example.org.")
    await queue(app, serious)
    path = f"/console/stories/{serious.story_id}"
    # A Welsh link followed before signing in leads to the Welsh sign-in form.
    redirected = await client.get(f"{path}?lang=cy")
    assert redirected.status_code == 303
    assert redirected.headers["location"] == "/console/sign-in"
    assert redirected.headers["set-cookie"].startswith("lang=cy;")
    sign_in_form = await client.get("/console/sign-in")
    assert '<html lang="cy">' in sign_in_form.text
    client.cookies.delete("lang")
    await sign_in(client)

    page = await client.get(f"{path}?lang=cy")
    assert page.status_code == 200
    assert '<html lang="cy">' in page.text
    assert re.search(r'id="language-switch" href="[^"]*lang=en" hreflang="en"', page.text)
    assert '<h2 id="decision">Eich penderfyniad</h2>' in page.text
    assert ">Cymeradwyo a chyhoeddi</button>" in page.text
    assert ">Gwrthod</button>" in page.text
    assert "Golygiadau a awgrymir" in page.text
    assert "(cyfeiriad e-bost, yn y stori)" in page.text
    assert "hunanladdiad" in page.text  # the screening category, from moderation's catalogue
    assert "(claf)" in page.text  # the author's relationship
    assert ">caredigrwydd</span>" in page.text  # a tag, from the shared vocabulary
    assert "Approve and publish" not in page.text
    csrf = csrf_of(page)

    # Errors made in Python, with their numbers, in Welsh (the cookie keeps the language).
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
    assert '<html lang="cy">' in long_title.text
    assert "Mae problem wedi codi" in long_title.text
    assert "Rhaid i&#39;r teitl fod yn 120 nod neu lai" in long_title.text
    no_reason = await client.post(f"{path}/reject", data={"csrf_token": csrf, "reason": ""})
    assert no_reason.status_code == 422
    assert "Dewiswch pam mae&#39;r stori&#39;n cael ei gwrthod" in no_reason.text

    english = await client.get(f"{path}?lang=en")
    assert '<h2 id="decision">Your decision</h2>' in english.text
    assert "Choose why the story is rejected" not in english.text


async def test_a_claim_and_its_conflict_say_the_time_in_welsh(console) -> None:
    app, client = console
    submitted = story("The nurses were kind.")
    await queue(app, submitted)
    bob = {"Authorization": f"Bearer {token(Role.MODERATOR, 'mod-bob')}"}
    assert (await client.post(f"/v1/queue/{submitted.story_id}/claim", headers=bob)).is_success
    await sign_in(client)
    path = f"/console/stories/{submitted.story_id}"

    page = await client.get(f"{path}?lang=cy")
    assert "<strong>mod-bob</strong> yn gweithio ar y stori hon tan" in page.text
    conflict = await client.post(
        f"{path}/approve",
        data={"csrf_token": csrf_of(page), "action": "approve", "criticality": "0"},
    )
    assert conflict.status_code == 409
    # "… tan 6 Rhagfyr 2026, 1:05yh GMT": the month in Welsh, the clock as Welsh writes it.
    assert re.search(
        r"Mae mod-bob yn gweithio ar y stori hon tan "
        r"\d{1,2} \w+ \d{4}, \d{1,2}:\d\d(yb|yh) (GMT|BST)",
        conflict.text,
    ), conflict.text
    months = get_month_names("wide", locale="cy").values()  # as Babel (CLDR) writes them
    assert any(f" {month} " in conflict.text for month in months)


async def test_screening_explains_itself_in_welsh_on_a_welsh_page(console) -> None:
    """The safeguarding reason and the limits come from the screening library, stored in
    English: the Welsh page says them in Welsh, the English page and the API as stored."""
    app, client = console
    flagged = story(
        "My daughter told me she wants to end her life. " + "I want to kill myself. " * 12
    )
    await queue(app, flagged)
    await sign_in(client)
    path = f"/console/stories/{flagged.story_id}"

    welsh = await client.get(f"{path}?lang=cy")
    assert welsh.status_code == 200
    assert "oherwydd: bwriad (am rywun arall)" in welsh.text
    assert re.search(r"oherwydd: bwriad\s*<", welsh.text)  # the match about the author
    assert "Yn y stori: dim ond y 10 cyfatebiaeth gyntaf ar gyfer hunanladdiad a restrir" in (
        welsh.text
    )
    assert "about someone else" not in welsh.text
    assert "matches of suicide are listed" not in welsh.text

    english = await client.get(f"{path}?lang=en")
    assert "because: intent (about someone else)" in english.text
    assert "body: only the first 10 matches of suicide are listed" in english.text

    headers = {"Authorization": f"Bearer {token(Role.MODERATOR, 'mod-alice')}"}
    detail = (await client.get(f"/v1/queue/{flagged.story_id}", headers=headers)).json()
    reasons = {m["reason"] for m in detail["screening"]["safeguarding"]["matches"]}
    assert reasons == {"intent (about someone else)", "intent"}
    assert detail["screening"]["limits"] == [
        "body: only the first 10 matches of suicide are listed"
    ]
