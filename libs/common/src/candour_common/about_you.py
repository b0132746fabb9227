"""The optional "about you" questions and their categories, as the contract names them.

Intake asks them (every one optional, "prefer not to say" offered); `insight.voices`
carries only counts of the answers per programme; search labels them on the deep dive.
Ethnic group uses the census 2021 categories for England and Wales: intake keeps the
19 detailed categories, the published counts use the 5 high-level groups (fewer small
cells to suppress, and what population tables are usually given in).
"""

from __future__ import annotations

from enum import StrEnum

from candour_common.translatable import N_


class Characteristic(StrEnum):
    AGE_BAND = "age_band"
    SEX = "sex"
    ETHNIC_GROUP = "ethnic_group"
    DISABILITY = "disability"


PREFER_NOT_TO_SAY = "prefer_not_to_say"

CHARACTERISTIC_LABELS: dict[Characteristic, str] = {
    Characteristic.AGE_BAND: N_("Age"),
    Characteristic.SEX: N_("Sex"),
    Characteristic.ETHNIC_GROUP: N_("Ethnic group"),
    Characteristic.DISABILITY: N_("Disability"),
}

AGE_BANDS: dict[str, str] = {
    "under_16": N_("Under 16"),
    "16_24": N_("16 to 24"),
    "25_34": N_("25 to 34"),
    "35_44": N_("35 to 44"),
    "45_54": N_("45 to 54"),
    "55_64": N_("55 to 64"),
    "65_74": N_("65 to 74"),
    "75_84": N_("75 to 84"),
    "85_plus": N_("85 or over"),
}

# The census 2021 question "What is your sex?" (not gender identity, a separate question).
SEXES: dict[str, str] = {"female": N_("Female"), "male": N_("Male")}

# Census 2021 "Are you disabled under the Equality Act?", answered yes or no.
DISABILITY: dict[str, str] = {"yes": N_("Disabled"), "no": N_("Not disabled")}

# The 5 high-level census 2021 ethnic groups (England and Wales).
ETHNIC_GROUPS: dict[str, str] = {
    "asian": N_("Asian, Asian British or Asian Welsh"),
    "black": N_("Black, Black British, Black Welsh, Caribbean or African"),
    "mixed": N_("Mixed or Multiple ethnic groups"),
    "white": N_("White"),
    "other": N_("Other ethnic group"),
}

# The 19 detailed census 2021 categories: code -> (high-level group, label).
ETHNIC_CATEGORIES: dict[str, tuple[str, str]] = {
    "asian_bangladeshi": ("asian", N_("Bangladeshi")),
    "asian_chinese": ("asian", N_("Chinese")),
    "asian_indian": ("asian", N_("Indian")),
    "asian_pakistani": ("asian", N_("Pakistani")),
    "asian_other": ("asian", N_("Any other Asian background")),
    "black_african": ("black", N_("African")),
    "black_caribbean": ("black", N_("Caribbean")),
    "black_other": ("black", N_("Any other Black, Black British or Caribbean background")),
    "mixed_white_asian": ("mixed", N_("White and Asian")),
    "mixed_white_black_african": ("mixed", N_("White and Black African")),
    "mixed_white_black_caribbean": ("mixed", N_("White and Black Caribbean")),
    "mixed_other": ("mixed", N_("Any other Mixed or Multiple ethnic background")),
    "white_british": ("white", N_("English, Welsh, Scottish, Northern Irish or British")),
    "white_irish": ("white", N_("Irish")),
    "white_gypsy_irish_traveller": ("white", N_("Gypsy or Irish Traveller")),
    "white_roma": ("white", N_("Roma")),
    "white_other": ("white", N_("Any other White background")),
    "other_arab": ("other", N_("Arab")),
    "other_any": ("other", N_("Any other ethnic group")),
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
