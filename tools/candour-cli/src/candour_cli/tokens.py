"""`candour token issue`: sign a bearer token for a moderator, staff member or operator."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer

from candour_common.auth import Role, issue_token
from candour_common.settings import ServiceSettings

app = typer.Typer(help="Bearer tokens.", no_args_is_help=True)

_TTL = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_ttl(text: str) -> timedelta:
    match = _TTL.match(text.strip())
    if not match:
        raise typer.BadParameter("use a number and a unit, e.g. 30d, 12h, 15m")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@app.command("issue")
def issue(
    role: Annotated[Role, typer.Option(help="moderator, staff or operator.")],
    org: Annotated[str | None, typer.Option(help="ODS code; required for staff.")] = None,
    subject: Annotated[str, typer.Option(help="Who the token is for (shown in audits).")] = "",
    ttl: Annotated[str, typer.Option(help="Lifetime, e.g. 30d, 12h.")] = "30d",
) -> None:
    """Print a signed token on the last line (key: CANDOUR_JWT_SECRET)."""
    if role is Role.STAFF and not org:
        raise typer.BadParameter("staff tokens need --org <ODS code>", param_hint="--org")
    secret = ServiceSettings().jwt_secret.get_secret_value()
    token = issue_token(
        secret,
        role=role,
        subject=subject or f"{role.value}{'@' + org if org else ''}",
        organisation_id=org,
        ttl=parse_ttl(ttl),
    )
    typer.echo(f"{role.value} token{' for ' + org if org else ''}, valid {ttl}:", err=True)
    typer.echo(token)
