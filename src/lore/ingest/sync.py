"""Incremental sync: a cursor per source, resuming append-only files, and watching for changes."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import IngestError
from ..store.sources import SourceCursor
from ..store.sqlite import SQLiteStore
from ..types import Draft, IngestProblem, IngestReport
from .base import detect_format, get_connector
from .lines import LineConnector, Resume
from .writer import RecordWriter, WriteTally

TAIL_WINDOW = 4096  # bytes before the offset that must be unchanged for a file to resume
MAX_KEPT_PROBLEMS = 1000  # problems a cursor keeps to report again for an unchanged source
STATUSES = ("new", "unchanged", "appended", "changed", "removed")


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one sync did to one source: its status and the report for the whole source."""

    uri: str
    format: str
    status: str
    report: IngestReport
    hidden: int = 0  # records this read superseded or marked removed

    def to_dict(self) -> dict[str, Any]:
        data = {"path": self.uri, "format": self.format, "status": self.status}
        return {**data, **self.report.to_dict(), "hidden": self.hidden}


@dataclass(frozen=True, slots=True)
class SyncReport(IngestReport):
    """An ingest report over several sources, with each source's status.

    Counts describe the sources as they now are: an unchanged source is not read again, and
    reports its stored items as duplicates and its last problems again.
    """

    sources: tuple[SourceResult, ...] = ()
    unsupported: tuple[str, ...] = ()

    @property
    def unchanged(self) -> int:
        return sum(1 for s in self.sources if s.status == "unchanged")

    @property
    def hidden(self) -> int:
        return sum(s.hidden for s in self.sources)

    def to_dict(self) -> dict[str, Any]:
        return {
            **IngestReport.to_dict(self),
            "unchanged": self.unchanged,
            "hidden": self.hidden,
            "unsupported": list(self.unsupported),
            "files": [s.to_dict() for s in self.sources],
        }


def combine(
    results: Sequence[SourceResult],
    problems: Sequence[IngestProblem] = (),
    unsupported: Sequence[str] = (),
) -> SyncReport:
    """One report for many sources (plus problems met before any source was read)."""
    every = [*problems, *(p for r in results for p in r.report.problems)]
    return SyncReport(
        added=sum(r.report.added for r in results),
        duplicates=sum(r.report.duplicates for r in results),
        failed=len(problems) + sum(r.report.failed for r in results),
        problems=tuple(every),
        record_ids=tuple(i for r in results for i in r.report.record_ids),
        sources=tuple(results),
        unsupported=tuple(unsupported),
    )


def _hidden_name(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def plan_sources(
    paths: Iterable[Path],
    fmt: str = "auto",
    known: Callable[[Path], str | None] | None = None,
) -> tuple[list[tuple[Path, str]], list[str], list[IngestProblem]]:
    """(source, format) pairs, walked files no format fits, and named files that cannot be read.

    A folder that a connector reads whole (a Slack export, a folder of .eml files) is one
    source; any other folder is walked recursively in a stable order, hidden entries skipped.
    `known` gives the format a walked file was read with before, which spares detecting it.
    """
    planned: list[tuple[Path, str]] = []
    unsupported: list[str] = []
    problems: list[IngestProblem] = []

    def claim(folder: Path) -> str | None:
        if fmt != "auto":
            return fmt if get_connector(fmt).directories else None
        try:
            return detect_format(folder)
        except IngestError:
            return None

    def walk(folder: Path, root: Path) -> None:
        for entry in sorted(folder.iterdir()):
            if _hidden_name(entry, root):
                continue
            if entry.is_dir():
                name = claim(entry)
                if name is not None:
                    planned.append((entry, name))
                else:
                    walk(entry, root)
            elif entry.is_file():
                if fmt != "auto":
                    planned.append((entry, fmt))
                    continue
                try:
                    planned.append((entry, (known and known(entry)) or detect_format(entry)))
                except IngestError:
                    unsupported.append(str(entry))  # a stray file in a folder is not a failure

    for path in paths:
        path = path.resolve()  # one file is one source however it is named
        if path.is_dir():
            name = claim(path)
            if name is not None:
                planned.append((path, name))
            else:
                walk(path, path)
            continue
        try:
            planned.append((path, detect_format(path) if fmt == "auto" else fmt))
        except IngestError as exc:
            problems.append(IngestProblem(exc.file or str(path), exc.line, exc.reason))
    return planned, unsupported, problems


def _fingerprint(path: Path) -> tuple[int, int, str]:
    """(size, mtime_ns, listing hash): a folder's listing hash covers every file inside it."""
    stat = path.stat()
    if not path.is_dir():
        return stat.st_size, stat.st_mtime_ns, ""
    digest = hashlib.sha256()
    size = latest = 0
    for entry in sorted(path.rglob("*")):
        if entry.is_file() and not _hidden_name(entry, path):
            info = entry.stat()
            size += info.st_size
            latest = max(latest, info.st_mtime_ns)
            digest.update(
                f"{entry.relative_to(path)}\0{info.st_size}\0{info.st_mtime_ns}\n".encode()
            )
    return size, latest, digest.hexdigest()


def _tail_hash(path: Path, offset: int) -> str:
    """Hash of the `TAIL_WINDOW` bytes before `offset`: unchanged means the file only grew."""
    with path.open("rb") as handle:
        start = max(0, offset - TAIL_WINDOW)
        handle.seek(start)
        return hashlib.sha256(handle.read(offset - start)).hexdigest()


def _problems_of(cursor: SourceCursor) -> list[IngestProblem]:
    return [IngestProblem(str(f), line, str(reason)) for f, line, reason in cursor.problems]


class Syncer:
    """Reads sources into the store through the writer, keeping a cursor per source."""

    def __init__(
        self,
        store: SQLiteStore,
        writer: RecordWriter,
        on_visibility: Callable[[list[int], list[int]], None] | None = None,
    ) -> None:
        self.store = store
        self.writer = writer
        self.on_visibility = on_visibility

    def sync(
        self,
        paths: Sequence[Path],
        fmt: str = "auto",
        *,
        namespace: str,
        full: bool = False,
        settle: bool = False,
        progress: Callable[[int], None] | None = None,
        on_source: Callable[[SourceResult], None] | None = None,
    ) -> SyncReport:
        """Sync every source under `paths`; files gone from a walked folder count as removed."""

        def known(path: Path) -> str | None:
            cursor = self.store.get_cursor(namespace, str(path))
            return cursor.connector if cursor is not None else None

        planned, unsupported, problems = plan_sources(paths, fmt, known)
        results: list[SourceResult] = []
        for source, name in planned:
            try:
                result = self.sync_source(
                    source,
                    name,
                    namespace=namespace,
                    full=full,
                    settle=settle,
                    progress=progress,
                    sticky=fmt == "auto",
                )
            except IngestError as exc:
                problem = IngestProblem(exc.file or str(source), exc.line, exc.reason)
                result = SourceResult(str(source), name, "new", IngestReport(0, 0, 1, (problem,)))
            results.append(result)
            if on_source is not None:
                on_source(result)
        seen = {str(source) for source, _ in planned}
        for folder in {p.resolve() for p in paths if p.is_dir()}:
            for uri in self.store.cursor_uris_below(namespace, str(folder) + os.sep):
                if uri not in seen and not Path(uri).exists():
                    results.append(self._removed(namespace, uri))
                    if on_source is not None:
                        on_source(results[-1])
        return combine(results, problems, unsupported)

    def sync_source(
        self,
        path: Path,
        name: str,
        *,
        namespace: str,
        full: bool = False,
        settle: bool = False,
        progress: Callable[[int], None] | None = None,
        uri: str | None = None,
        sticky: bool = False,
    ) -> SourceResult:
        """Read one source, or only its new bytes, or nothing when it has not changed.

        With `settle`, an unterminated last line is read only once the file has stopped
        changing between two syncs (a writer may be halfway through it). `uri` names the
        source instead of its path; with `sticky` (the format was detected, not chosen) a
        source keeps the format it was first read with, as detection may change as it grows.
        """
        uri = uri or str(path)
        size, mtime_ns, fingerprint = _fingerprint(path)
        cursor = self.store.get_cursor(namespace, uri)
        if cursor is not None and cursor.connector != name:
            if sticky:
                name = cursor.connector
            else:
                cursor = None  # read under another format before: a different source
        connector = get_connector(name)
        same = cursor is not None and (cursor.size, cursor.mtime_ns, cursor.fingerprint) == (
            size,
            mtime_ns,
            fingerprint,
        )
        read_all = cursor is not None and (not connector.appendable or cursor.offset >= size)
        if cursor is not None and same and not full and read_all:
            problems = _problems_of(cursor)
            failed = max(len(problems), int(cursor.state.get("failed", 0)))
            report = IngestReport(0, cursor.items, failed, tuple(problems))
            return SourceResult(uri, name, "unchanged", report)
        final = not settle or same
        tally = WriteTally()
        base_items, base_problems, base_failed = 0, [], 0
        status = "new" if cursor is None else "changed"
        resume = Resume()
        if (
            cursor is not None
            and not full
            and connector.appendable
            and size >= cursor.offset
            and _tail_hash(path, cursor.offset) == cursor.tail_hash
        ):
            status = "appended"
            resume = Resume(cursor.offset, cursor.line, dict(cursor.state.get("resume", {})))
            base_items, base_problems = cursor.items, _problems_of(cursor)
            base_failed = max(len(base_problems), int(cursor.state.get("failed", 0)))
        elif connector.snapshot or (
            cursor is not None and self.store.has_removed(namespace, name, uri)
        ):
            tally.hashes = set()
        items: Iterator[Draft | IngestProblem]
        if isinstance(connector, LineConnector):
            items = connector.parse_from(path, resume, final=final)
        else:
            items = connector.parse(path)
        report = self.writer.write(
            items,
            namespace=namespace,
            connector=name,
            uri=uri,
            progress=progress,
            versioned=connector.versioned,
            tally=tally,
        )
        hidden = len(tally.hidden)
        if tally.hashes and status != "appended":
            with self.store.transaction():
                gone, back = self.store.refresh_source(
                    namespace, name, uri, tally.hashes, hide_missing=connector.snapshot
                )
            hidden += len(gone)
            self._notify(gone, back)
        problems = [*base_problems, *report.problems]
        failed = base_failed + report.failed
        self.store.put_cursor(
            SourceCursor(
                namespace,
                uri,
                name,
                size,
                mtime_ns,
                fingerprint,
                offset=resume.offset,
                line=resume.line,
                tail_hash=_tail_hash(path, resume.offset) if connector.appendable else "",
                state={"resume": resume.state, "failed": failed},
                items=base_items + report.added + report.duplicates,
                problems=[[p.file, p.line, p.reason] for p in problems[:MAX_KEPT_PROBLEMS]],
                last_run=time.time(),
            )
        )
        whole = IngestReport(
            report.added,
            base_items + report.duplicates,
            failed,
            tuple(problems),
            report.record_ids,
        )
        return SourceResult(uri, name, status, whole, hidden)

    def _removed(self, namespace: str, uri: str) -> SourceResult:
        """A source whose file is gone: its records leave search, and a tombstone says so."""
        cursor = self.store.get_cursor(namespace, uri)
        name = cursor.connector if cursor is not None else "unknown"
        with self.store.transaction():
            gone, _ = self.store.refresh_source(namespace, name, uri, None, hide_missing=True)
            self.store.delete_cursor(namespace, uri)
        self._notify(gone, [])
        tombstone = Draft(
            text=f"{Path(uri).name} was removed from {Path(uri).parent}",
            kind="event",
            occurred_at=datetime.now(UTC),
            metadata={"removed_source": uri, "format": name, "records": len(gone)},
            source_id=f"removed:{time.time_ns()}",
        )
        report = self.writer.write([tombstone], namespace=namespace, connector="sync", uri=uri)
        return SourceResult(uri, name, "removed", report, len(gone))

    def _notify(self, hidden: list[int], shown: list[int]) -> None:
        if (hidden or shown) and self.on_visibility is not None:
            self.on_visibility(hidden, shown)


def watch(
    syncer: Syncer,
    paths: Sequence[Path],
    fmt: str = "auto",
    *,
    namespace: str,
    interval: float = 2.0,
    cycles: int | None = None,
    stop: threading.Event | None = None,
    on_cycle: Callable[[int, SyncReport], None] | None = None,
) -> SyncReport:
    """Sync `paths` every `interval` seconds until `stop` is set or `cycles` have run.

    Polling is portable and cheap (a stat per file, a read only of what changed). Returns the
    report of every source that changed, summed over the cycles.
    """
    stop = stop or threading.Event()
    changed: list[SourceResult] = []
    cycle = 0
    while not stop.is_set():
        report = syncer.sync(paths, fmt, namespace=namespace, settle=True)
        changed += [s for s in report.sources if s.status != "unchanged"]
        if on_cycle is not None:
            on_cycle(cycle, report)
        cycle += 1
        if cycles is not None and cycle >= cycles:
            break
        stop.wait(interval)
    return combine(changed)
