"""Commands that create and fill a store: `lore init`, `lore add`, `lore ingest`, `lore stats`."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from ..engine import DEFAULT_NAMESPACE
from ..errors import IngestError
from ..ingest.base import available_formats, detect_format
from ..ingest.writer import check_namespace
from ..types import RECORD_KINDS, IngestProblem, IngestReport
from .app import Settings, cli, emit_json, json_option, note

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


def _walk(directory: Path) -> Iterable[Path]:
    """Files under `directory`, recursively, in a stable order, skipping hidden ones."""
    for path in sorted(directory.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(directory).parts)
        if path.is_file() and not hidden:
            yield path


Plan = tuple[list[tuple[Path, str]], list[str], list[IngestProblem]]


def _plan(paths: Iterable[Path], fmt: str) -> Plan:
    """(file, format) pairs to ingest, walked files no format fits, and unreadable named files."""
    planned: list[tuple[Path, str]] = []
    unsupported: list[str] = []
    problems: list[IngestProblem] = []
    for path in paths:
        walked = path.is_dir()
        for file in _walk(path) if walked else [path]:
            if fmt != "auto":
                planned.append((file, fmt))
                continue
            try:
                planned.append((file, detect_format(file)))
            except IngestError as exc:
                if walked:
                    unsupported.append(str(file))  # a stray file in a folder is not a failure
                else:
                    problems.append(IngestProblem(str(file), exc.line, exc.reason))
    return planned, unsupported, problems


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["auto", *available_formats()]), default="auto",
    show_default=True, help="Input format; auto detects it per file.",
)
@click.option("--namespace", default=DEFAULT_NAMESPACE, show_default=True, help=NAMESPACE_HELP)
@json_option
@click.pass_obj
def ingest(
    settings: Settings, paths: tuple[Path, ...], fmt: str, namespace: str, as_json: bool
) -> None:
    """Ingest files and directories (walked recursively); re-ingesting adds nothing.

    Every item that cannot be read is reported as `file:line: reason`; the rest lands.
    Exits with code 1 when anything failed.
    """
    check_namespace(namespace)
    planned, unsupported, problems = _plan(paths, fmt)
    lore = settings.open()
    files: list[dict[str, Any]] = []
    added = duplicates = 0
    failed = len(problems)
    items = 0
    with click.progressbar(
        length=len(planned), label="ingesting", file=sys.stderr, show_pos=True,
        item_show_func=lambda item: item,
    ) as bar:
        for file, name in planned:
            def tick(n: int, file: Path = file) -> None:
                nonlocal items
                items += n
                bar.update(0, f"{file.name} ({items} items)")

            try:
                report = lore.ingest(file, format=name, namespace=namespace, progress=tick)
            except IngestError as exc:
                problem = IngestProblem(exc.file or str(file), exc.line, exc.reason)
                report = IngestReport(0, 0, 1, (problem,))
            added += report.added
            duplicates += report.duplicates
            failed += report.failed
            problems.extend(report.problems)
            files.append({"path": str(file), "format": name, **report.to_dict()})
            bar.update(1, file.name)
    if as_json:
        emit_json({
            "added": added, "duplicates": duplicates, "failed": failed,
            "problems": [{"file": p.file, "line": p.line, "reason": p.reason} for p in problems],
            "unsupported": unsupported, "files": files,
        })
    else:
        click.echo(
            f"added {added} · skipped {duplicates} as duplicate · failed {failed}"
            f" · {len(planned)} file{'s' if len(planned) != 1 else ''}"
        )
        _show_problems(problems)
        for path in unsupported:
            note(f"{path}: skipped, not a format Lore reads (pass --format to force one)")
    if failed:
        sys.exit(1)


def _show_problems(problems: Iterable[IngestProblem]) -> None:
    for problem in problems:
        note(str(problem))


@cli.command()
@json_option
@click.pass_obj
def stats(settings: Settings, as_json: bool) -> None:
    """Counts of records, sessions, vectors, namespaces and kinds, and the store's embedder."""
    data = settings.open(must_exist=True).stats()
    if as_json:
        emit_json(data)
        return
    click.echo(f"store      {data['path']}")
    click.echo(f"embedder   {data['embedder']}")
    for key in ("records", "sessions", "vectors", "forgotten"):
        click.echo(f"{key:<10} {data.get(key, 0)}")
    for title, key in (("namespaces", "namespaces"), ("kinds", "kinds")):
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
