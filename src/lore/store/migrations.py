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
