"""Source cursors for incremental sync, and the supersession that hides edited or deleted items."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..types import to_epoch


@dataclass(slots=True)
class SourceCursor:
    """How far a source was read: its size and mtime then, the byte offset and line reached in
    an append-only file, connector state to resume with, and the last run's item counts."""

    namespace: str
    uri: str
    connector: str
    size: int = 0
    mtime_ns: int = 0
    fingerprint: str = ""
    offset: int = 0
    line: int = 0
    tail_hash: str = ""
    state: dict[str, Any] = field(default_factory=dict)
    items: int = 0
    problems: list[list[Any]] = field(default_factory=list)  # [file, line, reason]
    last_run: float = 0.0


_CURSOR_COLUMNS = (
    "namespace, uri, connector, size, mtime_ns, fingerprint, offset, line, tail_hash, state,"
    " items, problems, last_run"
)


def _moment(value: Any) -> float | None:
    """Epoch seconds from a stored `edited_at` (epoch number or ISO 8601 text)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return to_epoch(moment)
    return None


class SourcesMixin:
    """The `sources`, `supersedes` and `hidden` tables of SQLiteStore (same connection)."""

    db: sqlite3.Connection

    # -- source cursors (incremental sync) --------------------------------------
    def get_cursor(self, namespace: str, uri: str) -> SourceCursor | None:
        row = self.db.execute(
            f"SELECT {_CURSOR_COLUMNS} FROM sources WHERE namespace = ? AND uri = ?",
            (namespace, uri),
        ).fetchone()
        if row is None:
            return None
        values = list(row)
        values[9], values[11] = json.loads(values[9]), json.loads(values[11])
        return SourceCursor(*values)

    def put_cursor(self, cursor: SourceCursor) -> None:
        c = cursor
        self.db.execute(
            f"INSERT OR REPLACE INTO sources ({_CURSOR_COLUMNS}) VALUES ({','.join('?' * 13)})",
            (
                c.namespace,
                c.uri,
                c.connector,
                c.size,
                c.mtime_ns,
                c.fingerprint,
                c.offset,
                c.line,
                c.tail_hash,
                json.dumps(c.state, ensure_ascii=False, default=str),
                c.items,
                json.dumps(c.problems, ensure_ascii=False),
                c.last_run,
            ),
        )

    def delete_cursor(self, namespace: str, uri: str) -> None:
        self.db.execute("DELETE FROM sources WHERE namespace = ? AND uri = ?", (namespace, uri))

    def cursor_uris_below(self, namespace: str, directory: str) -> list[str]:
        """URIs of the known sources inside `directory` (a path ending in a separator)."""
        rows = self.db.execute(
            "SELECT uri FROM sources WHERE namespace = ? AND substr(uri, 1, ?) = ? ORDER BY uri",
            (namespace, len(directory), directory),
        )
        return [row[0] for row in rows]

    # -- supersession: edits, tombstones and removed sources leave search ------
    def link_supersession(
        self, rowid: int, namespace: str, connector: str, target: str, kind: str
    ) -> None:
        """Record that record `rowid` is an edit or tombstone of source item `target`."""
        self.db.execute(
            "INSERT OR REPLACE INTO supersedes VALUES (?, ?, ?, ?, ?)",
            (rowid, namespace, connector, target, kind),
        )

    def superseded_targets(
        self, namespace: str, connector: str, source_ids: Sequence[str]
    ) -> set[str]:
        """Which of `source_ids` an edit or tombstone already names (usually none: one probe)."""
        if not source_ids or self.db.execute("SELECT 1 FROM supersedes LIMIT 1").fetchone() is None:
            return set()
        found: set[str] = set()
        ids = sorted(set(source_ids))
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            found.update(
                row[0]
                for row in self.db.execute(
                    "SELECT DISTINCT target FROM supersedes WHERE namespace = ? AND connector = ?"
                    f" AND target IN ({','.join('?' * len(part))})",
                    (namespace, connector, *part),
                )
            )
        return found

    def resolve_versions(
        self, namespace: str, connector: str, subject: str
    ) -> tuple[list[int], list[int]]:
        """Hide every version of source item `subject` but the newest, or all once tombstoned.

        Its versions are the records with that source id and those naming it in `edited_from`
        or `tombstone_of`; the newest has the latest `edited_at` (else occurred_at), then rowid.
        Tombstones stay visible. Returns (rowids newly hidden, rowids shown again).
        """
        version = "rowid, id, coalesce(json_extract(metadata, '$.edited_at'), occurred_at)"
        rows = self.db.execute(
            f"SELECT {version}, NULL FROM records"
            " WHERE namespace = ? AND connector = ? AND source_id = ?",
            (namespace, connector, subject),
        ).fetchall()
        rows += self.db.execute(
            f"SELECT {version.replace('rowid', 'r.rowid')}, s.kind FROM supersedes s"
            " JOIN records r ON r.rowid = s.rowid"
            " WHERE s.namespace = ? AND s.connector = ? AND s.target = ?",
            (namespace, connector, subject),
        ).fetchall()
        kinds = {row[0]: row[3] for row in rows if row[3] is not None}
        versions = {row[0]: (row[1], _moment(row[2]) or 0.0) for row in rows}
        tombstones = sorted(r for r in versions if kinds.get(r) == "tombstone")
        contents = [r for r in versions if kinds.get(r) != "tombstone"]
        if tombstones:
            keep, reason, by = None, "deleted", versions[tombstones[-1]][0]
        elif contents:
            keep = max(contents, key=lambda r: (versions[r][1], r))
            reason, by = "edited", versions[keep][0]
        else:
            return [], []
        want = {r for r in contents if r != keep}
        marks = f"({','.join('?' * len(contents))})"
        current = dict(
            self.db.execute(
                f"SELECT rowid, reason FROM hidden WHERE rowid IN {marks}", contents
            ).fetchall()
        )
        for rowid in want:
            if current.get(rowid) != "removed":
                self.db.execute(
                    "INSERT OR REPLACE INTO hidden VALUES (?, ?, ?)", (rowid, reason, by)
                )
        shown = [r for r, why in current.items() if r not in want and why != "removed"]
        self.db.executemany("DELETE FROM hidden WHERE rowid = ?", [(r,) for r in shown])
        return sorted(r for r in want if r not in current), shown

    def has_removed(self, namespace: str, connector: str, uri: str) -> bool:
        """Whether any record of this source is hidden as removed (it may come back)."""
        return (
            self.db.execute(
                "SELECT 1 FROM hidden h JOIN records r ON r.rowid = h.rowid"
                " WHERE h.reason = 'removed'"
                " AND r.namespace = ? AND r.connector = ? AND r.uri = ? LIMIT 1",
                (namespace, connector, uri),
            ).fetchone()
            is not None
        )

    def refresh_source(
        self,
        namespace: str,
        connector: str,
        uri: str,
        live: set[str] | None,
        *,
        hide_missing: bool,
        by: str | None = None,
    ) -> tuple[list[int], list[int]]:
        """Show a source's records whose content hash is in `live`; with `hide_missing`, hide
        the others as removed (`live` None: the whole source is gone). Returns (hidden, shown)."""
        rows = self.db.execute(
            "SELECT r.rowid, r.content_hash, h.reason FROM records r"
            " LEFT JOIN hidden h ON h.rowid = r.rowid"
            " WHERE r.namespace = ? AND r.connector = ? AND r.uri = ?",
            (namespace, connector, uri),
        ).fetchall()
        hidden: list[int] = []
        shown: list[int] = []
        for rowid, digest, reason in rows:
            alive = live is not None and digest in live
            if alive and reason == "removed":
                self.db.execute("DELETE FROM hidden WHERE rowid = ?", (rowid,))
                shown.append(rowid)
            elif not alive and hide_missing and reason is None:
                self.db.execute("INSERT INTO hidden VALUES (?, 'removed', ?)", (rowid, by))
                hidden.append(rowid)
        return hidden, shown

    def hidden_reasons(self, rowids: Sequence[int]) -> dict[int, str]:
        """Why each of `rowids` is hidden from search (absent: it is not)."""
        ids = [int(r) for r in rowids]
        out: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            out.update(
                self.db.execute(
                    "SELECT rowid, reason FROM hidden WHERE rowid IN"
                    f" ({','.join('?' * len(part))})",
                    part,
                ).fetchall()
            )
        return out
