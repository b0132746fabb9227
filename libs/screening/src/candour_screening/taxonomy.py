"""What screening looks for: safeguarding categories and levels, kinds of identifying detail.

The categories follow the Care Act 2014 statutory guidance (chapter 14, the ten
types of abuse and neglect), with suicide and self-harm, and risks to children,
beside them. A category says what kind of harm; each match also carries a
`reason` (for example "means + intent", "past attempt") a moderator can read.
"""

from __future__ import annotations

from enum import StrEnum


def N_(message: str) -> str:
    """Marks a label for the Welsh catalogue of the pages that show it (moderation's;
    `make i18n-extract` finds it by this name). Here rather than imported so the
    screening library keeps to its own dependencies."""
    return message


class SafeguardingLevel(StrEnum):
    NONE = "none"
    # Needs a safeguarding look, but no emergency: publishable after review.
    CONCERN = "concern"
    # A present risk to someone's life or safety: escalate before anything else.
    SERIOUS = "serious"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {SafeguardingLevel.NONE: 0, SafeguardingLevel.CONCERN: 1, SafeguardingLevel.SERIOUS: 2}


class SafeguardingCategory(StrEnum):
    # Suicide (reasons: intent, plan, means or stockpiling, timing, final acts and
    # goodbyes, hopelessness; a past attempt or ideation that is over is a concern).
    SUICIDE = "suicide"
    SELF_HARM = "self_harm"
    # The ten types of abuse and neglect of the Care Act 2014 statutory guidance.
    PHYSICAL_ABUSE = "physical_abuse"
    DOMESTIC_ABUSE = "domestic_abuse"  # including coercive control
    SEXUAL_ABUSE = "sexual_abuse"
    PSYCHOLOGICAL_ABUSE = "psychological_abuse"
    FINANCIAL_ABUSE = "financial_abuse"  # financial or material
    MODERN_SLAVERY = "modern_slavery"
    DISCRIMINATORY_ABUSE = "discriminatory_abuse"
    ORGANISATIONAL_ABUSE = "organisational_abuse"
    NEGLECT = "neglect"  # neglect and acts of omission
    SELF_NEGLECT = "self_neglect"
    # Risks to children: grooming, exploitation (criminal or sexual).
    CHILD_EXPLOITATION = "child_exploitation"


CATEGORY_LABELS: dict[SafeguardingCategory, str] = {
    SafeguardingCategory.SUICIDE: N_("suicide"),
    SafeguardingCategory.SELF_HARM: N_("self-harm"),
    SafeguardingCategory.PHYSICAL_ABUSE: N_("physical abuse"),
    SafeguardingCategory.DOMESTIC_ABUSE: N_("domestic abuse or coercive control"),
    SafeguardingCategory.SEXUAL_ABUSE: N_("sexual abuse"),
    SafeguardingCategory.PSYCHOLOGICAL_ABUSE: N_("psychological abuse"),
    SafeguardingCategory.FINANCIAL_ABUSE: N_("financial or material abuse"),
    SafeguardingCategory.MODERN_SLAVERY: N_("modern slavery"),
    SafeguardingCategory.DISCRIMINATORY_ABUSE: N_("discriminatory abuse"),
    SafeguardingCategory.ORGANISATIONAL_ABUSE: N_("organisational abuse"),
    SafeguardingCategory.NEGLECT: N_("neglect or acts of omission"),
    SafeguardingCategory.SELF_NEGLECT: N_("self-neglect"),
    SafeguardingCategory.CHILD_EXPLOITATION: N_("risk to a child (grooming or exploitation)"),
}

# Stored screenings written before the taxonomy (five coarse categories) are read
# as the nearest category of today's; their reason says where they came from.
LEGACY_CATEGORIES: dict[str, SafeguardingCategory] = {
    "suicidal_intent": SafeguardingCategory.SUICIDE,
    "self_harm": SafeguardingCategory.SELF_HARM,
    "abuse": SafeguardingCategory.PHYSICAL_ABUSE,
    "neglect": SafeguardingCategory.NEGLECT,
    "at_risk_now": SafeguardingCategory.DOMESTIC_ABUSE,
}
# Such a match's reason: "earlier screening (suicidal intent)".
LEGACY_REASON = N_("earlier screening ({reason})")
LEGACY_WORDS: dict[str, str] = {
    "suicidal_intent": N_("suicidal intent"),
    "self_harm": N_("self harm"),
    "abuse": N_("abuse"),
    "neglect": N_("neglect"),
    "at_risk_now": N_("at risk now"),
}


class RedactionKind(StrEnum):
    EMAIL = "email"
    NHS_NUMBER = "nhs_number"
    HOSPITAL_NUMBER = "hospital_number"
    PHONE = "phone"
    POSTCODE = "postcode"
    ADDRESS = "address"
    SOCIAL_HANDLE = "social_handle"
    AUTHOR_NAME = "author_name"
    PERSON_NAME = "person_name"
    DATE = "date"
    TIME = "time"


REPLACEMENTS: dict[RedactionKind, str] = {
    RedactionKind.EMAIL: "[email address]",
    RedactionKind.NHS_NUMBER: "[NHS number]",
    RedactionKind.HOSPITAL_NUMBER: "[hospital number]",
    RedactionKind.PHONE: "[phone number]",
    RedactionKind.POSTCODE: "[postcode]",
    RedactionKind.ADDRESS: "[address]",
    RedactionKind.SOCIAL_HANDLE: "[social media handle]",
    RedactionKind.AUTHOR_NAME: "[name]",
    RedactionKind.PERSON_NAME: "[name]",
    RedactionKind.DATE: "[date]",
    RedactionKind.TIME: "[time]",
}


class LanguageKind(StrEnum):
    SWEARING = "swearing"
    DISCRIMINATORY = "discriminatory"
    CAPITALS = "capitals"
