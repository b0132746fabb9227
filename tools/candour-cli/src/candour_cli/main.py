"""`candour`: the operator's command line. Each command group lives in its own module.

A command's module is imported only when that command runs (or `--help` lists them
all): importing every one costs about a second of CPU, which `candour dev` would
otherwise spend before it starts anything.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

from candour_cli import devstate

if TYPE_CHECKING:
    from typer._click import Context  # the click typer vendors, which its groups take

# Command name -> (module in candour_cli, its Typer app or command function), in help order.
COMMANDS: dict[str, tuple[str, str]] = {
    "dev": ("dev", "command"),
    "migrate": ("migrate", "command"),
    "token": ("tokens", "app"),
    "contracts": ("contracts", "app"),
    "dlq": ("dlq", "app"),
    "topics": ("topics", "app"),
    "acls": ("acls", "app"),
    "directory": ("directory", "app"),
    "import": ("feedback", "app"),
    "search": ("search_rebuild", "app"),
    "insight": ("insight", "app"),
    "screening": ("screening", "app"),
}


def load_command(name: str) -> TyperCommand | TyperGroup:
    """The click command `name` is, built as `add_typer`/`command` would build it."""
    module, attribute = COMMANDS[name]
    target: Any = getattr(importlib.import_module(f"candour_cli.{module}"), attribute)
    holder = typer.Typer()
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
        # A second command makes typer build a group, whatever the first one is.
        holder.command("-")(lambda: None)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    command = group.commands[name]
    assert isinstance(command, TyperCommand | TyperGroup)
    return command


class LazyCommands(TyperGroup):
    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: Context, cmd_name: str) -> Any:  # a click command, or None
        if cmd_name in COMMANDS:
            return load_command(cmd_name)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    name="candour",
    cls=LazyCommands,
    help="Run and operate Candour: the dev platform, tokens, migrations, topics, directory.",
    no_args_is_help=True,
    add_completion=False,
)
# Next to a running `candour dev`, sign with its generated secret unless one is set.
app.callback()(devstate.use_dev_secret_when_unset)
