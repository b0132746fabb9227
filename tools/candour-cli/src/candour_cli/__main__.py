"""`python -m candour_cli` is `candour`."""

from candour_cli.main import app

app()
