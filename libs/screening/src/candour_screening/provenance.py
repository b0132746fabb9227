"""Which screener produced a screening, and of exactly which text.

A screening made in one process (story-intake's, at submission) may be used in another
(moderation) instead of screening the same text again, but only if it is what that
process would have produced itself: the same rules and the same libraries under them
(`screener_version`), over the same text fields and author's name (`inputs_digest`).
Both are cheap (no spaCy import): moderation's main process checks them per story.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

# The libraries whose behaviour is part of a screening's result: spaCy's tokenizer and
# lemma tables (safeguarding), phonenumbers (phone numbers among identifying details).
_LIBRARIES = ("spacy", "spacy-lookups-data", "phonenumbers")


@functools.cache
def screener_version() -> str:
    """`candour-screening <version>+<digest of its rules>; spacy <v>; ...`.

    The digest covers every module of this package (the rules are code: lexicons,
    patterns, taxonomy), so a changed rule is a different screener even when nobody
    remembered to bump a version number."""
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for module in sorted(package.glob("*.py")):
        digest.update(module.name.encode())
        digest.update(b"\0")
        digest.update(module.read_bytes())
        digest.update(b"\0")
    parts = [f"candour-screening {_installed('candour-screening')}+{digest.hexdigest()[:16]}"]
    parts.extend(f"{name} {_installed(name)}" for name in _LIBRARIES)
    return "; ".join(parts)


def _installed(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def inputs_digest(fields: Mapping[str, str], author_name: str | None) -> str:
    """SHA-256 (hex) of what a screening read: its text fields, in order, and the
    author's name. Equal digests: the same text was screened."""
    canonical = json.dumps(
        {"fields": list(fields.items()), "author_name": author_name},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
