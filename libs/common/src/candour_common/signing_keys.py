"""What a signing key must be: long enough, and never a value Candour itself published.

Candour ships no built-in key. The examples (deploy/compose/.env.example, the
kustomize example overlay, the docs) hold placeholders so operators see where a
key goes; a deployment that copies one unchanged would sign with a key anyone can
read, so every placeholder is refused by name. A test reads the repository and
fails when an example holds a value this list does not refuse.
"""

from __future__ import annotations

import hashlib
import hmac

MIN_KEY_BYTES = 32

# Every placeholder or example key value ever published in the repository,
# including the built-in default that earlier versions fell back to.
PUBLISHED_PLACEHOLDERS = frozenset(
    {
        "dev-only-insecure-secret-change-me",
        "change-me-to-48-random-bytes",
        "example-only-replace-with-48-random-bytes",
        "REPLACE-ME-with-the-output-of-openssl-rand-base64-48",
        "REPLACE-ME-with-another-output-of-openssl-rand-base64-48",
    }
)

HOW_TO_GENERATE = "generate one with `openssl rand -base64 48`"


def derive_key(master: str, purpose: str) -> bytes:
    """A key for one purpose only, derived from `master` (HMAC-SHA256 as a PRF, as in
    HKDF-Expand): knowing it reveals neither `master` nor any other purpose's key."""
    return hmac.new(master.encode(), f"candour:{purpose}".encode(), hashlib.sha256).digest()


def key_problem(value: str) -> str | None:
    """Why `value` cannot be a signing key, or None when it can."""
    if not value.strip():
        return f"is empty; {HOW_TO_GENERATE}"
    if value.strip() in PUBLISHED_PLACEHOLDERS:
        return f"is a placeholder published in Candour's examples; {HOW_TO_GENERATE}"
    size = len(value.encode())
    if size < MIN_KEY_BYTES:
        return (
            f"is {size} bytes; it must be at least {MIN_KEY_BYTES} random bytes ({HOW_TO_GENERATE})"
        )
    return None
