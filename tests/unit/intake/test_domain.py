import uuid

import pytest

from candour_intake.adapters.directory_csv import DirectoryFileError, parse_directory
from candour_intake.adapters.feedback_csv import FeedbackFileError, parse_feedback
from candour_intake.domain import (
    StoryState,
    StoryStatus,
    hash_token,
    new_author_token,
    request_fingerprint,
)

pytestmark = pytest.mark.unit


def test_author_tokens_are_random_and_kept_only_as_a_hash() -> None:
    token, digest = new_author_token()
    other, _ = new_author_token()
    assert token != other and len(token) >= 40
    assert digest == hash_token(token) and token.encode() not in digest
    state = StoryState(uuid.uuid4(), "TAD", StoryStatus.SUBMITTED, digest, None, 0)
    assert state.authored_by(token)
    assert not state.authored_by(other)


def test_request_fingerprint_depends_on_body_and_path() -> None:
    a = request_fingerprint("POST", "/v1/stories", b"{}")
    assert a == request_fingerprint("POST", "/v1/stories", b"{}")
    assert a != request_fingerprint("POST", "/v1/stories", b"{ }")
    assert a != request_fingerprint("POST", "/v1/other", b"{}")


def test_directory_csv_groups_services_and_reports_every_bad_line() -> None:
    text = (
        "organisation_id,organisation_name,organisation_type,service_id,service_name,programme\n"
        "TAD,Bradford District Care,nhs_trust,TAD-CMHT,Community mental health team,mental-health\n"
        "TAD,Bradford District Care,nhs_trust,TAD-WARD,Inpatient ward,\n"
    )
    [org] = parse_directory(text)
    assert [(s.id, s.programme) for s in org.services] == [
        ("TAD-CMHT", "mental-health"),
        ("TAD-WARD", None),
    ]
    bad = text + "t a d,Bad,nhs_trust,,\nRXA,,nhs_trust,,\nRXA,Cheshire,nhs_trust,TAD-CMHT,Clash,\n"
    with pytest.raises(DirectoryFileError) as caught:
        parse_directory(bad)
    assert [e.line for e in caught.value.errors] == [4, 5, 6]


def test_feedback_csv_defaults_and_line_numbers() -> None:
    header = "external_id,organisation_id,title,body,individuals,patients\n"
    [entry] = parse_feedback(header + "A1,tad,Title,Body text,,\n", source="healthwatch")  # type: ignore[arg-type]
    assert entry.line == 2
    assert entry.command.organisation_id == "TAD"
    assert entry.command.represents.individuals == 1
    assert entry.command.author.email is None
    with pytest.raises(FeedbackFileError) as caught:
        parse_feedback(header + "A1,TAD,,Body,1,0\nA2,TAD,T,B,0,0\n", source="healthwatch")  # type: ignore[arg-type]
    assert [e.line for e in caught.value.errors] == [2, 3]
