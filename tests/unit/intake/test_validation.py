from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from candour_intake.entrypoints.schemas import ResponseIn, StoryIn

pytestmark = pytest.mark.unit

VALID = {
    "title": "Seen quickly",
    "body": "The crisis team came the same evening.",
    "organisation_id": "TAD",
    "author": {"display_name": "Sam", "relationship": "carer"},
}


def fields_of(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in exc.errors()}


def months_ago(n: int) -> str:
    now = datetime.now(UTC)
    total = now.year * 12 + now.month - 1 - n
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def test_a_minimal_story_is_valid_with_defaults() -> None:
    story = StoryIn.model_validate(VALID)
    assert story.author.notify_on_response is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("source", "healthwatch"),
        ("external_id", "HW-1"),
        ("assisted_by", "A volunteer"),
        ("represents", {"individuals": 3}),
    ],
)
def test_operator_only_fields_are_refused_by_name(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        StoryIn.model_validate({**VALID, field: value})
    [error] = caught.value.errors()
    assert error["loc"] == (field,)
    assert error["type"] == "operator_only"
    assert "candour import feedback" in error["msg"]


def test_operator_only_fields_are_not_in_the_public_schema() -> None:
    properties = StoryIn.model_json_schema()["properties"]
    assert not {"source", "external_id", "assisted_by", "represents"} & set(properties)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"body": "word " * 1001}, "body"),
        ({"surprise": True}, "surprise"),
        ({"author": {"display_name": "Sam", "relationship": "cousin"}}, "author.relationship"),
        (
            {"author": {"display_name": "Sam", "relationship": "carer", "email": "nope"}},
            "author.email",
        ),
        ({"tags": {"good": ["x"] * 11}}, "tags.good"),
        ({"tags": {"good": ["x" * 41]}}, "tags.good.0"),
        ({"experienced_at": "2024-13"}, "experienced_at"),
        ({"experienced_at": months_ago(-1)}, "experienced_at"),
        ({"experienced_at": months_ago(37)}, "experienced_at"),
        ({"represents": {"individuals": 2, "patients": 2, "carers": 1}}, "represents"),
        ({"source": "carrier_pigeon"}, "source"),
    ],
)
def test_bad_input_names_the_field(change: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        StoryIn.model_validate({**VALID, **change})
    assert field in fields_of(caught.value)


def test_exactly_1000_words_and_a_recent_month_are_fine() -> None:
    StoryIn.model_validate({**VALID, "body": "word " * 1000, "experienced_at": months_ago(36)})


def test_response_body_limits_and_change_marker() -> None:
    ok = ResponseIn.model_validate(
        {
            "body": "Thank you.",
            "responder": {"display_name": "Jo", "role": "Matron"},
            "change": "made",
        }
    )
    assert ok.change == "made"
    with pytest.raises(ValidationError) as caught:
        ResponseIn.model_validate(
            {"body": "x", "responder": {"display_name": "Jo", "role": "Matron"}, "change": "maybe"}
        )
    assert "change" in fields_of(caught.value)
