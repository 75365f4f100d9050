"""Numbered schema migrations, recorded in the database and applied on open."""

from __future__ import annotations

import sqlite3

from ..errors import StorageError

# (number, name, SQL). Append only: a released migration is never edited.
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "records, full text and vectors",
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE records (
            rowid INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            namespace TEXT NOT NULL,
            connector TEXT NOT NULL,
            uri TEXT NOT NULL,
            source_id TEXT NOT NULL,
            session_id TEXT,
            seq INTEGER,
            actor TEXT,
            role TEXT,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            occurred_at REAL,
            recorded_at REAL NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}',
            content_hash TEXT NOT NULL,
            redactions TEXT NOT NULL DEFAULT '[]',
            context TEXT NOT NULL DEFAULT ''
        );
        CREATE UNIQUE INDEX records_identity
            ON records(namespace, connector, uri, source_id, content_hash);
        CREATE INDEX records_namespace_time ON records(namespace, occurred_at);
        CREATE INDEX records_session ON records(session_id, seq);
        CREATE INDEX records_actor ON records(actor);
        CREATE VIRTUAL TABLE records_fts USING fts5(
            text, context, content='records', content_rowid='rowid',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER records_fts_insert AFTER INSERT ON records BEGIN
            INSERT INTO records_fts(rowid, text, context) VALUES (new.rowid, new.text, new.context);
        END;
        CREATE TRIGGER records_fts_delete AFTER DELETE ON records BEGIN
            INSERT INTO records_fts(records_fts, rowid, text, context)
                VALUES ('delete', old.rowid, old.text, old.context);
        END;
        CREATE TABLE vectors (
            rowid INTEGER PRIMARY KEY REFERENCES records(rowid) ON DELETE CASCADE,
            vector BLOB NOT NULL
        );
        CREATE TABLE forgotten (
            id TEXT PRIMARY KEY,
            namespace TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            reason TEXT NOT NULL,
            forgotten_at REAL NOT NULL
        );
        """,
    ),
    (
        2,
        "access keys",
        """
        CREATE TABLE keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL DEFAULT '',
            namespace TEXT NOT NULL,
            scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
            secret_sha256 TEXT NOT NULL,
            created_at REAL NOT NULL,
            revoked_at REAL
        );
        """,
    ),
    (
        3,
        "source cursors, supersession and hidden records",
        """
        CREATE TABLE sources (
            namespace TEXT NOT NULL,
            uri TEXT NOT NULL,
            connector TEXT NOT NULL,
            size INTEGER NOT NULL DEFAULT 0,
            mtime_ns INTEGER NOT NULL DEFAULT 0,
            fingerprint TEXT NOT NULL DEFAULT '',
            offset INTEGER NOT NULL DEFAULT 0,
            line INTEGER NOT NULL DEFAULT 0,
            tail_hash TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT '{}',
            items INTEGER NOT NULL DEFAULT 0,
            problems TEXT NOT NULL DEFAULT '[]',
            last_run REAL NOT NULL,
            PRIMARY KEY (namespace, uri)
        );
        CREATE INDEX records_source ON records(namespace, connector, source_id);
        CREATE TABLE supersedes (
            rowid INTEGER PRIMARY KEY REFERENCES records(rowid) ON DELETE CASCADE,
            namespace TEXT NOT NULL,
            connector TEXT NOT NULL,
            target TEXT NOT NULL,
            kind TEXT NOT NULL
        );
        CREATE INDEX supersedes_target ON supersedes(namespace, connector, target);
        CREATE TABLE hidden (
            rowid INTEGER PRIMARY KEY REFERENCES records(rowid) ON DELETE CASCADE,
            reason TEXT NOT NULL,
            by_id TEXT
        );
        """,
    ),
    (
        4,
        "redaction placeholders",
        """
        CREATE TABLE redaction_placeholders (
            namespace TEXT NOT NULL,
            kind TEXT NOT NULL,
            digest TEXT NOT NULL,
            number INTEGER NOT NULL,
            PRIMARY KEY (namespace, kind, digest),
            UNIQUE (namespace, kind, number)
        );
        """,
    ),
    (
        5,
        "memories, their full text and vectors, distill watermarks and failures",
        """
        CREATE TABLE memories (
            rowid INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            namespace TEXT NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            entities TEXT NOT NULL DEFAULT '[]',
            subject TEXT,
            attribute TEXT,
            value TEXT,
            valid_from REAL,
            valid_to REAL,
            recorded_at REAL NOT NULL,
            superseded_at REAL,
            superseded_by TEXT,
            evidence TEXT NOT NULL DEFAULT '[]',
            confidence REAL NOT NULL DEFAULT 1.0,
            method TEXT NOT NULL,
            digest TEXT NOT NULL
        );
        CREATE UNIQUE INDEX memories_identity ON memories(namespace, kind, digest);
        CREATE INDEX memories_slot ON memories(namespace, kind, subject, attribute);
        CREATE VIRTUAL TABLE memories_fts USING fts5(
            text, content='memories', content_rowid='rowid',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
            INSERT INTO memories_fts(rowid, text) VALUES (new.rowid, new.text);
        END;
        CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
            INSERT INTO memories_fts(memories_fts, rowid, text)
                VALUES ('delete', old.rowid, old.text);
        END;
        CREATE TABLE memory_vectors (
            rowid INTEGER PRIMARY KEY REFERENCES memories(rowid) ON DELETE CASCADE,
            vector BLOB NOT NULL
        );
        CREATE TABLE distill_watermarks (
            namespace TEXT NOT NULL,
            session_id TEXT NOT NULL,
            last_rowid INTEGER NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (namespace, session_id)
        );
        CREATE TABLE distill_failures (
            id INTEGER PRIMARY KEY,
            namespace TEXT NOT NULL,
            session_id TEXT,
            evidence TEXT NOT NULL,
            method TEXT NOT NULL,
            error TEXT NOT NULL,
            raw_output TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            resolved_at REAL
        );
        """,
    ),
    (
        6,
        "full text written with each record, not by a trigger",
        # The store inserts a record's full-text row itself (SQLiteStore.insert_rows): with a
        # trigger each INSERT runs as a sub-transaction, and FTS5 writes a segment at each one.
        """
        DROP TRIGGER IF EXISTS records_fts_insert;
        """,
    ),
    (
        7,
        "a log of visibility changes for indexes derived from the records",
        # Every hide, show and delete of a record, by any connection, lands here in the same
        # transaction; the ranked full-text index (lore/index/lexical.py) drains it, so a
        # change made while that index was busy, or by another process, is never lost.
        """
        CREATE TABLE ranked_pending (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            rowid INTEGER NOT NULL
        );
        CREATE TRIGGER ranked_pending_hide AFTER INSERT ON hidden BEGIN
            INSERT INTO ranked_pending (rowid) VALUES (new.rowid);
        END;
        CREATE TRIGGER ranked_pending_show AFTER DELETE ON hidden BEGIN
            INSERT INTO ranked_pending (rowid) VALUES (old.rowid);
        END;
        CREATE TRIGGER ranked_pending_delete AFTER DELETE ON records BEGIN
            INSERT INTO ranked_pending (rowid) VALUES (old.rowid);
        END;
        """,
    ),
]


def apply(db: sqlite3.Connection) -> list[int]:
    """Apply every migration not yet recorded; returns the numbers applied."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS migrations"
        " (number INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)"
    )
    done = {row[0] for row in db.execute("SELECT number FROM migrations")}
    applied = []
    for number, name, sql in sorted(MIGRATIONS):
        if number in done:
            continue
        record = f"INSERT INTO migrations VALUES ({number}, '{name}', datetime('now'));"
        try:
            db.executescript(f"BEGIN IMMEDIATE;\n{sql}\n{record}\nCOMMIT;")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StorageError(f"migration {number} ({name}) failed: {exc}") from exc
        applied.append(number)
    return applied
