"""`lore eval`: retrieval benchmarks on public data, in a fresh store unless --db is given."""

from __future__ import annotations

import importlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from ..engine import USE_DEFAULT, Lore
from ..errors import ConfigError
from .app import LoreGroup, Settings, cli, emit_json, json_option, note


@cli.group("eval", cls=LoreGroup)
def eval_group() -> None:
    """Run a retrieval benchmark and print its metrics.

    Each benchmark ingests its data into a fresh temporary store (deleted afterwards) unless the
    global --db is given, e.g. `lore --db bench.db eval locomo locomo10.json`.
    """


def _evaluator(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"lore.evals.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"lore.evals.{name}":
            raise
        raise ConfigError(f"the {name} benchmark is not available in this install") from None


@contextmanager
def _store(settings: Settings) -> Iterator[Lore]:
    if settings.db_given:
        yield settings.open()
        return
    with tempfile.TemporaryDirectory(prefix="lore-eval-") as tmp:
        note(f"using a temporary store in {tmp}")
        with Lore.open(Path(tmp) / "eval.db", embedder=settings.embedder or USE_DEFAULT) as lore:
            yield lore  # closed before its directory is deleted


def _total(count: Callable[[], int] | None) -> int:
    if count is None:
        return 0
    try:
        return int(count())
    except Exception:  # only a progress bar's length depends on it
        return 0


def _run(
    run: Callable[[Callable[[int], None]], dict[str, Any]], total: int, as_json: bool
) -> None:
    with click.progressbar(length=total, label="evaluating", file=sys.stderr, show_pos=True) as bar:
        result = run(bar.update)
    if as_json:
        emit_json(result)
    else:
        for key, value in _flatten(result):
            click.echo(f"{key:<32} {value}")


def _flatten(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, name + ".")
        else:
            yield name, value


@eval_group.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@click.pass_obj
def locomo(settings: Settings, file: Path, as_json: bool) -> None:
    """LoCoMo conversational memory (e.g. locomo10.json): recall of evidence turns per question."""
    module = _evaluator("locomo")
    count = getattr(module, "question_count", None)
    with _store(settings) as lore:
        note("ingesting conversations…")
        _run(
            lambda tick: module.evaluate(lore, file, progress=tick),  # type: ignore[no-any-return]
            _total(count and (lambda: count(file))),
            as_json,
        )


@eval_group.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--qrels", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Relevance judgements (BEIR qrels TSV, e.g. qrels/test.tsv).",
)
@json_option
@click.pass_obj
def scifact(settings: Settings, directory: Path, qrels: Path, as_json: bool) -> None:
    """SciFact (BEIR) claims over DIRECTORY (corpus.jsonl, queries.jsonl): nDCG@10, recall@100."""
    module = _evaluator("scifact")
    load = getattr(module, "load_qrels", None)
    with _store(settings) as lore:
        note("ingesting corpus…")
        _run(
            lambda tick: module.evaluate(lore, directory, qrels, progress=tick),  # type: ignore[no-any-return]
            _total(load and (lambda: len(load(qrels)))),
            as_json,
        )
