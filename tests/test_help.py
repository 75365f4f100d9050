"""Every command, group and option of the CLI has help text, and every command takes --json."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from lore.cli import cli


def _walk(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(cli))


def test_the_tree_has_every_verb() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    expected = {
        "",
        "init",
        "add",
        "ingest",
        "search",
        "context",
        "expand",
        "distill",
        "memories",
        "fold",
        "stats",
        "eval",
        "eval locomo",
        "eval scifact",
        "eval longmemeval",
        "reembed",
    }
    assert expected <= names


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "lore" for p, _ in COMMANDS]
)
def test_help_text(path: tuple[str, ...], command: click.Command) -> None:
    assert (command.help or "").strip(), f"`lore {' '.join(path)}` has no help text"
    assert command.get_short_help_str().strip()
    for param in command.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), (
                f"{param.opts} of `lore {' '.join(path)}` has no help"
            )
    if not isinstance(command, click.Group):
        assert any("--json" in p.opts for p in command.params), (
            f"`lore {' '.join(path)}` lacks --json"
        )
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="lore")
    assert result.exit_code == 0 and "Usage: lore" in result.stdout


def test_cli_reference_is_current() -> None:
    from pathlib import Path

    from lore.cli.reference import reference

    docs = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
    assert docs.read_text() == reference(), "regenerate: python -m lore.cli.reference > docs/cli.md"
