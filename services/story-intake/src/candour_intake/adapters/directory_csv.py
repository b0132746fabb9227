"""Reads the organisation directory from CSV, reporting bad rows by line number.

Columns: `organisation_id` (ODS code), `organisation_name`, `organisation_type`,
`service_id`, `service_name`, and optionally `programme` (e.g. `mental-health`),
`organisation_name_cy` and `service_name_cy` (the Welsh names, where there are any) and
`email_language` (`en`, the default; `cy`; or `bilingual`: the language of the
organisation's staff emails); one row per service (service columns may be empty for an
organisation without services). An organisation's own columns must agree on every row
that names it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from candour_common.events import OrganisationLanguage
from candour_intake.domain import Organisation, Service

COLUMNS = (
    "organisation_id",
    "organisation_name",
    "organisation_type",
    "service_id",
    "service_name",
)
_ODS = re.compile(r"^[A-Z0-9]{3,10}$")
_PROGRAMME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_SERVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_EMAIL_LANGUAGES = ", ".join(language.value for language in OrganisationLanguage)


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str


class DirectoryFileError(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(f"line {e.line}: {e.message}" for e in errors))
        self.errors = errors


def parse_directory(text: str) -> list[Organisation]:
    """All rows valid, or DirectoryFileError listing every bad one (nothing partial)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DirectoryFileError([RowError(1, f"missing columns: {', '.join(missing)}")])
    errors: list[RowError] = []
    orgs: dict[str, _OrganisationColumns] = {}
    services: dict[str, dict[str, Service]] = {}
    service_owner: dict[str, str] = {}
    for row in reader:
        line = reader.line_num
        ods = _cell(row, "organisation_id").upper()
        name = _cell(row, "organisation_name")
        if not _ODS.match(ods):
            errors.append(RowError(line, f"organisation_id {ods!r} is not an ODS code"))
            continue
        if not name:
            errors.append(RowError(line, "organisation_name is empty"))
            continue
        org = orgs.setdefault(
            ods, _OrganisationColumns(name, _cell(row, "organisation_type") or "nhs_trust")
        )
        if (problem := org.take_welsh(row)) is not None:
            errors.append(RowError(line, problem))
            continue
        sid = _cell(row, "service_id")
        sname = _cell(row, "service_name")
        if not sid and not sname:
            if _cell(row, "service_name_cy"):
                errors.append(RowError(line, "service_name_cy is given without a service"))
            continue
        if not _SERVICE_ID.match(sid) or not sname:
            errors.append(
                RowError(line, f"service {sid!r} needs an id (letters, digits, - _) and a name")
            )
            continue
        if service_owner.get(sid, ods) != ods:
            errors.append(
                RowError(line, f"service {sid!r} already belongs to {service_owner[sid]}")
            )
            continue
        service_owner[sid] = ods
        programme = _cell(row, "programme").lower() or None
        if programme is not None and not _PROGRAMME.match(programme):
            errors.append(
                RowError(line, f"programme {programme!r} must be lower-case words joined by -")
            )
            continue
        services.setdefault(ods, {})[sid] = Service(
            id=sid, name=sname, programme=programme, name_cy=_cell(row, "service_name_cy") or None
        )
    if errors:
        raise DirectoryFileError(errors)
    return [
        Organisation(
            id=ods,
            name=o.name,
            type=o.type,
            services=tuple(services.get(ods, {}).values()),
            name_cy=o.name_cy,
            email_language=o.email_language or OrganisationLanguage.ENGLISH,
        )
        for ods, o in orgs.items()
    ]


def _cell(row: dict[str | Any, str | Any], column: str) -> str:
    """A cell's text, stripped; "" for an empty cell or a column the file does not have."""
    value = row.get(column)
    return value.strip() if isinstance(value, str) else ""


@dataclass(slots=True)
class _OrganisationColumns:
    """An organisation's own columns: its name and type from its first row; its Welsh
    name and email language from the first row that gives them (an organisation's rows
    may leave them empty after that, but may not contradict them)."""

    name: str
    type: str
    name_cy: str | None = None
    email_language: OrganisationLanguage | None = None

    def take_welsh(self, row: dict[str | Any, str | Any]) -> str | None:
        """Take this row's Welsh name and email language; what is wrong with them, if any."""
        language_cell = _cell(row, "email_language")
        if language_cell:
            try:
                language = OrganisationLanguage(language_cell.lower())
            except ValueError:
                return (
                    f"email_language {language_cell!r} must be one of {_EMAIL_LANGUAGES} "
                    "(empty means en)"
                )
            if self.email_language not in (None, language):
                return (
                    f"email_language {language_cell!r} contradicts {self.email_language.value!r} "
                    "on an earlier row of the same organisation"
                )
            self.email_language = language
        name_cy = _cell(row, "organisation_name_cy")
        if name_cy:
            if self.name_cy not in (None, name_cy):
                return (
                    f"organisation_name_cy {name_cy!r} contradicts {self.name_cy!r} on an "
                    "earlier row of the same organisation"
                )
            self.name_cy = name_cy
        return None
