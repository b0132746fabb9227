"""Reads the organisation directory from CSV, reporting bad rows by line number.

Columns: `organisation_id` (ODS code), `organisation_name`, `organisation_type`,
`service_id`, `service_name`, and optionally `programme` (e.g. `mental-health`);
one row per service (service columns may be empty for an organisation without
services).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

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
    orgs: dict[str, dict[str, str]] = {}
    services: dict[str, dict[str, tuple[str, str | None]]] = {}
    service_owner: dict[str, str] = {}
    for row in reader:
        line = reader.line_num
        ods = (row["organisation_id"] or "").strip().upper()
        name = (row["organisation_name"] or "").strip()
        if not _ODS.match(ods):
            errors.append(RowError(line, f"organisation_id {ods!r} is not an ODS code"))
            continue
        if not name:
            errors.append(RowError(line, "organisation_name is empty"))
            continue
        orgs.setdefault(
            ods, {"name": name, "type": (row["organisation_type"] or "").strip() or "nhs_trust"}
        )
        sid = (row["service_id"] or "").strip()
        sname = (row["service_name"] or "").strip()
        if not sid and not sname:
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
        programme = (row.get("programme") or "").strip().lower() or None
        if programme is not None and not _PROGRAMME.match(programme):
            errors.append(
                RowError(line, f"programme {programme!r} must be lower-case words joined by -")
            )
            continue
        services.setdefault(ods, {})[sid] = (sname, programme)
    if errors:
        raise DirectoryFileError(errors)
    return [
        Organisation(
            id=ods,
            name=o["name"],
            type=o["type"],
            services=tuple(
                Service(id=sid, name=sn, programme=pg)
                for sid, (sn, pg) in services.get(ods, {}).items()
            ),
        )
        for ods, o in orgs.items()
    ]
