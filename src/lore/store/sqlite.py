"""The embedded store: one SQLite file in WAL mode holding records, full text and vectors."""

from __future__ import annotations

import json
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..errors import NotFound, StorageError
from ..types import Draft, Filters, Record, Source, from_epoch
from . import migrations
from .checkpoint import Checkpointer, configure_writer
from .clauses import HIDDEN_CONDITION, filter_clause, is_unfiltered, namespace_clause
from .keys import KeysMixin
from .sources import SourcesMixin

_RECORD_COLUMNS = (
    "rowid, id, namespace, connector, uri, source_id, session_id, seq, actor, role, kind, text,"
    " occurred_at, recorded_at, metadata, content_hash, redactions"
)


class StoredRow(NamedTuple):
    """A record ready for insertion (everything but the rowid), fields in column order."""

    id: str
    namespace: str
    connector: str
    uri: str
    source_id: str
    session_id: str | None
    seq: int | None
    actor: str | None
    role: str | None
    kind: str
    text: str
    occurred_at: float | None
    recorded_at: float
    metadata: str
    content_hash: str
    redactions: str
    context: str

    @property
    def identity(self) -> tuple[str, str, str, str, str]:
        """What makes a row a duplicate of a stored record: its source item and content hash."""
        return (self.namespace, self.connector, self.uri, self.source_id, self.content_hash)


_ROW_COLUMNS = ", ".join(StoredRow._fields)
_INSERT_RECORD = (
    f"INSERT INTO records (rowid, {_ROW_COLUMNS}) VALUES (?{', ?' * len(StoredRow._fields)})"
)
_INSERT_FTS = "INSERT INTO records_fts (rowid, text, context) VALUES (?, ?, ?)"
_INDEX_COLUMNS = "rowid, text, context, namespace, actor, session_id, kind, occurred_at"
_IDENTITY_CHUNK = 500  # rows per identity lookup (5 parameters each)
_IdentityCheck = tuple[tuple[int, int], Sequence[StoredRow], set[tuple[str, ...]]]


class SQLiteStore(SourcesMixin, KeysMixin):
    """Records, their full-text index and their vectors in one SQLite file."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            mode = self.db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA busy_timeout=5000")
            self.db.execute("PRAGMA cache_size=-65536")
            self.db.execute("PRAGMA mmap_size=1073741824")
            migrations.apply(self.db)
            if mode == "wal":  # not for ":memory:", which has no log
                configure_writer(self.db)
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"cannot open database {self.path}: {exc}",
                hint="check the path, or move a damaged file aside and run `lore init`",
            ) from exc
        self._checkpointer: Checkpointer | None = None
        if mode == "wal":  # (the file's absolute path, as SQLite resolved it at open)
            self._checkpointer = Checkpointer(self.db.execute("PRAGMA database_list").fetchone()[2])
            # A store dropped without close() stops its thread (which holds no reference to it).
            weakref.finalize(self, self._checkpointer.stop)
        self._lock = threading.RLock()
        self._rowid_cache: dict[tuple[Any, ...], tuple[tuple[int, int], np.ndarray]] = {}
        # The last stored_identities() answer, reused by insert_rows when nothing was written.
        self._identities_checked: _IdentityCheck | None = None

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.db.close()

    # -- meta -----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything in it lands, or nothing does."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")
                if self._checkpointer is not None:
                    self._checkpointer.after_commit(self.db)

    # -- writes ---------------------------------------------------------------
    def insert_rows(self, rows: Sequence[StoredRow]) -> list[tuple[int, str] | None]:
        """Insert rows and their full text; (rowid, id) of each, None marks a duplicate: a row
        with the source identity and content hash of a stored one, or of an earlier one here.

        Runs inside the caller's transaction (one is opened when there is none): it holds the
        write lock, so the rowids handed out after the largest stored one stay free.
        """
        if not self.db.in_transaction:
            with self.transaction():
                return self.insert_rows(rows)
        checked = self._identities_checked
        if checked is not None and checked[1] is rows and checked[0] == self._write_version():
            seen = set(checked[2])  # nothing was written since stored_identities(rows)
        else:
            seen = self.stored_identities(rows)
        self._identities_checked = None
        rowid = int(self.db.execute("SELECT coalesce(max(rowid), 0) FROM records").fetchone()[0])
        out: list[tuple[int, str] | None] = []
        fresh: list[tuple[Any, ...]] = []
        for row in rows:
            key = row.identity
            if key in seen:
                out.append(None)
                continue
            seen.add(key)
            rowid += 1
            out.append((rowid, row.id))
            fresh.append((rowid, *row))
        if fresh:
            self.db.executemany(_INSERT_RECORD, fresh)
            # Written here, not by a trigger: a trigger makes every INSERT a sub-transaction,
            # and FTS5 flushes its pending terms into a new segment at each one (3x slower).
            self.db.executemany(_INSERT_FTS, [(r[0], r[11], r[17]) for r in fresh])
        return out

    def stored_identities(self, rows: Sequence[StoredRow]) -> set[tuple[str, ...]]:
        """The (namespace, connector, uri, source_id, content_hash) of `rows` already stored:
        one probe of the identity index per row, in one statement per chunk of rows."""
        found: set[tuple[str, ...]] = set()
        for start in range(0, len(rows), _IDENTITY_CHUNK):
            part = rows[start : start + _IDENTITY_CHUNK]
            values = ",".join(["(?,?,?,?,?)"] * len(part))
            sql = (
                f"WITH batch(ns, connector, uri, source_id, hash) AS (VALUES {values})"
                " SELECT r.namespace, r.connector, r.uri, r.source_id, r.content_hash"
                " FROM batch b JOIN records r ON r.namespace = b.ns AND r.connector = b.connector"
                " AND r.uri = b.uri AND r.source_id = b.source_id AND r.content_hash = b.hash"
            )
            args = [value for row in part for value in row.identity]
            found.update(self.db.execute(sql, args).fetchall())
        self._identities_checked = (self._write_version(), rows, found)
        return found

    def _write_version(self) -> tuple[int, int]:
        """Moves on with every commit: other connections' (data_version) and this one's."""
        return self.db.execute("PRAGMA data_version").fetchone()[0], self.db.total_changes

    def insert_vectors(self, rowids: Sequence[int], vectors: np.ndarray) -> None:
        """Store (or replace) one float32 BLOB per rowid."""
        data = np.ascontiguousarray(vectors, dtype=np.float32)
        width = data.shape[1] * 4 if data.ndim == 2 else 0
        blob = data.tobytes()  # one copy for the batch; each row is a slice of it
        self.db.executemany(
            "INSERT OR REPLACE INTO vectors (rowid, vector) VALUES (?, ?)",
            [(int(r), blob[i * width : (i + 1) * width]) for i, r in enumerate(rowids)],
        )

    def delete_records(self, rowids: Sequence[int], reason: str, at: float) -> list[str]:
        """Delete records (inside the caller's transaction), keeping an audit row for each."""
        ids = []
        for rowid in rowids:
            row = self.db.execute(
                "SELECT id, namespace, content_hash FROM records WHERE rowid = ?", (rowid,)
            ).fetchone()
            if row is None:
                continue
            self.db.execute(
                "INSERT OR REPLACE INTO forgotten VALUES (?, ?, ?, ?, ?)", (*row, reason, at)
            )
            self.db.execute("DELETE FROM records WHERE rowid = ?", (rowid,))
            ids.append(row[0])
        return ids

    # -- reads ----------------------------------------------------------------
    def count(self, filters: Filters | None = None) -> int:
        """Searchable records within `filters`; every stored record when `filters` is None."""
        where, params = filter_clause(filters or Filters(), include_hidden=filters is None)
        sql = f"SELECT count(*) FROM records r WHERE {where}"
        return int(self.db.execute(sql, params).fetchone()[0])

    def vector_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def max_rowid(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(rowid), 0) FROM records").fetchone()[0])

    def filtered_rowids(self, filters: Filters) -> np.ndarray:
        """Sorted rowids within `filters` (read-only; reused until the database changes)."""
        where, params = filter_clause(filters)
        key = (where, tuple(params))
        # data_version moves on other connections' commits, total_changes on this one's.
        version = (self.db.execute("PRAGMA data_version").fetchone()[0], self.db.total_changes)
        cached = self._rowid_cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        # One string parsed by numpy is ~3x faster than a Python row per rowid (100k: 27 ms).
        joined = self.db.execute(
            f"SELECT group_concat(rowid) FROM records r WHERE {where}", params
        ).fetchone()[0]
        rowids = np.sort(np.array(joined.split(",") if joined else [], dtype=np.int64))
        rowids.flags.writeable = False
        self._rowid_cache[key] = (version, rowids)
        if len(self._rowid_cache) > 8:
            self._rowid_cache.pop(next(iter(self._rowid_cache)))
        return rowids

    def fts_search(
        self,
        match: str,
        filters: Filters,
        limit: int,
        weights: tuple[float, float] = (1.0, 0.4),
        min_rowid: int = 0,
    ) -> list[tuple[int, float]]:
        """(rowid, bm25 score, higher is better) for the best `limit` matches within `filters`,
        best first (ties by rowid).

        `min_rowid` bounds the rowids searched (FTS5 seeks past the older ones), bounding the
        work; BM25's statistics still cover the whole store.
        """
        where, params = filter_clause(filters)
        rank = f"bm25(records_fts, {weights[0]:.4f}, {weights[1]:.4f})"
        bounds: list[Any] = []
        newer = ""
        if min_rowid:
            newer += " AND records_fts.rowid >= ?"
            bounds.append(min_rowid)
        if is_unfiltered(filters):  # no join with records: only the hidden set is excluded
            visible = HIDDEN_CONDITION.format(alias="records_fts")
            sql = (
                f"SELECT rowid, {rank} AS s FROM records_fts WHERE records_fts MATCH ?{newer}"
                f" AND {visible} ORDER BY s, rowid LIMIT ?"
            )
            args: list[Any] = [match, *bounds, limit]
        else:
            newer = newer.replace("records_fts.", "f.")
            sql = (
                f"SELECT f.rowid, {rank} AS s FROM records_fts f"
                " JOIN records r ON r.rowid = f.rowid"
                f" WHERE records_fts MATCH ?{newer} AND {where} ORDER BY s, f.rowid LIMIT ?"
            )
            args = [match, *bounds, *params, limit]
        try:
            return [(row[0], -row[1]) for row in self.db.execute(sql, args)]
        except sqlite3.OperationalError as exc:
            raise StorageError(f"full-text query failed: {exc}") from exc

    def match_counts(self, matches: dict[str, str], cap: int) -> dict[str, int]:
        """How many records each MATCH expression finds, counting no further than `cap`."""
        sql = "SELECT count(*) FROM (SELECT 1 FROM records_fts WHERE records_fts MATCH ? LIMIT ?)"
        return {k: int(self.db.execute(sql, (m, cap)).fetchone()[0]) for k, m in matches.items()}

    def newest_match_floor(self, match: str, count: int) -> int:
        """The rowid of the `count`-th newest record matching `match` (0 when fewer match)."""
        row = self.db.execute(
            "SELECT rowid FROM records_fts WHERE records_fts MATCH ? ORDER BY rowid DESC"
            " LIMIT 1 OFFSET ?",
            (match, count - 1),
        ).fetchone()
        return int(row[0]) if row else 0

    def iter_vectors(
        self, after_rowid: int = 0, chunk: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(rowids, vectors) in rowid order, in chunks, for rows after `after_rowid`.

        Hidden records are left out: vector indexes are built without them.
        """
        last = after_rowid
        while True:
            rows = self.db.execute(
                "SELECT rowid, vector FROM vectors WHERE rowid > ?"
                " AND rowid NOT IN (SELECT rowid FROM hidden) ORDER BY rowid LIMIT ?",
                (last, chunk),
            ).fetchall()
            if not rows:
                return
            rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(
                len(rows), -1
            )
            yield rowids, vectors
            last = int(rowids[-1])

    def iter_index_rows(
        self, after_rowid: int, upto_rowid: int, chunk: int = 20_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Batches of (rowid, text, context, namespace, actor, session_id, kind, occurred_at)
        with rowid in (after_rowid, upto_rowid], in rowid order, for a derived full-text
        index; hidden ones left out."""
        last = after_rowid
        while rows := self.db.execute(
            f"SELECT {_INDEX_COLUMNS} FROM records WHERE rowid > ? AND rowid <= ?"
            " AND rowid NOT IN (SELECT rowid FROM hidden) ORDER BY rowid LIMIT ?",
            (last, upto_rowid, chunk),
        ).fetchall():
            yield rows
            last = rows[-1][0]

    def ranked_state(self) -> tuple[int, int, int]:
        """(newest rowid, newest entry of the visibility log, the highest log number ever
        handed out): what a derived index compares with what it has applied."""
        row = self.db.execute(
            "SELECT (SELECT coalesce(max(rowid), 0) FROM records),"
            " (SELECT coalesce(max(seq), 0) FROM ranked_pending),"
            " (SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'ranked_pending')"
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def ranked_pending(self, after_seq: int) -> tuple[int, list[int]]:
        """(newest log entry, distinct rowids hidden, shown or deleted) for entries after
        `after_seq`."""
        rows = self.db.execute(
            "SELECT seq, rowid FROM ranked_pending WHERE seq > ? ORDER BY seq", (after_seq,)
        ).fetchall()
        return (rows[-1][0] if rows else after_seq), sorted({row[1] for row in rows})

    def clear_ranked_pending(self, upto_seq: int) -> None:
        """Drop the log entries a derived index has applied (later ones stay)."""
        self.db.execute("DELETE FROM ranked_pending WHERE seq <= ?", (upto_seq,))

    @contextmanager
    def quiet(self) -> Iterator[bool]:
        """Whether this connection has no transaction open, in this thread or another; while
        the block runs, no other thread begins one here (a derived index must not read
        records a transaction may still roll back)."""
        if not self._lock.acquire(blocking=False):
            yield False
            return
        try:
            yield not self.db.in_transaction
        finally:
            self._lock.release()

    def index_rows(self, rowids: Sequence[int]) -> list[tuple[Any, ...]]:
        """The rows `iter_index_rows` gives, for the given visible records."""
        sql = (
            f"SELECT {_INDEX_COLUMNS} FROM records WHERE rowid IN (SELECT value FROM json_each(?))"
            " AND rowid NOT IN (SELECT rowid FROM hidden) ORDER BY rowid"
        )
        return self.db.execute(sql, (json.dumps([int(r) for r in rowids]),)).fetchall()

    def vectors_of(self, rowids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, vectors) of the given records that have a vector, in rowid order."""
        ids = sorted(int(r) for r in rowids)
        rows: list[Any] = []
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            rows += self.db.execute(
                "SELECT rowid, vector FROM vectors WHERE rowid IN"
                f" ({','.join('?' * len(part))}) ORDER BY rowid",
                part,
            ).fetchall()
        found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        data = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return found, data.reshape(len(rows), -1)

    def iter_embedding_inputs(self, chunk: int = 512) -> Iterator[tuple[list[int], list[Draft]]]:
        """(rowids, drafts with actor and text) for every record, in rowid order."""
        last = 0
        while rows := self.db.execute(
            "SELECT rowid, actor, text FROM records WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (last, chunk),
        ).fetchall():
            yield [r[0] for r in rows], [Draft(text=r[2], actor=r[1]) for r in rows]
            last = rows[-1][0]

    def sessions_of(self, rowids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(namespace, session id) of each rowid that has a session."""
        # One statement for any number of rowids (a JSON array), prepared once and reused:
        # an IN list of placeholders is a new statement to compile at every length.
        sql = (
            "SELECT rowid, namespace, session_id FROM records"
            " WHERE rowid IN (SELECT value FROM json_each(?)) AND session_id IS NOT NULL"
        )
        ids = json.dumps([int(r) for r in rowids])
        return {row[0]: (row[1], row[2]) for row in self.db.execute(sql, (ids,))}

    def occurred_at_of(self, rowids: Sequence[int]) -> dict[int, float | None]:
        """World time (epoch seconds) of each rowid."""
        ids = [int(r) for r in rowids]
        out: dict[int, float | None] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            sql = f"SELECT rowid, occurred_at FROM records WHERE rowid IN ({marks})"
            out.update(self.db.execute(sql, part).fetchall())
        return out

    def records_by_rowid(self, rowids: Sequence[int]) -> dict[int, Record]:
        out: dict[int, Record] = {}
        ids = [int(r) for r in rowids]
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            sql = f"SELECT {_RECORD_COLUMNS} FROM records WHERE rowid IN ({marks})"
            for row in self.db.execute(sql, part):
                out[row[0]] = _to_record(row)
        return out

    def record_by_id(self, record_id: str) -> tuple[int, Record]:
        row = self.db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE id = ?", (record_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no record {record_id!r}")
        return row[0], _to_record(row)

    def session_records(
        self, namespace: str, session_id: str, seq_from: int, seq_to: int
    ) -> list[Record]:
        """A session's searchable records with seq in [seq_from, seq_to] (hidden ones left out)."""
        rows = self.db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE namespace = ? AND session_id = ?"
            " AND seq BETWEEN ? AND ? AND rowid NOT IN (SELECT rowid FROM hidden)"
            " ORDER BY seq, rowid",
            (namespace, session_id, seq_from, seq_to),
        )
        return [_to_record(row) for row in rows]

    def session_neighbours(
        self, namespace: str, session_id: str, seq: int, window: int, *, before: bool
    ) -> list[Record]:
        """Up to `window` searchable records of a session just before (or after) `seq`."""
        op, order = ("<", "DESC") if before else (">", "ASC")
        rows = self.db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE namespace = ? AND session_id = ?"
            f" AND seq {op} ? AND rowid NOT IN (SELECT rowid FROM hidden)"
            f" ORDER BY seq {order}, rowid {order} LIMIT ?",
            (namespace, session_id, seq, window),
        ).fetchall()
        records = [_to_record(row) for row in rows]
        return records[::-1] if before else records

    def last_in_session(
        self, namespace: str, session_id: str, count: int, *, before_seq: int | None = None
    ) -> list[str]:
        """Texts of a session's last `count` stored turns (before `before_seq`), oldest first."""
        sql = "SELECT text FROM records WHERE namespace = ? AND session_id = ?"
        args: list[Any] = [namespace, session_id]
        if before_seq is not None:
            sql += " AND (seq IS NULL OR seq < ?)"
            args.append(before_seq)
        rows = self.db.execute(sql + " ORDER BY seq DESC, rowid DESC LIMIT ?", (*args, count))
        return [row[0] for row in rows][::-1]

    def records_page(self, namespace: str | None, after: str | None, limit: int) -> list[Record]:
        """Up to `limit` records in id (time) order after id `after`, within `namespace`."""
        where, params = namespace_clause("namespace", namespace) if namespace else ("1", [])
        if after:
            where += " AND id > ?"
            params.append(after)
        rows = self.db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE {where} ORDER BY id LIMIT ?",
            (*params, limit),
        )
        return [_to_record(row) for row in rows]

    def stats(self, namespace: str | None = None) -> dict[str, Any]:
        """Counts for the whole store, or for `namespace` and everything below it."""
        where, params = namespace_clause("namespace", namespace) if namespace else ("1", [])
        namespaces = {
            ns: n
            for ns, n in self.db.execute(
                f"SELECT namespace, count(*) FROM records WHERE {where}"
                " GROUP BY namespace ORDER BY namespace",
                params,
            )
        }
        kinds = {
            k: n
            for k, n in self.db.execute(
                f"SELECT kind, count(*) FROM records WHERE {where} GROUP BY kind", params
            )
        }
        sessions = self.db.execute(
            "SELECT count(*) FROM (SELECT DISTINCT namespace, session_id FROM records"
            f" WHERE session_id IS NOT NULL AND {where})",
            params,
        ).fetchone()[0]
        vectors = self.db.execute(
            "SELECT count(*) FROM vectors"
            if not namespace
            else f"SELECT count(*) FROM vectors JOIN records USING (rowid) WHERE {where}",
            params,
        ).fetchone()[0]
        forgotten = self.db.execute(f"SELECT count(*) FROM forgotten WHERE {where}", params)
        hidden = self.db.execute(
            f"SELECT count(*) FROM hidden JOIN records USING (rowid) WHERE {where}", params
        ).fetchone()[0]
        return {
            "records": sum(namespaces.values()),
            "sessions": int(sessions),
            "vectors": int(vectors),
            "namespaces": namespaces,
            "kinds": kinds,
            "forgotten": int(forgotten.fetchone()[0]),
            "hidden": int(hidden),
        }


def _to_record(row: Sequence[Any]) -> Record:
    return Record(
        id=row[1],
        namespace=row[2],
        source=Source(row[3], row[4], row[5]),
        session_id=row[6],
        seq=row[7],
        actor=row[8],
        role=row[9],
        kind=row[10],
        text=row[11],
        occurred_at=from_epoch(row[12]),
        recorded_at=from_epoch(row[13]),  # type: ignore[arg-type]
        metadata=json.loads(row[14]),
        content_hash=row[15],
        redactions=tuple(json.loads(row[16])),
    )
