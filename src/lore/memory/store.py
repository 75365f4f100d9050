"""Memories in the store's SQLite file: rows, full text, vectors, watermarks and failures."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from ..errors import NotFound, StorageError
from ..store.clauses import namespace_clause
from ..store.sqlite import SQLiteStore
from ..types import Memory, from_epoch, to_epoch

_COLUMNS = (
    "rowid, id, namespace, kind, text, entities, subject, attribute, value, valid_from,"
    " valid_to, recorded_at, superseded_at, superseded_by, evidence, confidence, method"
)


@dataclass(frozen=True, slots=True)
class MemoryFilters:
    """Scope of a memory listing or search, applied inside the SQL."""

    namespace: str | None = None
    kinds: tuple[str, ...] = ()
    as_of: datetime | None = None  # true and known then; None: what is current now
    include_superseded: bool = False


def digest(*parts: Any) -> str:
    """A stable identity for a memory's content (so distilling again adds nothing)."""
    text = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def memory_clause(filters: MemoryFilters, alias: str = "m") -> tuple[str, list[Any]]:
    """A WHERE fragment for `filters`: at `as_of`, valid_from <= as_of < valid_to (or open) and
    recorded_at <= as_of; without it, only memories neither superseded nor ended."""
    parts: list[str] = []
    params: list[Any] = []
    if filters.namespace:
        sql, args = namespace_clause(f"{alias}.namespace", filters.namespace)
        parts.append(sql)
        params += args
    if filters.kinds:
        parts.append(f"{alias}.kind IN ({','.join('?' * len(filters.kinds))})")
        params += list(filters.kinds)
    if filters.as_of is not None:
        at = to_epoch(filters.as_of)
        parts.append(
            f"{alias}.recorded_at <= ? AND ({alias}.valid_from IS NULL OR {alias}.valid_from <= ?)"
        )
        params += [at, at]
        if not filters.include_superseded:
            parts.append(f"({alias}.valid_to IS NULL OR {alias}.valid_to > ?)")
            parts.append(f"({alias}.superseded_at IS NULL OR {alias}.superseded_at > ?)")
            params += [at, at]
    elif not filters.include_superseded:
        parts.append(f"{alias}.superseded_at IS NULL AND {alias}.valid_to IS NULL")
    return (" AND ".join(parts) or "1"), params


class MemoryStore:
    """Reads and writes the `memories` tables of one SQLiteStore (same connection, same lock)."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.db = store.db

    # -- writes (inside the caller's transaction) ------------------------------
    def insert(self, memory: Memory, key: str, vector: np.ndarray | None) -> bool:
        """Store `memory` under content digest `key`; False when it is already stored."""
        m = memory
        row = self.db.execute(
            f"INSERT INTO memories ({_COLUMNS.replace('rowid, ', '')}, digest)"
            f" VALUES ({','.join('?' * 17)}) ON CONFLICT DO NOTHING RETURNING rowid",
            (
                m.id, m.namespace, m.kind, m.text, json.dumps(list(m.entities)), m.subject,
                m.attribute, m.value, to_epoch(m.valid_from), to_epoch(m.valid_to),
                to_epoch(m.recorded_at), to_epoch(m.superseded_at), m.superseded_by,
                json.dumps(list(m.evidence)), m.confidence, m.method, key,
            ),
        ).fetchone()
        if row is None:
            return False
        if vector is not None:
            blob = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
            self.db.execute("INSERT INTO memory_vectors VALUES (?, ?)", (row[0], blob))
        return True

    def supersede(self, memory_id: str, by: str, at: float, valid_to: float | None) -> None:
        """Close `memory_id`: superseded by `by` at system time `at`, valid until `valid_to`."""
        self.db.execute(
            "UPDATE memories SET superseded_at = ?, superseded_by = ?,"
            " valid_to = coalesce(valid_to, ?) WHERE id = ?",
            (at, by, valid_to, memory_id),
        )

    def forget_citing(
        self,
        record_ids: Sequence[str],
        sessions: Sequence[tuple[str, str]],
        reason: str,
        at: float,
    ) -> list[str]:
        """Delete every memory that cites a forgotten record (audited like records), and
        re-open the records' sessions so the next distill rebuilds from what is left."""
        if not record_ids:
            return []
        marks = ",".join("?" * len(record_ids))
        rows = self.db.execute(
            "SELECT DISTINCT m.rowid, m.id, m.namespace, m.digest FROM memories m,"
            f" json_each(m.evidence) e WHERE e.value IN ({marks})",
            list(record_ids),
        ).fetchall()
        for rowid, memory_id, namespace, key in rows:
            self.db.execute(
                "INSERT OR REPLACE INTO forgotten VALUES (?, ?, ?, ?, ?)",
                (f"memory:{memory_id}", namespace, key, reason, at),
            )
            self.db.execute("DELETE FROM memories WHERE rowid = ?", (rowid,))
        for namespace, session_id in set(sessions):
            self.db.execute(
                "DELETE FROM distill_watermarks WHERE namespace = ? AND session_id = ?",
                (namespace, session_id),
            )
        return [row[1] for row in rows]

    def add_evidence(self, memory_id: str, record_ids: Sequence[str]) -> None:
        """Union `record_ids` into a memory's evidence (a repeated fact, a merged procedure)."""
        current = self.get(memory_id)
        merged = list(dict.fromkeys([*current.evidence, *record_ids]))
        if len(merged) != len(current.evidence):
            self.db.execute(
                "UPDATE memories SET evidence = ? WHERE id = ?", (json.dumps(merged), memory_id)
            )

    # -- reads -------------------------------------------------------------------
    def get(self, memory_id: str) -> Memory:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM memories WHERE id = ?", (memory_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no memory {memory_id!r}")
        return to_memory(row)

    def listing(self, filters: MemoryFilters, limit: int = 100) -> list[Memory]:
        """Memories within `filters`, newest world time first."""
        where, params = memory_clause(filters)
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM memories m WHERE {where}"
            " ORDER BY coalesce(m.valid_from, m.recorded_at) DESC, m.rowid DESC LIMIT ?",
            (*params, limit),
        )
        return [to_memory(row) for row in rows]

    def current_in_slot(
        self, namespace: str, kind: str, subject: str, attribute: str
    ) -> list[Memory]:
        """Memories of one (subject, attribute) slot that are not superseded, oldest first."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM memories WHERE namespace = ? AND kind = ? AND subject = ?"
            " AND attribute = ? AND superseded_at IS NULL ORDER BY valid_from, rowid",
            (namespace, kind, subject, attribute),
        )
        return [to_memory(row) for row in rows]

    def by_rowid(self, rowids: Sequence[int]) -> dict[int, Memory]:
        ids = [int(r) for r in rowids]
        out: dict[int, Memory] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            sql = f"SELECT {_COLUMNS} FROM memories WHERE rowid IN ({','.join('?' * len(part))})"
            out.update((row[0], to_memory(row)) for row in self.db.execute(sql, part))
        return out

    def fts(self, match: str, filters: MemoryFilters, limit: int) -> list[tuple[int, float]]:
        """(rowid, bm25 score, higher is better) of the best full-text matches in `filters`."""
        where, params = memory_clause(filters)
        sql = (
            "SELECT f.rowid, bm25(memories_fts) AS s FROM memories_fts f"
            " JOIN memories m ON m.rowid = f.rowid"
            f" WHERE memories_fts MATCH ? AND {where} ORDER BY s LIMIT ?"
        )
        try:
            return [(r[0], -r[1]) for r in self.db.execute(sql, (match, *params, limit))]
        except Exception as exc:  # sqlite3.OperationalError on a malformed expression
            raise StorageError(f"memory full-text query failed: {exc}") from exc

    def vectors(self, filters: MemoryFilters) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, vectors) of the memories within `filters` (memories are few: exact search)."""
        where, params = memory_clause(filters)
        rows = self.db.execute(
            f"SELECT v.rowid, v.vector FROM memory_vectors v JOIN memories m ON m.rowid = v.rowid"
            f" WHERE {where} ORDER BY v.rowid",
            params,
        ).fetchall()
        rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if not rows:
            return rowids, np.zeros((0, 0), dtype=np.float32)
        data = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return rowids, data.reshape(len(rows), -1)

    def counts(self, namespace: str | None = None) -> dict[str, int]:
        where, params = namespace_clause("namespace", namespace) if namespace else ("1", [])
        rows = self.db.execute(
            f"SELECT kind, count(*) FROM memories WHERE {where} GROUP BY kind", params
        )
        return dict(rows.fetchall())

    # -- watermarks: which records each session has been distilled up to -----------
    def pending_sessions(self, namespace: str | None) -> list[tuple[str, str, int, int]]:
        """(namespace, session, watermark, newest rowid) of sessions with undistilled records."""
        where, params = namespace_clause("r.namespace", namespace) if namespace else ("1", [])
        return self.db.execute(
            "SELECT r.namespace, r.session_id, coalesce(w.last_rowid, 0), max(r.rowid)"
            " FROM records r LEFT JOIN distill_watermarks w"
            " ON w.namespace = r.namespace AND w.session_id = r.session_id"
            f" WHERE r.session_id IS NOT NULL AND {where}"
            " GROUP BY r.namespace, r.session_id HAVING max(r.rowid) > coalesce(w.last_rowid, 0)"
            " ORDER BY min(r.rowid)",
            params,
        ).fetchall()

    def set_watermark(self, namespace: str, session_id: str, rowid: int, at: float) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO distill_watermarks VALUES (?, ?, ?, ?)",
            (namespace, session_id, rowid, at),
        )

    # -- failures: LLM output that never validated, kept for `--retry-failed` ------
    def record_failure(
        self, namespace: str, session_id: str | None, evidence: Sequence[str], method: str,
        error: str, raw: str, at: float,
    ) -> None:
        self.db.execute(
            "INSERT INTO distill_failures (namespace, session_id, evidence, method, error,"
            " raw_output, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (namespace, session_id, json.dumps(list(evidence)), method, error, raw, at),
        )

    def open_failures(self, namespace: str | None) -> list[tuple[int, str, str | None]]:
        """(id, namespace, session) of failures not yet resolved."""
        where, params = namespace_clause("namespace", namespace) if namespace else ("1", [])
        return self.db.execute(
            f"SELECT id, namespace, session_id FROM distill_failures WHERE resolved_at IS NULL"
            f" AND {where} ORDER BY id",
            params,
        ).fetchall()

    def update_failure(self, failure_id: int, error: str, raw: str) -> None:
        """A retried batch failed again: keep the latest error and raw output."""
        self.db.execute(
            "UPDATE distill_failures SET error = ?, raw_output = ? WHERE id = ?",
            (error, raw, failure_id),
        )

    def resolve_failure(self, failure_id: int, at: float) -> None:
        self.db.execute(
            "UPDATE distill_failures SET resolved_at = ? WHERE id = ?", (at, failure_id)
        )


def to_memory(row: Sequence[Any]) -> Memory:
    return Memory(
        id=row[1],
        namespace=row[2],
        kind=row[3],
        text=row[4],
        entities=tuple(json.loads(row[5])),
        subject=row[6],
        attribute=row[7],
        value=row[8],
        valid_from=from_epoch(row[9]),
        valid_to=from_epoch(row[10]),
        recorded_at=from_epoch(row[11]),  # type: ignore[arg-type]
        superseded_at=from_epoch(row[12]),
        superseded_by=row[13],
        evidence=tuple(json.loads(row[14])),
        confidence=float(row[15]),
        method=row[16],
    )


def session_records(store: SQLiteStore, namespace: str, session_id: str) -> list[tuple[int, Any]]:
    """(rowid, Record) of a session's searchable records, in conversation order."""
    from ..store.sqlite import _RECORD_COLUMNS, _to_record

    rows = store.db.execute(
        f"SELECT {_RECORD_COLUMNS} FROM records WHERE namespace = ? AND session_id = ?"
        " AND rowid NOT IN (SELECT rowid FROM hidden) ORDER BY seq, occurred_at, rowid",
        (namespace, session_id),
    )
    return [(row[0], _to_record(row)) for row in rows]
