"""`lore distill` and `lore memories`: distil records into memories, list and search them."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from ..engine import USE_DEFAULT
from ..types import MEMORY_KINDS, Memory
from .app import DATE, Settings, cli, emit_json, json_option, note


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else "…"


def _line(memory: Memory) -> str:
    span = f"{_when(memory.valid_from)} → {_when(memory.valid_to) if memory.valid_to else 'now'}"
    flat = " ".join(memory.text.split())
    gone = f" (superseded by memory:{memory.superseded_by})" if memory.superseded_by else ""
    return f"[{memory.kind}] {flat}\n    {span} · {len(memory.evidence)} evidence · " \
        f"{memory.method} · memory:{memory.id}{gone}"


@cli.command()
@click.option("--namespace", help="Only records in this namespace and below it.")
@click.option(
    "--retry-failed", is_flag=True,
    help="Ask the LLM again for the batches whose answers never validated.",
)
@click.option(
    "--no-llm", is_flag=True, help="Rules only, even when LORE_LLM_URL is set.",
)
@json_option
@click.pass_obj
def distill(
    settings: Settings, namespace: str | None, retry_failed: bool, no_llm: bool, as_json: bool
) -> None:
    """Distil records not yet distilled into episodes, facts, decisions and procedures.

    Incremental (each session is distilled up to a watermark) and idempotent: running it again
    adds nothing. A newer fact that contradicts an older one about the same subject and
    attribute supersedes it (valid_to, superseded_by); nothing is deleted. Offline and
    rule-based unless LORE_LLM_URL and LORE_LLM_MODEL name an OpenAI-compatible chat
    endpoint (LORE_LLM_API_KEY its key, LORE_LLM_MAX_TOKENS the answer cap, default 1024):
    then one validated call per session batch makes its facts and episode, and an answer that
    never validates is recorded for --retry-failed. Reports what it made and what it cost.
    """
    lore = settings.open(must_exist=True)
    llm = None if no_llm else USE_DEFAULT
    report = lore.distill(namespace, llm=llm, retry_failed=retry_failed)
    if as_json:
        emit_json(report.to_dict())
        return
    made = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in report.made.items())
    click.echo(
        f"distilled {report.records} new records in {report.sessions} sessions:"
        f" {made or 'nothing new'}"
    )
    click.echo(
        f"superseded {report.superseded}, merged {report.merged} · method {report.method}"
        f" · {report.llm_calls} LLM calls, {report.tokens} tokens · {report.seconds:.2f}s"
    )
    if report.failures:
        note(f"{report.failures} batches failed validation: recorded; see --retry-failed")


@cli.command()
@click.argument("query", required=False)
@click.option(
    "--kind", "kinds", multiple=True, type=click.Choice(MEMORY_KINDS),
    help="Only this kind of memory (repeatable).",
)
@click.option(
    "--as-of", "as_of", type=DATE,
    help="What was true and known at DATE (valid then, recorded by then).",
)
@click.option("--namespace", help="Only this namespace and everything below it.")
@click.option(
    "--all", "include_superseded", is_flag=True,
    help="Include superseded and ended memories (the history); ignored with QUERY.",
)
@click.option(
    "-n", "--limit", type=click.IntRange(1, 10_000), default=50, show_default=True,
    help="How many memories to show.",
)
@json_option
@click.pass_obj
def memories(
    settings: Settings,
    query: str | None,
    kinds: tuple[str, ...],
    as_of: datetime | None,
    namespace: str | None,
    include_superseded: bool,
    limit: int,
    as_json: bool,
) -> None:
    """List memories (current ones, newest first), or the best matches for QUERY.

    Each cites its evidence; `lore expand memory:ID` shows the records behind one.
    """
    lore = settings.open(must_exist=True)
    if query:
        hits = lore.search_memories(
            query, min(limit, 1000), kinds=kinds, namespace=namespace, as_of=as_of
        )
        if as_json:
            emit_json({"query": query, "hits": [h.to_dict() for h in hits]})
            return
        found = [h.memory for h in hits]
    else:
        found = lore.memories(
            kinds=kinds, namespace=namespace, as_of=as_of,
            include_superseded=include_superseded, limit=limit,
        )
        if as_json:
            emit_json({"memories": [m.to_dict() for m in found]})
            return
    if not found:
        note("no memories (run `lore distill` first?)")
    for memory in found:
        click.echo(_line(memory))
