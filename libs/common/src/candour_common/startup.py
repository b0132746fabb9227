"""A service's settings at start-up: read and checked before anything is connected.

A service that lacks a key, or has a weak or published one, must not start at
all: it says why in one line per problem, naming the environment variable, and
exits with EX_CONFIG before it opens a single connection.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

from candour_common.settings import ServiceSettings
from candour_common.signing_keys import HOW_TO_GENERATE

EX_CONFIG = 78  # sysexits.h: configuration error

S = TypeVar("S", bound=ServiceSettings)


class ConfigurationError(RuntimeError):
    """Settings a service cannot run with; `problems` holds one sentence each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def _variable(field: str) -> str:
    return f"CANDOUR_{field.upper()}"


def _describe(error: Any) -> str:
    # Only the message: pydantic's `input` would be the secret itself.
    loc = error.get("loc") or ()
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    if error.get("type") == "missing":
        message = "is not set"
    if not loc:
        return message
    return f"{_variable(str(loc[0]))} {message}"


def require_keys(settings: ServiceSettings) -> None:
    """ConfigurationError when a key the service needs is unset."""
    missing = settings.missing_keys()
    if missing:
        raise ConfigurationError(
            [f"{_variable(name)} is not set; {HOW_TO_GENERATE}" for name in missing]
        )


def read_settings(cls: type[S], *, keys_required: bool = True) -> S:
    """`cls` from the environment, or ConfigurationError naming each variable that is wrong.

    `keys_required=False` is for operator commands that sign nothing: a key that is
    set must still be strong, but an unset one is not a problem for them.
    """
    try:
        settings = cls()
    except ValidationError as exc:
        raise ConfigurationError([_describe(e) for e in exc.errors()]) from None
    if keys_required:
        require_keys(settings)
    return settings


def settings_or_exit(cls: type[S]) -> S:
    """For a service's `main`: its settings, or one line per problem on stderr and exit 78."""
    try:
        return read_settings(cls)
    except ConfigurationError as exc:
        service = cls.model_fields["service_name"].default
        for problem in exc.problems:
            print(f"{service} cannot start: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(EX_CONFIG) from None


def command_settings_or_exit(cls: type[S], command: str) -> S:
    """For an operator command: its settings, or one line per problem on stderr and exit 78.

    The same checks as a service's start (a weak or published key is refused), said
    as the command's own words instead of a traceback.
    """
    try:
        return read_settings(cls, keys_required=False)
    except ConfigurationError as exc:
        for problem in exc.problems:
            print(f"{command}: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(EX_CONFIG) from None
