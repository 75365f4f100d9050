"""Commands that read a store: `lore search`, `lore context`, `lore expand`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from ..context.expand import MAX_WINDOW
from ..context.render import render_json, render_markdown
from ..requests import make_query, until_as_of
from ..tokens import DEFAULT_ENCODING, ENCODINGS
from ..types import RECORD_KINDS, SEARCH_MODES, Hit, Record
from .app import DATE, Settings, cli, emit_json, json_option, note, prepare_search

F = TypeVar("F", bound=Callable[..., Any])
PREVIEW_CHARS = 240

_FILTERS = [
    click.option("--namespace", help="Only this namespace and everything below it."),
    click.option("--actor", "actors", multiple=True, help="Only this actor (repeatable)."),
    click.option("--session", "sessions", multiple=True, help="Only this session (repeatable)."),
    click.option(
        "--kind", "kinds", multiple=True, type=click.Choice(RECORD_KINDS),
        help="Only this record kind (repeatable).",
    ),
    click.option("--since", type=DATE, help="Only records at or after DATE (2026-03-02, 7d)."),
    click.option("--until", type=DATE, help="Only records before DATE."),
]


AS_OF = click.option(
    "--as-of", "as_of", type=DATE,
    help="As known at DATE: records that had occurred by then, memories true and known then.",
)


def filter_options(func: F) -> F:
    """The scope filters shared by `search` and `context`; applied before top-k."""
    for option in reversed(_FILTERS):
        func = option(func)
    return func


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else ""


def _label(record: Record) -> str:
    parts = [
        _when(record.occurred_at),
        f"#{record.session_id}" if record.session_id else "",
        record.actor or "",
        record.namespace,
        f"record:{record.id}",
    ]
    return " · ".join(p for p in parts if p)


def _preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _why(hit: Hit) -> str:
    return ", ".join(f"{name} #{h.rank} ({h.score:.3g})" for name, h in hit.why.items())


@cli.command()
@click.argument("query")
@click.option("-k", "k", type=int, default=10, show_default=True, help="How many hits to return.")
@click.option(
    "--mode", type=click.Choice(SEARCH_MODES), default="hybrid", show_default=True,
    help="Retrievers to use: both fused, full text only, or vectors only.",
)
@filter_options
@AS_OF
@json_option
@click.pass_obj
def search(
    settings: Settings,
    query: str,
    k: int,
    mode: str,
    namespace: str | None,
    actors: tuple[str, ...],
    sessions: tuple[str, ...],
    kinds: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    as_of: datetime | None,
    as_json: bool,
) -> None:
    """The best records for QUERY, each with why it came back (which retriever, rank, score)."""
    until = until_as_of(until, as_of)
    request = make_query(query, k, mode, namespace, actors, sessions, kinds, since, until)
    lore = settings.open(must_exist=True)
    prepare_search(lore)
    hits = lore.search(request)
    if as_json:
        emit_json({"query": request.to_dict(), "hits": [hit.to_dict() for hit in hits]})
        return
    if not hits:
        note("no hits")
    for rank, hit in enumerate(hits, start=1):
        click.echo(f"{rank:>2}. {hit.score:.4f}  {_label(hit.record)}")
        click.echo(f"    {_preview(hit.record.text)}")
        click.echo(f"    why: {_why(hit)}")


@cli.command()
@click.argument("query")
@click.option(
    "--budget", type=click.IntRange(1), default=2000, show_default=True,
    help="Token budget for the whole rendered pack (exact count).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown",
    show_default=True, help="Render as cited markdown or as JSON.",
)
@click.option(
    "--encoding", type=click.Choice(ENCODINGS), default=DEFAULT_ENCODING, show_default=True,
    help="Tokenizer used to count the budget.",
)
@filter_options
@AS_OF
@click.option(
    "--no-memories", "no_memories", is_flag=True,
    help="Raw evidence only: do not lead with distilled memories.",
)
@json_option
@click.pass_obj
def context(
    settings: Settings,
    query: str,
    budget: int,
    fmt: str,
    encoding: str,
    namespace: str | None,
    actors: tuple[str, ...],
    sessions: tuple[str, ...],
    kinds: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    as_of: datetime | None,
    no_memories: bool,
    as_json: bool,
) -> None:
    """Cited, deduplicated context for QUERY that fits --budget tokens, ready for a prompt.

    Each fragment shows a handle (record:ID) that `lore expand` turns back into the evidence.
    """
    lore = settings.open(must_exist=True)
    prepare_search(lore)
    pack = lore.context(
        query, budget, namespace=namespace, actors=actors, sessions=sessions, kinds=kinds,
        since=since, until=until, encoding=encoding, as_of=as_of, memories=not no_memories,
    )
    if as_json or fmt == "json":
        click.echo(render_json(pack))
        return
    if pack.fragments:
        click.echo(render_markdown(pack))
    used = f"{pack.tokens}/{pack.budget_tokens} tokens ({pack.encoding})"
    count = len(pack.fragments)
    note(f"{count} fragment{'' if count == 1 else 's'} · {used}")


@cli.command()
@click.argument("handle")
@click.option(
    "--window", type=click.IntRange(0, MAX_WINDOW), default=3, show_default=True,
    help="Neighbouring records of the same session to show on each side.",
)
@json_option
@click.pass_obj
def expand(settings: Settings, handle: str, window: int, as_json: bool) -> None:
    """The original records behind HANDLE (from `lore context`), with their session neighbours.

    Records in the handle are marked with `>`.
    """
    expansion = settings.open(must_exist=True).expand(handle, window)
    if as_json:
        emit_json(expansion.to_dict())
        return
    focus = set(expansion.focus)
    for record in expansion.records:
        mark = ">" if record.id in focus else " "
        seq = f"[{record.seq}] " if record.seq is not None else ""
        click.echo(f"{mark} {seq}{_label(record)}")
        for line in record.text.splitlines() or [""]:
            click.echo(f"{mark}     {line}")
