"""The directory in Welsh (#20): Welsh names and the staff email language come in with
the CSV import, a bad value names its line and column, and pages pick the name of
their language."""

from __future__ import annotations

import pytest

from candour_common.events import OrganisationLanguage
from candour_intake.adapters.directory_csv import DirectoryFileError, parse_directory
from candour_intake.domain import Organisation, Service

pytestmark = pytest.mark.unit

HEADER = (
    "organisation_id,organisation_name,organisation_name_cy,organisation_type,"
    "email_language,service_id,service_name,service_name_cy,programme\n"
)
BETSI = "Betsi Cadwaladr University Health Board"
BETSI_CY = "Bwrdd Iechyd Prifysgol Betsi Cadwaladr"


def test_welsh_names_and_the_email_language_are_read_per_organisation() -> None:
    text = HEADER + (
        f"7A1,{BETSI},{BETSI_CY},local_health_board,bilingual,7A1-CMHT,"
        "Community mental health team,Tîm iechyd meddwl cymunedol,mental-health\n"
        # Later rows of the same organisation may leave its own columns empty.
        f"7A1,{BETSI},,local_health_board,,7A1-WARD,Adult inpatient ward,,mental-health\n"
        "TAD,Bradford District Care,,nhs_trust,,TAD-CMHT,Community mental health team,,\n"
        "7A7,Powys Teaching Health Board,Bwrdd Iechyd Addysgu Powys,local_health_board,CY,,,,\n"
    )
    organisations = {o.id: o for o in parse_directory(text)}
    betsi = organisations["7A1"]
    assert (betsi.name_cy, betsi.email_language) == (BETSI_CY, OrganisationLanguage.BILINGUAL)
    assert [(s.id, s.name_cy) for s in betsi.services] == [
        ("7A1-CMHT", "Tîm iechyd meddwl cymunedol"),
        ("7A1-WARD", None),
    ]
    # No Welsh name and no language: English, as before the columns existed.
    assert (organisations["TAD"].name_cy, organisations["TAD"].email_language) == (
        None,
        OrganisationLanguage.ENGLISH,
    )
    assert organisations["7A7"].email_language is OrganisationLanguage.WELSH


def test_a_file_without_the_welsh_columns_still_imports_in_english() -> None:
    text = (
        "organisation_id,organisation_name,organisation_type,service_id,service_name\n"
        "TAD,Bradford District Care,nhs_trust,TAD-CMHT,Community mental health team\n"
    )
    [org] = parse_directory(text)
    assert org.name_cy is None and org.email_language is OrganisationLanguage.ENGLISH
    assert org.services[0].name_cy is None


def test_bad_welsh_columns_name_the_line_and_the_column() -> None:
    text = HEADER + (
        f"7A1,{BETSI},{BETSI_CY},local_health_board,welsh,7A1-CMHT,CMHT,,\n"
        f"7A2,Hywel Dda,Bwrdd Iechyd Prifysgol Hywel Dda,local_health_board,cy,,,,\n"
        f"7A2,Hywel Dda,,local_health_board,en,7A2-WARD,Ward,,\n"
        f"7A3,Swansea Bay,Bae Abertawe,local_health_board,,,,\n"
        f"7A3,Swansea Bay,Bae Arall,local_health_board,,,,\n"
        "TAD,Bradford District Care,,nhs_trust,,,,Tîm heb wasanaeth,\n"
    )
    with pytest.raises(DirectoryFileError) as caught:
        parse_directory(text)
    errors = [(e.line, e.message) for e in caught.value.errors]
    assert [line for line, _ in errors] == [2, 4, 6, 7]
    assert (
        errors[0][1] == "email_language 'welsh' must be one of en, cy, bilingual (empty means en)"
    )
    assert errors[1][1].startswith("email_language 'en' contradicts 'cy'")
    assert errors[2][1].startswith("organisation_name_cy 'Bae Arall' contradicts 'Bae Abertawe'")
    assert errors[3][1] == "service_name_cy is given without a service"
    # The CLI prints them as FILE:LINE: message, nothing imported.
    assert "line 2: email_language 'welsh'" in str(caught.value)


def test_pages_show_the_name_of_their_language() -> None:
    service = Service("7A1-CMHT", "Community mental health team", name_cy="Tîm iechyd meddwl")
    betsi = Organisation("7A1", BETSI, "local_health_board", (service,), name_cy=BETSI_CY)
    assert betsi.name_in("cy") == BETSI_CY and betsi.name_in("en") == BETSI
    assert service.name_in("cy") == "Tîm iechyd meddwl"
    english_only = Organisation("TAD", "Bradford District Care", "nhs_trust")
    assert english_only.name_in("cy") == "Bradford District Care"
