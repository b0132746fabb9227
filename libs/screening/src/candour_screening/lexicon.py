"""Word lists the screening detectors use. Plain data, kept apart from the logic.

The lists are deliberately small and conservative: a missed flag is caught by
the moderator, who reads every story; a flood of false flags teaches moderators
to ignore them.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Common given names in England and Wales (ONS baby-name tables and census
# favourites across generations). Names that are also everyday English words
# (Grace, Hope, Mark, Will, May, Dawn, Rose, Bill, Frank...) are left out: a
# title or role in front of them ("Nurse Grace") still catches them.
FIRST_NAMES: frozenset[str] = _words(
    """
    Aaron Abigail Adam Ahmed Aisha Alan Albert Alexander Alfie Ali Alice Alison Amelia Amy
    Andrew Andrzej Andy Angela Anita Ann Anna Anne Annie Anthony Archie Arthur Ava Barbara
    Barry Becky Ben Benjamin Beth Bethany Bilal Bob Brenda Brian Callum Carol Caroline
    Catherine Charlie Charlotte Chloe Chris Christine Christopher Claire Colin Connor Craig
    Dan Daniel Darren Dave David Debbie Deborah Denise Dennis Derek Diane Donna Doreen
    Edward Eleanor Elizabeth Ellie Emily Emma Ethan Evie Fatima Fiona Freddie Frederick
    Gary Gemma Geoffrey George Gordon Graham Hannah Harold Harriet Harry Hassan Helen Henry
    Ian Imran Isaac Isabella Isla Jack Jackie Jacob Jacqueline James Jamie Jane Janet Jason
    Jean Jennifer Jenny Jess Jessica Jim Jimmy Joan Joanne Joe John Jonathan Joseph Joshua
    Julie Karen Kate Kathleen Katie Keith Kelly Kenneth Kevin Kieran Kwame Laura Lauren Lee
    Leo Liam Linda Lisa Liz Logan Lorraine Lucas Lucy Luke Maggie Malcolm Margaret Maria
    Martin Mary Matthew Matt Megan Mia Michael Michelle Mike Millie Mohammad Mohammed Molly
    Muhammad Nathan Natalie Neil Nicola Nick Nikki Noah Olivia Oliver Omar Oscar Pamela
    Patricia Patrick Paul Pauline Pete Peter Phil Philip Piotr Poppy Priya Rachel Rajesh
    Raymond Rebecca Richard Rob Robert Ronald Ryan Sam Samuel Sandra Sanjay Sarah Scott Sean
    Sharon Simon Sophia Sophie Stanley Stephen Steve Steven Stuart Sunita Susan Tariq Terry
    Thomas Tom Tomasz Tony Tracey Tracy Trevor Tyler Vicky Wayne Wendy William Yusuf Zoe
    """
)

# Capitalised words that follow a title or role but are not names.
NOT_NAMES: frozenset[str] = _words(
    """
    A An And As At But By For From He Her Him His I If In Is It Its Me My No Not Of On Or Our
    She So That The Their Them Then There They This To Us Was We Were What When Where Which
    Who Why With You Your Also After Before Today Yesterday Tomorrow Said Told Came Asked
    Practitioner Consultant Registrar Manager Team Ward Unit Department Surgery Hospital
    Clinic Service Services Nurse Nurses Doctor Doctors Sister Matron Dr Mr Mrs Ms Miss Mx
    Prof Professor Midwife Sr GP GPs NHS Trust Monday Tuesday Wednesday Thursday Friday
    Saturday Sunday January February March April May June July August September October
    November December Christmas Easter Ok OK Thank Thanks Please Everyone Everybody Nobody
    Someone Somebody All Both Each Every One Two Three Four Five Practice Centre Center
    Health Medical Royal General Infirmary Emergency Mental Community Care Home Hospice
    Pharmacy Dental Outpatients Reception Department Hospital
    """
)

# Words in an author's display name that identify nobody.
GENERIC_AUTHOR_WORDS: frozenset[str] = _words(
    """
    a an the of and my anonymous anon patient patients carer carers relative relatives
    friend family mum mom mother dad father son daughter wife husband partner parent
    parents guardian user service staff member nhs worker concerned grateful happy unhappy
    local resident person someone visitor the_author author former current
    """
)

# Swearing: stems matched as whole words, case-insensitively.
SWEARING: tuple[str, ...] = (
    r"fuck\w*",
    r"f\*+(?:k\w*|ing|in)",
    r"sh\*+t\w*",
    r"motherfuck\w*",
    r"shit\w*",
    r"shite",
    r"bullshit\w*",
    r"bollocks",
    r"bastard\w*",
    r"bitch\w*",
    r"arse(?:hole)?s?",
    r"asshole\w*",
    r"wank\w*",
    r"twat\w*",
    r"cunt\w*",
    r"dickhead\w*",
    r"piss(?:ed|ing)?",
    r"crap(?:py)?",
    r"bugger\w*",
)

# Discriminatory terms: slurs about disability, race, sexuality and gender
# identity. Moderators need these flagged; listing them here is the only way to.
DISCRIMINATORY: tuple[str, ...] = (
    r"retard(?:ed|s)?",
    r"spastic\w*",
    r"spazz?\w*",
    r"mongs?",
    r"pakis?",
    r"nigg(?:er|a)s?",
    r"chinks?",
    r"wogs?",
    r"faggots?",
    r"poofs?",
    r"trann(?:y|ies)",
    r"gypp?os?",
    r"pikeys?",
)
