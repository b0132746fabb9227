"""`candour import feedback`: checked first, all or nothing, idempotent by (source, id)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.integration.intake.conftest import MakeIntake

pytestmark = pytest.mark.integration

HEADER = (
    "external_id,organisation_id,service_id,title,body,relationship,"
    "individuals,patients,carers,staff\n"
)
GOOD = [
    "HW-1,TAD,TAD-CMHT,Group session,We talked about waiting times.,patient,12,9,3,0\n",
    "HW-2,RXA,,Survey summary,Staff were kind but stretched.,staff,30,0,0,30\n",
]
BROKEN = [
    "HW-3,NOPE,,Unknown trust,Text.,patient,1,1,0,0\n",  # organisation not in the directory
    "HW-4,TAD,,,No title here.,patient,1,1,0,0\n",  # empty title
    "HW-5,TAD,,Too many,Text.,patient,2,2,1,0\n",  # roles exceed individuals
]


def candour(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "candour_cli", *args, "--database-url", url, "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )


async def count(url: str, sql: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def test_broken_rows_import_nothing_and_reruns_create_nothing_twice(
    make_intake: MakeIntake, tmp_path: Path
) -> None:
    settings = await make_intake()
    url = settings.database_url.get_secret_value()
    broken = tmp_path / "broken.csv"
    broken.write_text(HEADER + "".join(GOOD + BROKEN + ["HW-1,TAD,,Again,Dup.,patient,1,1,0,0\n"]))
    result = candour("import", "feedback", str(broken), "--source", "healthwatch", url=url)
    assert result.returncode == 1
    # Lines count the header as line 1.
    assert f"{broken}:5: title" in result.stderr
    assert f"{broken}:6:" in result.stderr and "cannot exceed individuals" in result.stderr
    assert f"{broken}:7: external_id 'HW-1' repeats line 2" in result.stderr
    assert "nothing imported" in result.stderr
    assert await count(url, "SELECT count(*) FROM stories") == 0

    # Directory errors are found before anything is imported, too.
    unknown = tmp_path / "unknown.csv"
    unknown.write_text(HEADER + "".join(GOOD + BROKEN[:1]))
    result = candour("import", "feedback", str(unknown), "--source", "healthwatch", url=url)
    assert result.returncode == 1
    assert f"{unknown}:4: organisation_id: no organisation 'NOPE'" in result.stderr
    assert await count(url, "SELECT count(*) FROM stories") == 0

    good = tmp_path / "good.csv"
    good.write_text(HEADER + "".join(GOOD))
    first = candour("import", "feedback", str(good), "--source", "healthwatch", url=url)
    assert first.returncode == 0, first.stderr
    assert "imported 2, already present 0, rejected 0" in first.stdout
    again = candour("import", "feedback", str(good), "--source", "healthwatch", url=url)
    assert "imported 0, already present 2, rejected 0" in again.stdout
    assert await count(url, "SELECT count(*) FROM stories") == 2

    conn = await asyncpg.connect(url)
    try:
        payloads = [
            json.loads(r["payload"])
            for r in await conn.fetch(
                "SELECT payload::text AS payload FROM outbox WHERE topic = 'story.submitted'"
            )
        ]
    finally:
        await conn.close()
    by_id = {p["external_id"]: p for p in payloads}
    assert set(by_id) == {"HW-1", "HW-2"}
    assert by_id["HW-1"]["source"] == "healthwatch"
    assert by_id["HW-1"]["represents"] == {
        "individuals": 12,
        "patients": 9,
        "carers": 3,
        "staff": 0,
    }
    assert by_id["HW-2"]["service"] is None


async def test_a_language_column_says_what_each_entry_is_written_in(
    make_intake: MakeIntake, tmp_path: Path
) -> None:
    """Issue 20: `language` (en or cy) is stored and put on story.submitted; blank is
    English; an unknown one names its line and imports nothing. Enough rows for the
    import's COPY path (more than one story a chunk)."""
    settings = await make_intake()
    url = settings.database_url.get_secret_value()
    header = "external_id,organisation_id,title,body,language\n"
    rows = [
        "CY-1,TAD,Nyrsys caredig,Roedd y nyrsys yn garedig iawn.,cy\n",
        "EN-1,TAD,Kind nurses,The nurses were kind.,en\n",
        "EN-2,TAD,Kind nurses,The nurses were kind.,\n",
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "".join(rows) + "FR-1,TAD,Infirmières,Très gentilles.,fr\n")
    refused = candour("import", "feedback", str(bad), "--source", "healthwatch", url=url)
    assert refused.returncode == 1
    assert f"{bad}:5: language:" in refused.stderr
    assert await count(url, "SELECT count(*) FROM stories") == 0

    good = tmp_path / "good.csv"
    good.write_text(header + "".join(rows))
    imported = candour("import", "feedback", str(good), "--source", "healthwatch", url=url)
    assert imported.returncode == 0, imported.stderr
    conn = await asyncpg.connect(url)
    try:
        stored = {
            r["external_id"]: r["language"]
            for r in await conn.fetch("SELECT external_id, language FROM stories")
        }
        announced = {
            p["external_id"]: p["language"]
            for p in (
                json.loads(r["payload"])
                for r in await conn.fetch(
                    "SELECT payload::text AS payload FROM outbox WHERE topic = 'story.submitted'"
                )
            )
        }
    finally:
        await conn.close()
    assert stored == announced == {"CY-1": "cy", "EN-1": "en", "EN-2": "en"}
