"""The share form's field mapping and the sign-in redirect rule, without a server."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.datastructures import FormData

from candour_intake.entrypoints.pages import RESPOND, _field_errors, _read_share_form
from candour_intake.entrypoints.schemas import StoryIn

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/stories/1/respond", "/stories/1/respond"),
        ("//evil.example/", "/respond"),
        ("https://evil.example/", "/respond"),
        ("/\\evil.example", "/respond"),
        ("", "/respond"),
    ],
)
def test_only_paths_on_this_site_follow_sign_in(target: str, expected: str) -> None:
    assert RESPOND.safe_next(target) == expected


def test_validation_errors_are_named_after_the_form_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        StoryIn.model_validate(
            {
                "title": "",
                "body": "word " * 1001,
                "organisation_id": "",
                # No name is fine (shown as "Anonymous"); the form sends None for an empty box.
                "author": {"display_name": None, "relationship": None, "email": "nope"},
            }
        )
    errors = _field_errors(caught.value)
    assert errors["title"] == "Enter a title for your story"
    assert errors["body"] == "Your story must be 1,000 words or fewer"
    assert errors["place"] == "Choose the organisation or service your story is about"
    assert "display_name" not in errors
    assert errors["relationship"] == "Choose how you are related to the care"
    assert errors["email"].startswith("Enter an email address")


def test_the_form_splits_the_place_and_checks_tags_against_the_fixed_lists() -> None:
    form = FormData(
        [
            ("place", "TAD|TAD-CMHT"),
            ("tags_good", "kindness"),
            ("tags_improve", "<script>"),
            ("notify_on_response", "yes"),
        ]
    )
    values, errors = _read_share_form(form)
    assert values["organisation_id"] == "TAD" and values["service_id"] == "TAD-CMHT"
    assert values["tags"]["good"] == ["kindness"]
    assert errors == {
        "tags_improve": "Choose from the listed options",
        "email": "Enter your email address so we can tell you when they respond",
    }
    whole_org, _ = _read_share_form(FormData([("place", "TAD")]))
    assert whole_org["organisation_id"] == "TAD" and whole_org["service_id"] is None
