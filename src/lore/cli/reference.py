"""The CLI reference (docs/cli.md), generated from the commands' own help text."""

from __future__ import annotations

from collections.abc import Iterator

import click

from . import cli


def walk(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command below `command`, depth first, with its path of names."""
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, (*path, name))


def reference() -> str:
    """Markdown with each command's `--help` output."""
    parts = ["# CLI reference", "", "Generated from `lore --help`; do not edit by hand.", ""]
    for path, command in walk(cli):
        name = " ".join(("lore", *path))
        ctx = click.Context(
            command, info_name=name, terminal_width=100, help_option_names=["-h", "--help"]
        )
        parts += [f"## `{name}`", "", "```", command.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(reference(), end="")
