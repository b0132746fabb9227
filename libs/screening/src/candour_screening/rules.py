"""The safeguarding rules, as data: which concepts, how close, what they mean.

A rule starts from every occurrence of its `anchor` concept and asks for each
of its `near` conditions a concept within a few tokens, in the same sentence
(proximity in tokens, bounded, so matching is linear in the text). The match is
then judged in its sentence (see `safeguarding`):

- a negation just before the anchor ("never felt suicidal") or a hypothetical
  ("what to do if") drops it, unless the rule is not `negatable`;
- a topic word beside it ("suicide prevention talk", "overdose warning") drops it;
- a concept of `unless` anywhere in the sentence drops it ("it hit me how...");
- past and over ("years ago", "used to", "I'm doing well now") with nothing
  present ("again", "tonight") lowers it to `past_level`;
- a rule that `escalates` becomes serious beside a danger to life now ("since
  yesterday", "no food or heating", "on the floor").

Each rule names the category, the level and the reason a moderator reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from candour_screening.taxonomy import N_
from candour_screening.taxonomy import SafeguardingCategory as C
from candour_screening.taxonomy import SafeguardingLevel as L

Side = Literal["either", "after", "before"]


@dataclass(frozen=True, slots=True)
class Near:
    """One of `concepts` within `window` tokens of the anchor, on `side` of it."""

    concepts: tuple[str, ...]
    window: int = 8
    side: Side = "either"


@dataclass(frozen=True, slots=True)
class Rule:
    category: C
    level: L
    reason: str
    anchor: str
    near: tuple[Near, ...] = ()
    unless: tuple[str, ...] = ()
    # The level when the sentence says it is past and over; None: unchanged.
    past_level: L | None = L.CONCERN
    # Whether a negation or a hypothetical just before the anchor cancels it.
    negatable: bool = True
    # Whether a danger to life now in the same sentence makes it serious.
    escalates: bool = False


S, K = L.SERIOUS, L.CONCERN


def near(*concepts: str, window: int = 8, side: Side = "either") -> Near:
    return Near(concepts, window, side)


def _money(reason: str, anchor: str, *conditions: Near) -> Rule:
    """A financial abuse rule: a concern, serious with danger now, never about
    routine payments ("card details for the prescription charge")."""
    return Rule(
        C.FINANCIAL_ABUSE,
        K,
        reason,
        anchor,
        conditions,
        unless=("MONEY_SAFE", "ROUTINE"),
        past_level=None,
        escalates=True,
    )


# Serious rules first: when a hostile text exhausts the work budget of a field,
# what was evaluated is what matters most.
RULES: tuple[Rule, ...] = (
    # ------------------------------------------------------------ suicide
    Rule(C.SUICIDE, S, N_("intent"), "DEATH_WISH", unless=("ATTEMPT", "FIGURATIVE")),
    Rule(C.SUICIDE, S, N_("hopelessness"), "HOPELESS"),
    Rule(C.SUICIDE, S, N_("means + stockpiling"), "MEANS", (near("STOCKPILE", window=6),)),
    Rule(C.SUICIDE, S, N_("means + plan"), "MEANS", (near("PLAN", "METHOD_ACT", window=6),)),
    Rule(
        C.SUICIDE,
        S,
        N_("means + timing"),
        "MEANS",
        (
            near("TIMING", window=10),
            near("STOCKPILE", "PLAN", "METHOD_ACT", "DEATH_WISH", window=12),
        ),
    ),
    Rule(C.SUICIDE, S, N_("means + intent"), "MEANS", (near("DEATH_WISH", "HOPELESS", window=12),)),
    Rule(C.SUICIDE, S, N_("method"), "METHOD_ACT"),
    Rule(
        C.SUICIDE,
        S,
        N_("overdose now"),
        "TOOK_MEDS",
        (near("MEANS", window=4, side="after"), near("JUST_NOW", window=12)),
    ),
    Rule(
        C.SUICIDE,
        S,
        N_("final acts and goodbyes"),
        "GOODBYE",
        (near("GOODBYE", "TIMING", "DEATH_WISH", "MEANS", window=20),),
    ),
    Rule(C.SUICIDE, S, N_("final acts and goodbyes"), "FAREWELL"),
    Rule(C.SUICIDE, K, N_("past attempt"), "ATTEMPT", past_level=None),
    # ------------------------------------------------------------ self-harm
    Rule(C.SELF_HARM, S, N_("self-harm"), "SELF_HARM", unless=("ACCIDENT", "SELF_HARM_PAST")),
    Rule(
        C.SELF_HARM,
        S,
        N_("self-harm"),
        "HARM_VERB",
        (near("BODY_PART", window=1, side="after"), near("HARM_HABIT", window=10)),
        unless=("ACCIDENT",),
    ),
    Rule(
        C.SELF_HARM, S, N_("means of self-harm"), "SELF_HARM_TOOL", (near("HIDE_READY", window=6),)
    ),
    Rule(C.SELF_HARM, K, N_("past self-harm"), "SELF_HARM_PAST", past_level=None, negatable=False),
    # ------------------------------------------------------------ abuse
    Rule(
        C.PHYSICAL_ABUSE,
        S,
        N_("physical harm by a carer or staff"),
        "VIOLENCE",
        (near("TARGET", window=2, side="after"), near("PERPETRATOR_CARE", window=14)),
        unless=("FIGURATIVE", "PARTNER"),
    ),
    Rule(
        C.PHYSICAL_ABUSE,
        S,
        N_("physical harm to a resident or patient"),
        "VIOLENCE",
        (near("TARGET", window=2, side="after"),),
        unless=("FIGURATIVE", "PARTNER", "PERPETRATOR_CARE"),
        past_level=K,
    ),
    Rule(C.PHYSICAL_ABUSE, S, N_("restraint that harms"), "RESTRAINT", unless=("FIGURATIVE",)),
    # Scalding, burning or freezing: a person held against heat or cold, or it
    # poured or pressed onto them; by a partner it is domestic abuse.
    *(
        rule
        for conditions in (
            (near("FORCE_VERB", window=4, side="before"), near("TARGET", window=3, side="before")),
            (
                near("APPLY_HEAT", window=2, side="before"),
                near("ONTO", window=1, side="after"),
                near("TARGET", window=3, side="after"),
            ),
        )
        for rule in (
            Rule(
                C.PHYSICAL_ABUSE,
                S,
                N_("scalded, burned or frozen by someone"),
                "HEAT",
                conditions,
                unless=("ACCIDENT", "OWN_CONTACT", "PARTNER"),
            ),
            Rule(
                C.DOMESTIC_ABUSE,
                S,
                N_("scalded, burned or frozen by a partner"),
                "HEAT",
                (*conditions, near("PARTNER", window=14)),
                unless=("ACCIDENT", "OWN_CONTACT"),
            ),
        )
    ),
    Rule(
        C.DOMESTIC_ABUSE,
        S,
        N_("violence by a partner"),
        "VIOLENCE",
        (near("PARTNER", window=10),),
        unless=("FIGURATIVE",),
    ),
    Rule(C.DOMESTIC_ABUSE, S, N_("coercive control"), "CONTROL", unless=("ROUTINE",)),
    Rule(C.DOMESTIC_ABUSE, S, N_("threat to kill or harm"), "THREAT_KILL", unless=("FIGURATIVE",)),
    Rule(C.DOMESTIC_ABUSE, S, N_("afraid to go home"), "FEAR_HOME", unless=("MEDICAL_WORRY",)),
    Rule(C.SEXUAL_ABUSE, S, N_("sexual abuse"), "SEXUAL"),
    Rule(C.PSYCHOLOGICAL_ABUSE, S, N_("threat to harm"), "THREAT_HARM", unless=("FIGURATIVE",)),
    Rule(C.MODERN_SLAVERY, S, N_("documents held by someone else"), "DOCS_HELD"),
    Rule(C.MODERN_SLAVERY, S, N_("made to work for nothing"), "UNPAID", (near("WORK", window=12),)),
    Rule(C.MODERN_SLAVERY, S, N_("held or made to work"), "CONFINED"),
    Rule(
        C.CHILD_EXPLOITATION,
        S,
        N_("exploitation of a child"),
        "EXPLOIT",
        unless=("TOPIC",),
    ),
    Rule(
        C.CHILD_EXPLOITATION,
        S,
        N_("grooming: an older person, gifts or secrecy"),
        "OLDER_ADULT",
        (near("LURE", "SECRET", window=14),),
    ),
    Rule(
        C.CHILD_EXPLOITATION,
        S,
        N_("grooming: secrecy"),
        "SECRET",
        (near("LURE", "OLDER_ADULT", window=14),),
    ),
    # ------------------------------------------------------- concerns first
    Rule(
        C.PHYSICAL_ABUSE,
        S,
        N_("injury, and fear of carers"),
        "INJURY",
        (near("FEARFUL", window=20),),
    ),
    Rule(
        C.PHYSICAL_ABUSE,
        K,
        N_("injury not explained"),
        "INJURY",
        (near("UNEXPLAINED", "PERPETRATOR_CARE", window=14),),
        past_level=None,
    ),
    Rule(C.PHYSICAL_ABUSE, K, N_("rough handling"), "ROUGH", past_level=None),
    Rule(C.DOMESTIC_ABUSE, K, N_("domestic abuse"), "DOMESTIC_PAST", past_level=None),
    Rule(C.SEXUAL_ABUSE, K, N_("sexual harassment"), "SEXUAL_HARASS", past_level=None),
    Rule(C.SEXUAL_ABUSE, K, N_("abuse in childhood"), "CHILDHOOD_ABUSE", past_level=None),
    Rule(C.PHYSICAL_ABUSE, K, N_("fear of carers"), "FEARFUL", past_level=None),
    Rule(
        C.PSYCHOLOGICAL_ABUSE,
        K,
        N_("threats, humiliation or isolation"),
        "DEMEAN",
        unless=("BULLYING_ELSEWHERE",),
        past_level=None,
        escalates=True,
    ),
    _money(N_("money or property taken or controlled"), "MONEY_TAKEN", near("MONEY", window=5)),
    _money(N_("money or property taken or controlled"), "MONEY_SIGNS"),
    _money(N_("money not accounted for"), "MONEY", near("UNEXPLAINED", window=8, side="after")),
    _money(
        N_("money or property taken or controlled"),
        "MONEY_HANDLED",
        near("MONEY", window=3, side="after"),
    ),
    Rule(
        C.DISCRIMINATORY_ABUSE,
        K,
        N_("treated worse for who they are"),
        "DISCRIM_STRONG",
        past_level=None,
        escalates=True,
    ),
    Rule(
        C.DISCRIMINATORY_ABUSE,
        K,
        N_("treated worse for who they are"),
        "TREATED_WORSE",
        (near("IDENTITY", window=10),),
        past_level=None,
    ),
    Rule(
        C.ORGANISATIONAL_ABUSE,
        K,
        N_("care run for the service, not the person"),
        "BLANKET",
        (near("RESTRICT", window=12),),
        past_level=None,
    ),
    Rule(
        C.ORGANISATIONAL_ABUSE,
        K,
        N_("care run for the service, not the person"),
        "ORG_STRONG",
        past_level=None,
    ),
    Rule(
        C.NEGLECT,
        K,
        N_("care not given"),
        "NEGLECT_ACT",
        unless=("NEGLECT_SAFE",),
        past_level=None,
        negatable=False,
        escalates=True,
    ),
    Rule(
        C.SELF_NEGLECT,
        K,
        N_("not looking after themselves"),
        "SELF_NEGLECT",
        unless=("SELF_NEGLECT_SAFE",),
        past_level=None,
        negatable=False,
        escalates=True,
    ),
)

# Concepts whose words are nouns: inflected by number only ("pill", "pills"),
# so "train" never matches "training" nor "present" "presenting".
NOUN_CONCEPTS = frozenset(
    {
        "MEANS",
        "INJURY",
        "HEAT",
        "WORK",
        "LURE",
        "TOPIC",
        "RESTRICT",
        "IDENTITY",
        "MONEY",
        "CHILD",
        "OLDER_ADULT",
        "PERPETRATOR_CARE",
        "PARTNER",
        "SELF_HARM_TOOL",
        "TARGET",
        "HARM_HABIT",
        "BODY_PART",
        "HIDE_READY",
        "MONEY_SAFE",
        "ROUTINE",
        "NEGLECT_SAFE",
        "SELF_NEGLECT_SAFE",
        "PAST",
        "RECOVERED",
        "PRESENT",
        "NEGATION",
        "HYPOTHETICAL",
        "DANGER",
        "TIMING",
        "JUST_NOW",
        "UNEXPLAINED",
        "FEARFUL",
        "SECRET",
        "DISCRIM_STRONG",
        "ORG_STRONG",
        "BLANKET",
        "ACCIDENT",
        "FIGURATIVE",
    }
)
