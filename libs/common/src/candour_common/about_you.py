"""The optional "about you" questions and their categories, as the contract names them.

Intake asks them (every one optional, "prefer not to say" offered); `insight.voices`
carries only counts of the answers per programme; search labels them on the deep dive.
Ethnic group uses the census 2021 categories for England and Wales: intake keeps the
19 detailed categories, the published counts use the 5 high-level groups (fewer small
cells to suppress, and what population tables are usually given in).
"""

from __future__ import annotations

from enum import StrEnum


class Characteristic(StrEnum):
    AGE_BAND = "age_band"
    SEX = "sex"
    ETHNIC_GROUP = "ethnic_group"
    DISABILITY = "disability"


PREFER_NOT_TO_SAY = "prefer_not_to_say"

CHARACTERISTIC_LABELS: dict[Characteristic, str] = {
    Characteristic.AGE_BAND: "Age",
    Characteristic.SEX: "Sex",
    Characteristic.ETHNIC_GROUP: "Ethnic group",
    Characteristic.DISABILITY: "Disability",
}

AGE_BANDS: dict[str, str] = {
    "under_16": "Under 16",
    "16_24": "16 to 24",
    "25_34": "25 to 34",
    "35_44": "35 to 44",
    "45_54": "45 to 54",
    "55_64": "55 to 64",
    "65_74": "65 to 74",
    "75_84": "75 to 84",
    "85_plus": "85 or over",
}

# The census 2021 question "What is your sex?" (not gender identity, a separate question).
SEXES: dict[str, str] = {"female": "Female", "male": "Male"}

# Census 2021 "Are you disabled under the Equality Act?", answered yes or no.
DISABILITY: dict[str, str] = {"yes": "Disabled", "no": "Not disabled"}

# The 5 high-level census 2021 ethnic groups (England and Wales).
ETHNIC_GROUPS: dict[str, str] = {
    "asian": "Asian, Asian British or Asian Welsh",
    "black": "Black, Black British, Black Welsh, Caribbean or African",
    "mixed": "Mixed or Multiple ethnic groups",
    "white": "White",
    "other": "Other ethnic group",
}

# The 19 detailed census 2021 categories: code -> (high-level group, label).
ETHNIC_CATEGORIES: dict[str, tuple[str, str]] = {
    "asian_bangladeshi": ("asian", "Bangladeshi"),
    "asian_chinese": ("asian", "Chinese"),
    "asian_indian": ("asian", "Indian"),
    "asian_pakistani": ("asian", "Pakistani"),
    "asian_other": ("asian", "Any other Asian background"),
    "black_african": ("black", "African"),
    "black_caribbean": ("black", "Caribbean"),
    "black_other": ("black", "Any other Black, Black British or Caribbean background"),
    "mixed_white_asian": ("mixed", "White and Asian"),
    "mixed_white_black_african": ("mixed", "White and Black African"),
    "mixed_white_black_caribbean": ("mixed", "White and Black Caribbean"),
    "mixed_other": ("mixed", "Any other Mixed or Multiple ethnic background"),
    "white_british": ("white", "English, Welsh, Scottish, Northern Irish or British"),
    "white_irish": ("white", "Irish"),
    "white_gypsy_irish_traveller": ("white", "Gypsy or Irish Traveller"),
    "white_roma": ("white", "Roma"),
    "white_other": ("white", "Any other White background"),
    "other_arab": ("other", "Arab"),
    "other_any": ("other", "Any other ethnic group"),
}

# What a person may answer to each question (besides "prefer not to say").
ANSWERS: dict[Characteristic, dict[str, str]] = {
    Characteristic.AGE_BAND: AGE_BANDS,
    Characteristic.SEX: SEXES,
    Characteristic.ETHNIC_GROUP: {code: label for code, (_, label) in ETHNIC_CATEGORIES.items()},
    Characteristic.DISABILITY: DISABILITY,
}

# The categories the published counts use (ethnic group: the high-level groups).
SUMMARY_CATEGORIES: dict[Characteristic, dict[str, str]] = {
    Characteristic.AGE_BAND: AGE_BANDS,
    Characteristic.SEX: SEXES,
    Characteristic.ETHNIC_GROUP: ETHNIC_GROUPS,
    Characteristic.DISABILITY: DISABILITY,
}


def summary_category(characteristic: Characteristic, answer: str) -> str:
    """The category an answer is counted under in the published summary."""
    if characteristic is Characteristic.ETHNIC_GROUP:
        return ETHNIC_CATEGORIES[answer][0]
    return answer


# Counts below this are never published (NHS England's rule for the Friends and Family Test).
SUPPRESS_BELOW = 5
