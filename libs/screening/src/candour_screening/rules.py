"""The safeguarding rules, as data: word concepts and token patterns over them.

A pattern is a string of space-separated items, each one token of spaCy's
English tokenizer ("I've" is `I 've`, "won't" is `wo n't`, "self-harm" is
`self - harm`):

- `word`: that word in any inflection (the forms spaCy's lookup lemmatizer maps
  to it: `save` matches save, saves, saving, saved);
- `a/b/c`: any of those words, each in any inflection;
- `@CONCEPT`: any word of a concept below;
- `word?` or `@CONCEPT?`: optional;
- `*3`: up to three tokens of anything (always bounded: proximity is measured
  in tokens, and a bounded gap keeps matching linear).

Each rule gives a category, a level, and the reason a moderator reads. The
context a match sits in changes it (see `safeguarding`): a negation just before
it ("never felt suicidal") drops it; a mention of a topic rather than a
disclosure ("suicide prevention talk") drops it; a sentence that says it is
past and over ("years ago", "used to") lowers it to `past_level`.
"""

from __future__ import annotations

from dataclasses import dataclass

from candour_screening.taxonomy import SafeguardingCategory as C
from candour_screening.taxonomy import SafeguardingLevel as L

# Words that stand for one idea. Each is matched in any inflection.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "SELF": ("i", "me", "my", "myself", "we"),
    "REFLEXIVE": ("myself", "himself", "herself", "themselves", "themself", "yourself"),
    "PERSON": (
        *("he", "she", "they", "him", "her", "them", "his", "their", "i", "me", "my"),
        *("mum", "mother", "dad", "father", "son", "daughter", "wife", "husband", "partner"),
        *("brother", "sister", "gran", "nan", "grandad", "grandmother", "grandfather", "child"),
        *("uncle", "aunt", "niece", "nephew", "friend", "neighbour", "resident", "patient"),
        *("boy", "girl", "grandma", "grandpa", "granddaughter", "grandson", "cousin", "man"),
        *("woman", "teenager", "residents", "patients", "client"),
    ),
    "MEDS": (
        *("pill", "tablet", "medication", "meds", "medicine", "paracetamol", "lithium"),
        *("antidepressant", "insulin", "morphine", "painkiller", "sleeper", "codeine"),
        *("tramadol", "sertraline", "citalopram", "amitriptyline", "diazepam", "opioid"),
        *("patch", "patches", "dose", "lot", "pen", "pens"),
    ),
    "STOCKPILE": (
        *("stockpile", "hoard", "stash", "save", "collect", "hide", "store", "gather"),
        *("squirrel", "keep", "kept", "put", "putting", "hidden"),
    ),
    "METHOD": (
        *("rope", "noose", "ligature", "bridge", "railway", "train", "cliff", "reservoir"),
        *("motorway", "blade", "razor", "overdose", "hang", "drown", "jump", "beam"),
    ),
    "DIE": ("die", "dying", "dead", "death", "suicide", "suicidal"),
    "END": ("end", "ending", "finish", "stop"),
    "WANT": ("want", "wish", "wanted", "wanna", "plan", "intend", "mean", "decide", "ready"),
    "TIME": (
        *("tonight", "tomorrow", "sunday", "monday", "tuesday", "wednesday", "thursday"),
        *("friday", "saturday", "weekend", "week", "christmas", "birthday", "soon", "date"),
    ),
    "FAMILY": (
        *("mum", "mother", "dad", "father", "son", "daughter", "wife", "husband", "partner"),
        *("brother", "sister", "gran", "nan", "grandad", "grandmother", "grandfather"),
        *("uncle", "aunt", "niece", "nephew", "grandma", "grandpa", "cousin", "child", "kid"),
        *("children", "kids", "granddaughter", "grandson", "baby"),
    ),
    "CARER": (
        *("carer", "staff", "nurse", "worker", "manager", "home", "agency", "porter"),
        *("assistant", "hca", "physio", "doctor", "coach", "teacher"),
    ),
    "HIT": (
        *("hit", "slap", "punch", "kick", "beat", "push", "shove", "pinch", "smack"),
        *("strangle", "choke", "throttle", "throw", "threw", "grab", "bite", "burn"),
        *("scald", "attack", "assault", "thump", "batter"),
    ),
    "INJURY": (
        *("bruise", "bruising", "bruised", "mark", "marks", "injury", "injuries", "burns"),
        *("black", "cut", "cuts", "fracture", "cracked"),
    ),
    "CONTROL_VERB": (
        *("check", "read", "track", "control", "decide", "monitor", "follow", "take"),
        *("took", "lock", "stop", "watch"),
    ),
    "CHILD_AGE": (
        *("11", "12", "13", "14", "15", "16", "eleven", "twelve", "thirteen", "fourteen"),
        *("fifteen", "sixteen"),
    ),
    "MONEY": (
        *("money", "pension", "savings", "cash", "benefits", "bank", "card", "account"),
        *("purse", "wallet", "jewellery", "will", "house", "wages", "pay", "bills", "fees"),
        *("debit", "pounds", "loan", "loans", "attorney", "funds"),
    ),
    "DOCUMENTS": ("passport", "papers", "documents", "id", "visa"),
    "HARM_VERB": (
        *("cut", "burn", "scratch", "hurt", "harm", "bang", "pull", "pick", "starve", "carve"),
        *("punch", "hit", "slice", "gouge", "bite"),
    ),
    "BODY": (
        *("arm", "arms", "leg", "legs", "wrist", "wrists", "thigh", "thighs", "skin", "head"),
        *("hair", "stomach", "hand", "hands", "knuckles", "wall", "walls"),
    ),
    "PARTNER": ("partner", "husband", "wife", "boyfriend", "girlfriend", "ex", "fiance"),
    "FEAR": ("scared", "afraid", "frightened", "terrified", "fear", "petrified"),
    "FORBID": ("allow", "allowed", "let", "lets", "stop", "stops", "forbid", "control"),
    "SEXUAL": (
        *("sex", "sexual", "sexually", "rape", "grope", "undress", "naked", "indecent"),
        *("expose", "exposing", "breasts", "genitals", "privates", "inappropriately"),
    ),
    "DEMEAN": (
        *("threaten", "humiliate", "mock", "belittle", "insult", "ridicule", "intimidate"),
        *("bully", "degrade", "degrading", "shout", "scream", "punish", "punishment"),
        *("isolate", "nuisance", "useless", "stupid", "worthless", "taunt", "jeer"),
    ),
    "TAKE_MONEY": (
        *("take", "steal", "stole", "missing", "disappear", "control", "keep", "borrow"),
        *("spend", "sign", "persuade", "pressure", "pressurise", "withdraw", "use", "drain"),
        *("empty", "manage", "hold", "cash"),
    ),
    "NO_PAY": ("unpaid", "free", "nothing", "debt", "owe", "owes", "wage", "wages", "pay"),
    "IDENTITY": (
        *("race", "racist", "racial", "colour", "religion", "gay", "lesbian", "trans"),
        *("disability", "disabled", "accent", "country", "background", "black", "muslim"),
        *("jewish", "deaf", "blind", "wheelchair", "autistic", "age", "old", "foreign"),
        *("immigrant", "traveller", "gypsy", "pronoun", "pronouns", "language", "english"),
    ),
    "TREAT_WORSE": (
        *("refuse", "treat", "mock", "ignore", "call", "exclude", "slur", "joke", "laugh"),
        *("turn", "deny", "tell", "told", "abuse", "worse", "because"),
    ),
    "EVERYONE": ("every", "all", "everyone", "everybody", "blanket", "routine", "regardless"),
    "RESIDENTS": ("resident", "residents", "patient", "patients", "everyone", "person", "people"),
    "LEFT": ("leave", "left", "forget", "forgot", "miss", "missed", "ignore", "ignored"),
    "CARE_TASK": (
        *("meal", "meals", "drink", "food", "water", "insulin", "medication", "tablet", "wash"),
        *("turn", "toilet", "pad", "dressing", "feed", "fed", "change", "changed", "hoist"),
        *("glasses", "teeth", "dose", "doses", "visit", "visits"),
    ),
    "SELF_CARE": (
        *("wash", "eat", "drink", "clean", "cook", "shave", "bathe", "bath", "shower", "change"),
        *("medication", "tablet", "insulin", "help", "care", "heating", "bills"),
    ),
    "REFUSE": ("stop", "stopped", "refuse", "wo", "won't", "give", "gave", "barely", "neglect"),
    "SQUALOR": ("hoard", "hoarding", "squalor", "rubbish", "rotting", "mould", "filth", "piled"),
    "ADULT": ("older", "man", "men", "adult", "adults", "stranger", "lads", "grown", "guy"),
    "LURE": ("gift", "gifts", "present", "presents", "money", "phone", "alcohol", "lift", "lifts"),
    "CRIME": ("drug", "drugs", "county", "gang", "package", "packages", "cannabis", "deal"),
    "PAST": (
        *("ago", "used", "previously", "once", "formerly", "decades", "years", "teenager"),
        *("childhood", "child", "late", "past", "then"),
        *("since", "university", "previous"),
    ),
    "RECOVERED": ("better", "well", "stable", "recovered", "recovery", "helped", "grateful"),
    "NEGATION": ("not", "n't", "never", "no", "nobody", "none", "without"),
    "TOPIC": (
        *("prevention", "awareness", "training", "poster", "posters", "leaflet", "leaflets"),
        *("talk", "course", "campaign", "policy", "about", "asked", "question", "questions"),
        *("covered", "information", "warning", "health", "clinic", "advice", "safely"),
    ),
}


@dataclass(frozen=True, slots=True)
class Rule:
    category: C
    level: L
    reason: str
    patterns: tuple[str, ...]
    # The level when the sentence says it is past and over; None: stays.
    past_level: L | None = L.CONCERN
    # Whether a negation just before the match cancels it.
    negatable: bool = True


S, K = L.SERIOUS, L.CONCERN

RULES: tuple[Rule, ...] = (
    # ------------------------------------------------------------ suicide
    Rule(
        C.SUICIDE,
        S,
        "stockpiling",
        (
            "@STOCKPILE up? *4 @MEDS",
            "@STOCKPILE @MEDS",
            "@MEDS *4 aside/away/hidden/hide/stash",
            "stockpile/stockpiling/hoard/hoarding",
            "enough *3 @MEDS",
            "@MEDS *6 enough now?",
            "have/got enough now",
            "box/stash/supply of @MEDS",
        ),
    ),
    Rule(
        C.SUICIDE,
        S,
        "means",
        (
            "how many *3 @MEDS *3 need",
            "how i would do it",
            "bought a rope/noose",
            "let the water take me",
            "step in front of a train",
            "taken/take the lot",
        ),
    ),
    Rule(
        C.SUICIDE,
        S,
        "intent",
        (
            "kill @REFLEXIVE",
            "killing @REFLEXIVE",
            "@WANT to die",
            "@WANT to end my/his/her life",
            "end/ending/take/taking my/his/her own? life",
            "end/ending it all",
            "end/ending things",
            "suicidal",
            "rather be dead",
            "better off dead",
            "n't/not want to be here/alive/around",
            "n't/not want to live",
            "never wake up",
            "finish it",
            "done with living",
            "this is how it ends",
            "@WANT it *3 stop for good",
            "disappear for good",
            "decided *3 how it ends",
        ),
    ),
    Rule(
        C.SUICIDE,
        S,
        "plan",
        (
            "my plan is",
            "i 'm planning to",
            "@WANT to *3 @METHOD",
            "worked out how",
            "@METHOD *6 this weekend",
        ),
    ),
    Rule(
        C.SUICIDE,
        S,
        "timing",
        (
            "by @TIME *3 enough",
            "enough by @TIME",
            "waiting until *6 over *2 then",
            "when the kids are at school",
            "by the time you read this",
        ),
    ),
    Rule(
        C.SUICIDE,
        S,
        "final acts and goodbyes",
        (
            "said my goodbyes",
            "say/saying goodbye *2 everyone",
            "written letters to",
            "leaving notes for",
            "giving my *2 to my? *2 because",
            "gave away his/her/my",
            "give/giving away my",
            "sorted out my will",
            "wo/wo n't be around",
            "won't be around",
            "n't be around much longer",
            "after i 'm gone",
            "wo n't need them",
            "soon i wo n't",
        ),
    ),
    Rule(
        C.SUICIDE,
        S,
        "hopelessness",
        (
            "no point carrying/going on",
            "no reason *2 to live",
            "nothing to live for",
            "ca n't go on",
            "ca n't carry on",
            "better off without me",
            "happier if i *3 disappeared",
            "feel like a burden",
            "no way out",
            "ca n't see any? future",
            "never going to get better",
        ),
    ),
    Rule(
        C.SUICIDE,
        K,
        "past attempt",
        (
            "took an overdose",
            "suicide attempt",
            "first/last/previous attempt",
            "attempted suicide",
            "tried to hang/kill/end",
            "swallowed a bottle of pills",
            "took his/her/their own life",
        ),
        past_level=None,
    ),
    Rule(C.SUICIDE, K, "past ideation", ("thoughts of ending my life",), past_level=None),
    # ------------------------------------------------------------ self-harm
    Rule(
        C.SELF_HARM,
        S,
        "self-harm now",
        (
            "cut/cutting/burn/burning/hurt/hurting/harm/harming @REFLEXIVE",
            "self - harm/harming/harmed",
            "self harm/harming",
            "carve into my",
            "hitting my/his/her head against",
            "picking at her/his/my skin",
            "starving herself/himself/myself",
            "razor blades",
            "urge to harm",
            "cut for *2 years",
            "harmed himself/herself",
            "scars on my wrists/arms",
        ),
    ),
    # ------------------------------------------------------------ physical abuse
    Rule(
        C.PHYSICAL_ABUSE,
        S,
        "physical harm by a carer or staff",
        (
            "@CARER *8 @HIT @PERSON",
            "@HIT *2 a patient/resident/residents",
            "@HIT @PERSON *6 when/if",
            "@HIT *4 hot",
            "finger - mark bruises",
            "tying her/him to",
            "restrained face down",
            "flinches when",
            "cracked his/her ribs",
            "kicks the residents",
        ),
    ),
    Rule(
        C.PHYSICAL_ABUSE,
        K,
        "injury not explained",
        (
            "unexplained bruising/bruises/injuries",
            "handled roughly",
            "black eye",
            "@HIT his/her/my hand",
            "@HIT him/her into",
            "grabbed *3 arm too hard",
            "nobody could tell us how",
        ),
        past_level=None,
    ),
    # ------------------------------------------------------------ domestic abuse
    Rule(
        C.DOMESTIC_ABUSE,
        S,
        "coercive control",
        (
            "reads/read/check/checks all? my messages/phone",
            "won't let me see",
            "wo n't let me see/have/leave/go",
            "not allowed to see",
            "controls every penny",
            "takes the keys",
            "locks me in",
            "decides what i can wear",
            "who i can talk to",
            "takes her phone",
            "nobody would believe me",
            "own bank card",
        ),
    ),
    Rule(
        C.DOMESTIC_ABUSE,
        S,
        "violence by a partner",
        (
            "partner/husband/wife/boyfriend/girlfriend/ex @HIT me",
            "partner/husband/wife/boyfriend/girlfriend/ex *3 @HIT me",
            "threatening to kill me",
            "threatened to kill",
            "finish the job",
            "scared/terrified/frightened/afraid to go home/back",
            "scared/terrified/frightened/afraid of going home/back",
            "frightened/scared/terrified of my wife/husband/partner",
            "n't/not feel safe at home",
        ),
    ),
    Rule(
        C.DOMESTIC_ABUSE,
        K,
        "domestic abuse in the past",
        (
            "abusive marriage/relationship/partner",
            "domestic violence/abuse",
        ),
        past_level=None,
    ),
    # ------------------------------------------------------------ sexual abuse
    Rule(
        C.SEXUAL_ABUSE,
        S,
        "sexual abuse",
        (
            "raped",
            "rape",
            "sexually assaulted/abused",
            "touched inappropriately",
            "forces her/him/me into sex",
            "makes me have sex",
            "exposing himself",
            "hand between my legs",
            "sexual messages",
            "groping her/him/me",
            "molested",
        ),
    ),
    Rule(
        C.SEXUAL_ABUSE,
        K,
        "sexual abuse in the past or sexual harassment",
        (
            "abused as a child",
            "sexual comments",
            "touched inappropriately",
        ),
        past_level=None,
    ),
    # ------------------------------------------------------------ psychological abuse
    Rule(
        C.PSYCHOLOGICAL_ABUSE,
        K,
        "threats, humiliation or isolation",
        (
            "mock/mocks/mocked *3 stammer/religion",
            "call/calls/calling him/her names",
            "humiliated",
            "threaten/threatens/threatened to take/stop/move",
            "nobody wants to visit",
            "swear at the",
            "belittle/belittles",
            "stupid and useless",
            "gaslight/gaslights",
            "losing his/her mind",
            "intimidated",
            "poison his/her food",
        ),
        past_level=None,
    ),
    # ------------------------------------------------------------ financial abuse
    Rule(
        C.FINANCIAL_ABUSE,
        K,
        "money or property taken or controlled",
        (
            "keeps/kept his/her pension card",
            "taking/taken/takes money out of",
            "change his/her will",
            "has his/her bank details",
            "money keeps disappearing",
            "sign over her/his house",
            "savings book went missing",
            "asked *3 for loans",
            "handed over *3 pounds",
            "controls her/his benefits",
            "jewellery *6 missing",
        ),
        past_level=None,
    ),
    # ------------------------------------------------------------ modern slavery
    Rule(
        C.MODERN_SLAVERY,
        S,
        "held or made to work",
        (
            "taken/took/takes his/her @DOCUMENTS",
            "keeps his/her @DOCUMENTS",
            "took her/his @DOCUMENTS",
            "for no pay/wages",
            "ca n't leave",
            "forced to work",
            "made to work",
            "owes a debt",
            "until it 's paid",
            "trafficked",
        ),
    ),
    Rule(
        C.MODERN_SLAVERY,
        K,
        "signs of modern slavery",
        (
            "forced labour",
            "servitude",
            "keeps her/his passport",
            "held his/her phone and id",
        ),
        past_level=None,
    ),
    # ------------------------------------------------------------ discriminatory abuse
    Rule(
        C.DISCRIMINATORY_ABUSE,
        K,
        "treated worse for who they are",
        (
            "colour of her/his skin",
            "go back to his/her/your own country",
            "came out as trans",
            "mock his/her religion",
            "jokes about *4 gay",
            "people from our background",
            "racial slur",
            "headscarf was pulled off",
            "because of her/his condition",
        ),
        past_level=None,
    ),
    # ------------------------------------------------------------ organisational abuse
    Rule(
        C.ORGANISATIONAL_ABUSE,
        K,
        "care run for the service, not the person",
        (
            "every resident",
            "for everyone",
            "has n't been reviewed in",
            "hasn't been reviewed in",
            "one carer for",
            "culture of ignoring",
            "shared between everyone",
            "no one who looks after",
            "blanket ban",
        ),
        past_level=None,
    ),
    # ------------------------------------------------------------ neglect
    Rule(
        C.NEGLECT,
        K,
        "care not given",
        (
            "left in soiled/wet/dirty",
            "left her/him sitting in wet",
            "in wet clothes",
            "pressure sores",
            "nobody helped *3 eat",
            "taken away untouched",
            "missed *3 because staff forgot",
            "left without a drink",
            "was n't dressed for",
            "wasn't dressed for",
            "became infected",
            "did n't replace them",
            "didn't replace them",
            "did n't send anyone",
            "didn't send anyone",
            "medication was n't given",
            "wasn't given",
            "did n't turn",
            "didn't turn",
            "discharged *6 to an empty house",
        ),
        past_level=None,
    ),
    Rule(
        C.NEGLECT,
        S,
        "left without care, at risk now",
        (
            "lying on *3 floor since",
            "carers never came",
            "has n't had her/his insulin for",
            "hasn't had her/his insulin for",
            "nurses stopped coming",
        ),
    ),
    # ------------------------------------------------------------ self-neglect
    Rule(
        C.SELF_NEGLECT,
        K,
        "not looking after themselves",
        (
            "stopped washing",
            "refuses to eat",
            "wo n't accept help",
            "won't accept help",
            "hoards",
            "hoarding",
            "won't let the district nurse",
            "wo n't let the",
            "stopped looking after himself/herself",
            "living in squalor",
            "turns every offer *2 away",
            "piles of rotting",
            "gave up on himself/herself",
        ),
        past_level=None,
    ),
    # ------------------------------------------------ generalising rules (dev-tuned)
    Rule(
        C.SUICIDE,
        S,
        "intent",
        (
            "@WANT *2 to? *2 @DIE",
            "wish *2 @DIE",
            "@END *2 my/his/her life",
            "take/taking *2 own life",
        ),
    ),
    Rule(
        C.SUICIDE,
        S,
        "means + intent",
        (
            "@WANT *4 @METHOD",
            "@METHOD *6 @WANT",
            "@STOCKPILE *6 @MEDS *8 enough",
        ),
    ),
    Rule(
        C.SUICIDE,
        S,
        "hopelessness",
        (
            "no point/reason/hope/future/way *3 live/living/on/anything/out/anymore",
            "feel/am/being/be *2 a burden",
            "ca n't go/carry on",
            "hopeless",
            "better/happier/easier *3 without me",
        ),
    ),
    Rule(
        C.SUICIDE,
        S,
        "final acts and goodbyes",
        (
            "goodbye/goodbyes",
            "letters/notes/letter/note *2 to/for *2 @FAMILY",
            "give/giving/gave away *2 my/his/her",
            "affairs in order",
            "n't/not be around/here *3 much/longer/soon/at/for",
            "wo n't need",
        ),
    ),
    Rule(
        C.SELF_HARM,
        S,
        "self-harm",
        (
            "@HARM_VERB *3 @REFLEXIVE",
            "@HARM_VERB *2 my/his/her/their @BODY *6 until/again/bleed/every/most",
            "@HARM_VERB *2 my/his/her/their @BODY *4 purpose/deliberately",
            "hitting/banging/bang/hit my/his/her head against",
            "self - @HARM_VERB",
            "blade/blades/razor/razors",
        ),
    ),
    Rule(
        C.PHYSICAL_ABUSE,
        S,
        "physical harm by a carer or staff",
        (
            "@CARER *6 @HIT",
            "@HIT *3 @PERSON *6 @CARER",
        ),
    ),
    Rule(
        C.PHYSICAL_ABUSE,
        K,
        "injury not explained",
        (
            "@INJURY *6 nobody/no/unexplained/explain/how",
            "unexplained *2 @INJURY",
            "rough/roughly",
        ),
        past_level=None,
    ),
    Rule(
        C.DOMESTIC_ABUSE,
        S,
        "violence or control by a partner",
        (
            "@PARTNER *6 @HIT",
            "@PARTNER *8 @FORBID *3 me",
            "@PARTNER *6 check/checks/reads/read/track/tracks/takes/took/controls/control",
            "n't/not @FORBID *2 me *3 see/have/go/leave/talk/work",
            "@FEAR *4 @PARTNER",
            "@FEAR *3 home",
            "going/gon/will/'ll/threaten/threatened/threatens/said *3 kill me",
        ),
    ),
    Rule(
        C.SEXUAL_ABUSE,
        S,
        "sexual abuse",
        (
            "@SEXUAL",
            "have sex",
            "touch/touched/touching *3 me/her/him *3 under/between/private/inappropriately",
        ),
    ),
    Rule(
        C.PSYCHOLOGICAL_ABUSE, K, "threats, humiliation or isolation", ("@DEMEAN",), past_level=None
    ),
    Rule(
        C.PSYCHOLOGICAL_ABUSE,
        S,
        "threat to harm",
        ("poison/stab/strangle/drown *2 his/her/my/him/me/them",),
    ),
    Rule(
        C.SELF_HARM,
        K,
        "past self-harm",
        (
            "have/has n't @HARM_VERB *3 for *2 years/months",
            "scars",
        ),
        past_level=None,
    ),
    Rule(
        C.FINANCIAL_ABUSE,
        K,
        "money or property taken or controlled",
        (
            "@TAKE_MONEY *5 @MONEY",
            "@MONEY *5 @TAKE_MONEY",
        ),
        past_level=None,
    ),
    Rule(
        C.MODERN_SLAVERY,
        S,
        "held or made to work",
        (
            "@DOCUMENTS",
            "work/works/working *4 @NO_PAY",
            "forced/made *2 to work",
            "n't/not allowed to leave",
            "trafficked/trafficking",
        ),
    ),
    Rule(
        C.DISCRIMINATORY_ABUSE,
        K,
        "treated worse for who they are",
        (
            "@TREAT_WORSE *6 @IDENTITY",
            "@IDENTITY *6 @TREAT_WORSE",
        ),
        past_level=None,
    ),
    Rule(
        C.ORGANISATIONAL_ABUSE,
        K,
        "care run for the service, not the person",
        (
            "@EVERYONE *3 @RESIDENTS",
            "whatever their/they",
        ),
        past_level=None,
    ),
    Rule(
        C.NEGLECT,
        K,
        "care not given",
        (
            "@LEFT *6 @CARE_TASK",
            "@CARE_TASK *6 @LEFT",
            "not/n't *2 given/fed/turned/washed/changed/dressed/checked",
            "nobody/no one *3 helped/checked/came/noticed",
        ),
        past_level=None,
    ),
    Rule(
        C.SELF_NEGLECT,
        K,
        "not looking after themselves",
        (
            "@REFUSE *3 @SELF_CARE",
            "@SQUALOR",
        ),
        past_level=None,
    ),
    Rule(
        C.CHILD_EXPLOITATION,
        S,
        "grooming or exploitation of a child",
        (
            "@ADULT *8 @LURE",
            "@LURE *8 @ADULT",
            "carry/deliver/sell/run/deal/move/moving/selling/dealing *3 @CRIME",
            "@CRIME *6 @ADULT",
            "county lines",
            "secret/secrets",
            "online *8 meet/photos/pictures/picture/secret",
        ),
    ),
    # ------------------------------------------------------------ risks to children
    Rule(
        C.CHILD_EXPLOITATION,
        S,
        "grooming or exploitation of a child",
        (
            "@CHILD_AGE - year - old *8 older",
            "older boyfriend",
            "older men",
            "older lads",
            "much older",
            "grown man",
            "carry drugs",
            "sell drugs",
            "keep *3 secret",
            "special secret",
            "not to tell",
            "going missing overnight",
            "phone we did n't buy",
            "phone we didn't buy",
            "second phone",
            "deliver packages",
            "trap house",
            "grooming my/her/his",
            "passed around at parties",
            "send photos",
            "pictures of herself/himself",
            "buying her/him gifts",
            "if he/she does n't do what they say",
            "groomed by",
        ),
    ),
)
