"""`candour`: the operator's command line. Each command group lives in its own module."""

from __future__ import annotations

import typer

from candour_cli import (
    acls,
    contracts,
    dev,
    devstate,
    directory,
    dlq,
    feedback,
    insight,
    migrate,
    screening,
    search_rebuild,
    tokens,
    topics,
)

app = typer.Typer(
    name="candour",
    help="Run and operate Candour: the dev platform, tokens, migrations, topics, directory.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(tokens.app, name="token")
app.add_typer(contracts.app, name="contracts")
app.add_typer(dlq.app, name="dlq")
app.command("dev")(dev.command)
app.command("migrate")(migrate.command)
app.add_typer(topics.app, name="topics")
app.add_typer(acls.app, name="acls")
app.add_typer(directory.app, name="directory")
app.add_typer(feedback.app, name="import")
app.add_typer(search_rebuild.app, name="search")
app.add_typer(insight.app, name="insight")
app.add_typer(screening.app, name="screening")
# Next to a running `candour dev`, sign with its generated secret unless one is set.
app.callback()(devstate.use_dev_secret_when_unset)
