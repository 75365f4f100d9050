"""Commands that create and fill a store: `lore init`, `lore add`, `lore ingest`, `lore stats`."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import click

from ..engine import DEFAULT_NAMESPACE, USE_DEFAULT, Lore
from ..errors import IngestError
from ..ingest.base import available_formats
from ..ingest.sync import SourceResult, SyncReport, combine, plan_sources
from ..ingest.writer import check_namespace
from ..types import RECORD_KINDS, IngestProblem
from .app import Settings, cli, emit_json, json_option, note, prepare_search

NAMESPACE_HELP = "Namespace to write under, a path such as acme/eng/payments."


@cli.command()
@json_option
@click.pass_obj
def init(settings: Settings, as_json: bool) -> None:
    """Create an empty store at --db (default ./.lore/lore.db); an existing one is left as is."""
    existed = settings.db.exists()
    lore = settings.open()
    stats = lore.stats()
    data = {
        "path": str(settings.db),
        "created": not existed,
        "embedder": stats["embedder"],
        "records": stats["records"],
    }
    if as_json:
        emit_json(data)
    elif existed:
        click.echo(f"{settings.db} exists ({stats['records']} records, {stats['embedder']})")
    else:
        click.echo(f"created {settings.db} (embedder {stats['embedder']})")


@cli.command()
@click.argument("text")
@click.option("--actor", help="Who said or did it.")
@click.option("--session", help="Session, thread or channel it belongs to.")
@click.option(
    "--kind", type=click.Choice(RECORD_KINDS), default="message", show_default=True,
    help="Record kind.",
)
@click.option("--namespace", default=DEFAULT_NAMESPACE, show_default=True, help=NAMESPACE_HELP)
@json_option
@click.pass_obj
def add(
    settings: Settings,
    text: str,
    actor: str | None,
    session: str | None,
    kind: str,
    namespace: str,
    as_json: bool,
) -> None:
    """Add one record with TEXT (`-` reads stdin); adding the same record twice adds nothing."""
    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise click.UsageError("TEXT is empty")
    check_namespace(namespace)
    lore = settings.open()
    report = lore.add(
        text, namespace=namespace, kind=kind, actor=actor, session=session, source="cli"
    )
    if as_json:
        emit_json({**report.to_dict(), "record_ids": list(report.record_ids)})
    elif report.added:
        click.echo(f"added record:{report.record_ids[0]}")
    elif report.duplicates:
        click.echo("already stored; nothing added")
    _show_problems(report.problems)
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["auto", *available_formats()]), default="auto",
    show_default=True, help="Input format; auto detects it per file or folder.",
)
@click.option("--namespace", default=DEFAULT_NAMESPACE, show_default=True, help=NAMESPACE_HELP)
@click.option("--full", is_flag=True, help="Read every source again, even unchanged ones.")
@click.option(
    "--watch", is_flag=True,
    help="Keep ingesting as files appear, grow or change, until Ctrl-C.",
)
@click.option(
    "--interval", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
    help="Seconds between polls with --watch.",
)
@click.option(
    "--policy", type=click.Path(dir_okay=False, path_type=Path),
    envvar="LORE_REDACTION_POLICY", default=None,
    help="Redaction policy (TOML) applied before anything is stored."
    " [env: LORE_REDACTION_POLICY; default: the built-in policy]",
)
@click.option("--no-redact", is_flag=True, help="Store everything as it is: no redaction.")
@json_option
@click.pass_obj
def ingest(
    settings: Settings,
    paths: tuple[Path, ...],
    fmt: str,
    namespace: str,
    full: bool,
    watch: bool,
    interval: float,
    policy: Path | None,
    no_redact: bool,
    as_json: bool,
) -> None:
    """Ingest files and folders (walked recursively); re-ingesting adds nothing.

    A Slack export (folder or zip) or a folder of .eml files is read as one source. Each
    source keeps a cursor: an unchanged one is skipped, a grown log is read from where it
    stopped. Every item that cannot be read is reported as `file:line: reason`; the rest
    lands. Exits with code 1 when anything failed.
    """
    check_namespace(namespace)
    planned, _, _ = plan_sources(paths, fmt)
    lore = settings.open(redaction=None if no_redact else policy or USE_DEFAULT)
    results: list[SourceResult] = []
    problems: list[IngestProblem] = []
    unsupported: list[str] = []
    items = 0
    with click.progressbar(
        length=len(planned), label="ingesting", file=sys.stderr, show_pos=True,
        item_show_func=lambda item: item,
    ) as bar:
        def tick(n: int) -> None:
            nonlocal items
            items += n
            bar.update(0, f"{items} items")

        def done(result: SourceResult) -> None:
            results.append(result)
            bar.update(1, Path(result.uri).name)

        for path in paths:
            try:
                report = lore.ingest(
                    path, format=fmt, namespace=namespace, progress=tick, full=full,
                    on_source=done,
                )
            except IngestError as exc:
                problems.append(IngestProblem(exc.file or str(path), exc.line, exc.reason))
                continue
            unsupported.extend(report.unsupported)
    if watch:
        results += _watch(lore, paths, fmt, namespace, interval)
    else:
        prepare_search(lore)  # a big store's ranked index, now rather than at the first search
    total = combine(results, problems, unsupported)
    _summarise(total, as_json=as_json)
    if lore.redactor is not None and lore.redactor.stats:
        from .redact import stats_line

        note(stats_line(lore.redactor.stats))
    if total.failed:
        sys.exit(1)


def _watch(
    lore: Lore, paths: Sequence[Path], fmt: str, namespace: str, interval: float
) -> list[SourceResult]:
    """Poll until Ctrl-C, printing one line per source that changed; returns those changes."""
    note(f"watching {len(paths)} path{'s' if len(paths) != 1 else ''} every {interval:g}s"
         " (Ctrl-C to stop)")
    stop = threading.Event()
    changed: list[SourceResult] = []

    def show(cycle: int, report: SyncReport) -> None:
        for source in report.sources:
            if source.status == "unchanged":
                continue
            changed.append(source)
            r = source.report
            note(f"{source.status} {source.uri}: added {r.added} · failed {r.failed}"
                 f" · hidden {source.hidden}")

    try:
        lore.watch(
            paths, format=fmt, namespace=namespace, interval=interval, stop=stop, on_cycle=show
        )
    except KeyboardInterrupt:
        stop.set()  # the interrupted batch rolled back; its source is read again next time
        note("stopped")
    return changed


def _summarise(report: SyncReport, *, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_dict())
        return
    count = len(report.sources)
    click.echo(
        f"added {report.added} · skipped {report.duplicates} as duplicate · failed {report.failed}"
        f" · {count} source{'s' if count != 1 else ''}"
        + (f" ({report.unchanged} unchanged)" if report.unchanged else "")
        + (f" · hidden {report.hidden} superseded" if report.hidden else "")
    )
    _show_problems(report.problems)
    for path in report.unsupported:
        note(f"{path}: skipped, not a format Lore reads (pass --format to force one)")


def _show_problems(problems: Iterable[IngestProblem]) -> None:
    for problem in problems:
        note(str(problem))


@cli.command()
@json_option
@click.pass_obj
def stats(settings: Settings, as_json: bool) -> None:
    """Counts of records, sessions, vectors, namespaces, kinds and memories.

    Memories are counted by kind, and the LLM distillation batches that never validated
    (`lore distill --retry-failed` retries them) as failures. The store's path and embedder
    are shown too.
    """
    data = settings.open(must_exist=True).stats()
    if as_json:
        emit_json(data)
        return
    click.echo(f"store      {data['path']}")
    click.echo(f"embedder   {data['embedder']}")
    for key in ("records", "sessions", "vectors", "forgotten", "hidden"):
        click.echo(f"{key:<10} {data.get(key, 0)}")
    click.echo(f"{'memories':<10} {sum((data.get('memories') or {}).values())}")
    failures = data.get("distill_failures", 0)
    retry = " distill batches (lore distill --retry-failed)" if failures else ""
    click.echo(f"{'failures':<10} {failures}{retry}")
    for title, key in (
        ("namespaces", "namespaces"), ("kinds", "kinds"), ("memories by kind", "memories")
    ):
        counts = data.get(key) or {}
        if counts:
            click.echo(f"{title}:")
            for name, count in counts.items():
                click.echo(f"  {name:<30} {count}")


@cli.command()
@click.argument("embedder")
@json_option
@click.pass_obj
def reembed(settings: Settings, embedder: str, as_json: bool) -> None:
    """Embed every record again with EMBEDDER (e.g. minilm, hash:256) and make it the store's."""
    if not settings.db.exists():
        raise click.UsageError(f"no Lore store at {settings.db}")
    from ..engine import Lore
    from ..store.sqlite import SQLiteStore

    store = SQLiteStore(settings.db)
    total = store.count()
    store.close()
    with click.progressbar(length=total, label="re-embedding", file=sys.stderr) as bar:
        lore = Lore.open(settings.db, embedder=embedder, reembed=True, progress=bar.update)
    click.get_current_context().call_on_close(lore.close)
    data = {"path": str(settings.db), "embedder": lore.embedder.identity, "records": total}
    if as_json:
        emit_json(data)
    else:
        click.echo(f"re-embedded {total} records with {lore.embedder.identity}")
