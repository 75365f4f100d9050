"""`lore eval`: retrieval benchmarks on public data, in a fresh store unless --db is given."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..engine import USE_DEFAULT, Lore
from ..types import SEARCH_MODES
from .app import LoreGroup, Settings, cli, emit_json, json_option, note


@cli.group("eval", cls=LoreGroup)
def eval_group() -> None:
    """Run a retrieval benchmark and print its metrics.

    Each benchmark ingests its data into a fresh temporary store (deleted afterwards) unless the
    global --db is given, e.g. `lore --db bench.db eval locomo locomo10.json`.
    """


@contextmanager
def _store(settings: Settings) -> Iterator[Lore]:
    # Public benchmark conversations are about people's lives (health, family, pay): the
    # topic rules would mask the evidence being measured, so evaluations store it unredacted.
    if settings.db_given:
        yield settings.open(redaction=None)
        return
    with tempfile.TemporaryDirectory(prefix="lore-eval-") as tmp:
        note(f"using a temporary store in {tmp}")
        embedder = settings.embedder or USE_DEFAULT
        with Lore.open(Path(tmp) / "eval.db", embedder=embedder, redaction=None) as lore:
            yield lore  # closed before its directory is deleted


def _run(run: Callable[[Callable[[int], None]], dict[str, Any]], total: int, as_json: bool) -> None:
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


MODE_OPTION = click.option(
    "--mode",
    type=click.Choice(SEARCH_MODES),
    default="hybrid",
    show_default=True,
    help="Retrievers the questions are searched with.",
)


@eval_group.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@MODE_OPTION
@click.option(
    "--memories", "with_memories", is_flag=True,
    help="Distil after ingest; memory hits count as their evidence turns, fused in rank order.",
)
@json_option
@click.pass_obj
def locomo(settings: Settings, file: Path, mode: str, with_memories: bool, as_json: bool) -> None:
    """LoCoMo conversational memory (e.g. locomo10.json): recall of evidence turns per question."""
    from ..evals import locomo as bench

    with _store(settings) as lore:
        note("ingesting conversations…")
        total = bench.question_count(file)
        _run(
            lambda tick: bench.evaluate(
                lore, file, mode=mode, progress=tick, with_memories=with_memories
            ),
            total,
            as_json,
        )


@eval_group.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--qrels",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Relevance judgements (BEIR qrels TSV, e.g. qrels/test.tsv).",
)
@MODE_OPTION
@json_option
@click.pass_obj
def scifact(settings: Settings, directory: Path, qrels: Path, mode: str, as_json: bool) -> None:
    """SciFact (BEIR) claims over DIRECTORY (corpus.jsonl, queries.jsonl): nDCG@10, recall@100."""
    from ..evals import scifact as bench

    with _store(settings) as lore:
        note("ingesting corpus…")
        total = len(bench.load_qrels(qrels))
        _run(
            lambda tick: bench.evaluate(lore, directory, qrels, mode=mode, progress=tick),
            total,
            as_json,
        )


@eval_group.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@click.pass_obj
def longmemeval(settings: Settings, file: Path, as_json: bool) -> None:
    """LongMemEval (S, M, oracle or derived file): session recall_all@k and ndcg_any@k."""
    from ..evals import longmemeval as bench

    with _store(settings) as lore:
        total = sum(len(bench.questions(item)) for item in bench.load(file))
        _run(lambda tick: bench.evaluate(lore, file, progress=tick), total, as_json)
