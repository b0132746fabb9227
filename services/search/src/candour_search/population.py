"""The local population mix an operator supplies, to set whose voices are heard beside.

A CSV with the columns `area,characteristic,category,share`: one row per area (a local
authority, an ICB, "England"...), characteristic (`age_band`, `sex`, `ethnic_group`,
`disability`) and category (the codes of candour_common.about_you; ethnic groups as the
5 high-level census 2021 groups), `share` a fraction of that area's population from 0
to 1 (e.g. 0.125), or a percentage (`12.5%`). The shares of one area and characteristic
must add up to 1 (within 0.02: published tables are rounded). Any error names its line
(the header is line 1).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from candour_common.about_you import SUMMARY_CATEGORIES, Characteristic

COLUMNS = ("area", "characteristic", "category", "share")
SUM_TOLERANCE = 0.02


class PopulationFileError(ValueError):
    """The population file cannot be used; the message names the line and what is wrong."""


@dataclass(frozen=True, slots=True)
class Population:
    """Population shares: area -> characteristic -> category -> share (0..1)."""

    shares: dict[str, dict[Characteristic, dict[str, float]]] = field(default_factory=dict)

    @property
    def areas(self) -> list[str]:
        return sorted(self.shares)

    def of(self, area: str) -> dict[Characteristic, dict[str, float]]:
        return self.shares.get(area, {})


def _share(text: str, line: int) -> float:
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise PopulationFileError(
            f"line {line}: share {raw!r} is not a number (use 0.125 or 12.5%)"
        ) from None
    if not 0 <= value <= 1:
        raise PopulationFileError(f"line {line}: share must be between 0 and 1 (or 0% and 100%)")
    return value


def parse_population(text: str) -> Population:
    """The population shares in `text`, or PopulationFileError naming the first bad line."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise PopulationFileError(f"line 1: missing columns: {', '.join(missing)}")
    shares: dict[str, dict[Characteristic, dict[str, float]]] = {}
    first_line: dict[tuple[str, Characteristic], int] = {}
    for row in reader:
        line = reader.line_num
        values = {c: (row.get(c) or "").strip() for c in COLUMNS}
        if not any(values.values()):
            continue
        area = values["area"]
        if not area:
            raise PopulationFileError(f"line {line}: area is empty")
        try:
            characteristic = Characteristic(values["characteristic"])
        except ValueError:
            allowed = ", ".join(c.value for c in Characteristic)
            raise PopulationFileError(
                f"line {line}: characteristic {values['characteristic']!r} is not one of {allowed}"
            ) from None
        categories = SUMMARY_CATEGORIES[characteristic]
        if values["category"] not in categories:
            raise PopulationFileError(
                f"line {line}: category {values['category']!r} is not a {characteristic.value} "
                f"category ({', '.join(categories)})"
            )
        by_category = shares.setdefault(area, {}).setdefault(characteristic, {})
        if values["category"] in by_category:
            raise PopulationFileError(
                f"line {line}: {area} {characteristic.value} {values['category']} is given twice"
            )
        first_line.setdefault((area, characteristic), line)
        by_category[values["category"]] = _share(values["share"], line)
    for (area, characteristic), line in first_line.items():
        total = sum(shares[area][characteristic].values())
        if abs(total - 1) > SUM_TOLERANCE:
            raise PopulationFileError(
                f"line {line}: the {characteristic.value} shares of {area} add up to "
                f"{total:.3f}, not 1"
            )
    return Population(shares)


def load_population(path: Path | None) -> Population:
    """The file's shares (an empty Population without a file)."""
    if path is None:
        return Population()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PopulationFileError(f"cannot read {path}: {exc.strerror}") from None
    return parse_population(text)
