"""`candour`: the operator's command line. Each command group lives in its own module."""

from __future__ import annotations

import typer

from candour_cli import tokens

app = typer.Typer(
    name="candour",
    help="Run and operate Candour: the dev platform, tokens, migrations, topics, directory.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(tokens.app, name="token")
