"""`candour token issue`: sign a bearer token for a moderator, staff member or operator.

Every token names one person (its subject, which the audit trail records) and
carries its own id; moderator and operator tokens last 12 hours unless asked.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Annotated

import typer

from candour_common.auth import Role, default_ttl, issue_token
from candour_common.settings import ServiceSettings
from candour_common.startup import ConfigurationError, read_settings

app = typer.Typer(help="Bearer tokens.", no_args_is_help=True)

_TTL = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_ttl(text: str) -> timedelta:
    match = _TTL.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise typer.BadParameter("use a positive number and a unit, e.g. 30d, 12h, 15m")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def describe_ttl(ttl: timedelta) -> str:
    seconds = int(ttl.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def generated_subject(role: Role, org: str | None) -> str:
    """A subject no other token has, for when the operator names nobody."""
    return f"{role.value}{'@' + org if org else ''}-{secrets.token_hex(4)}"


def signing_key() -> str:
    try:
        settings = read_settings(ServiceSettings)
    except ConfigurationError as exc:
        for problem in exc.problems:
            typer.echo(f"candour token issue: {problem}", err=True)
        raise typer.Exit(2) from None
    return settings.jwt_key()


@app.command("issue")
def issue(
    role: Annotated[Role, typer.Option(help="moderator, staff or operator.")],
    org: Annotated[str | None, typer.Option(help="ODS code; required for staff.")] = None,
    subject: Annotated[
        str | None,
        typer.Option(
            help="The person the token is for, as audits will show it (e.g. an email or "
            "staff number). Without it a unique one is generated and printed: record it."
        ),
    ] = None,
    ttl: Annotated[
        str | None,
        typer.Option(
            help="Lifetime, e.g. 12h, 30d. Default: 12h for moderator and operator, 30d for staff."
        ),
    ] = None,
) -> None:
    """Print a signed token on the last line (key: CANDOUR_JWT_SECRET)."""
    if role is Role.STAFF and not org:
        raise typer.BadParameter("staff tokens need --org <ODS code>", param_hint="--org")
    if subject is not None and not subject.strip():
        raise typer.BadParameter("name the person the token is for", param_hint="--subject")
    lifetime = parse_ttl(ttl) if ttl is not None else default_ttl(role)
    key = signing_key()
    who = subject.strip() if subject else generated_subject(role, org)
    token = issue_token(key, role=role, subject=who, organisation_id=org, ttl=lifetime)
    if subject is None:
        typer.echo(
            f"no --subject given: this token's subject is {who} (record who holds it)", err=True
        )
    typer.echo(
        f"{role.value} token{' for ' + org if org else ''}, subject {who}, "
        f"valid {describe_ttl(lifetime)}:",
        err=True,
    )
    typer.echo(token)
