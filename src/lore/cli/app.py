"""The `lore` command group: global options, opening the store, output helpers, one-line errors."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import click
from click.core import ParameterSource

from ..engine import USE_DEFAULT, Lore, default_db_path
from ..errors import ConfigError, EmbedderMismatch, LoreError, QueryError

F = TypeVar("F", bound=Callable[..., Any])

# Errors the user fixes by changing the command line or configuration: exit code 2, like click.
USAGE_ERRORS = (ConfigError, QueryError, EmbedderMismatch)
EMBEDDER_HELP = (
    "Embedder: minilm, hash, hash:DIM or openai:MODEL@URL. "
    "Default: the one the store was built with (MiniLM for a new store)."
)


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def fail(exc: LoreError) -> None:
    """Print `error: ...` (and `hint: ...`) on stderr and exit 2 for usage errors, else 1."""
    click.echo(f"error: {one_line(str(exc))}", err=True)
    if exc.hint:
        click.echo(f"hint: {one_line(exc.hint)}", err=True)
    raise click.exceptions.Exit(2 if isinstance(exc, USAGE_ERRORS) else 1)


class LoreGroup(click.Group):
    """A group that turns every LoreError into a one-line message instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LoreError as exc:
            fail(exc)


@dataclass
class Settings:
    """The global options, shared by every command through `ctx.obj`."""

    db: Path
    db_given: bool
    embedder: str | None

    def open(self, *, must_exist: bool = False, redaction: Any = USE_DEFAULT) -> Lore:
        """Open the store (closed when the command ends); `must_exist` refuses to create one.

        `redaction`: the policy applied to what is written (see `Lore.open`)."""
        path = self.db
        if must_exist and not path.exists():
            raise ConfigError(
                f"no Lore store at {path}",
                hint="run `lore init` first, or pass --db PATH (or set LORE_DB)",
            )
        lore = Lore.open(path, embedder=self.embedder or USE_DEFAULT, redaction=redaction)
        click.get_current_context().call_on_close(lore.close)
        return lore


def prepare_search(lore: Lore) -> None:
    """Build the ranked full-text index of a big store now, with a progress bar on stderr,
    rather than silently inside the first search."""
    pending = lore.pending_search_index()
    if pending:
        with click.progressbar(
            length=pending, label="indexing full text for search", file=sys.stderr
        ) as bar:
            lore.prepare_search(bar.update)


def json_option(func: F) -> F:
    """`--json`: machine-readable output on stdout, and nothing else there."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON on stdout (and nothing else there)."
    )(func)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def note(message: str) -> None:
    """Progress or diagnostics for people: always on stderr."""
    click.echo(message, err=True)


class DateType(click.ParamType):
    """An ISO date or time (naive means UTC), or a span ago such as 7d, 24h, 2w."""

    name = "DATE"
    _AGO = re.compile(r"(\d+)\s*([mhdw])")
    _UNITS: ClassVar[dict[str, str]] = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        if match := self._AGO.fullmatch(text):
            span = timedelta(**{self._UNITS[match.group(2)]: int(match.group(1))})
            return datetime.now(UTC) - span
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            self.fail(f"{value!r} is not a date: use 2026-03-02, 2026-03-02T10:00, 7d", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


DATE = DateType()


@click.group(
    cls=LoreGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LORE_DB",
    default=None,
    help="The store's SQLite file. [env: LORE_DB; default: ./.lore/lore.db]",
)
@click.option("--embedder", metavar="NAME", default=None, help=EMBEDDER_HELP)
@click.version_option(package_name="lore", prog_name="lore")
@click.pass_context
def cli(ctx: click.Context, db: Path | None, embedder: str | None) -> None:
    """Lore: an evidence store of chat, transcripts, agent runs and documents, with hybrid
    search and token-budgeted, cited context for agents.

    Start with `lore init`, `lore ingest PATH`, then `lore search QUERY` or
    `lore context QUERY --budget 800`. Every command takes --json.
    """
    given = ctx.get_parameter_source("db") == ParameterSource.COMMANDLINE
    ctx.obj = Settings(db=db or default_db_path(), db_given=given, embedder=embedder)


def main(argv: list[str] | None = None) -> None:
    """Run the `lore` command line (the console script and `python -m lore`)."""
    cli.main(args=argv, prog_name="lore")
