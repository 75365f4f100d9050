"""Access-key rows: only a hash of each secret is stored (checked by the HTTP and MCP servers)."""

from __future__ import annotations

import sqlite3
from typing import Any


class KeysMixin:
    """The `keys` table of SQLiteStore (same connection)."""

    db: sqlite3.Connection

    _KEY_COLUMNS = "id, name, namespace, scope, secret_sha256, created_at, revoked_at"

    def insert_key(self, row: tuple[str, str, str, str, str, float]) -> None:
        """Store (id, name, namespace, scope, secret_sha256, created_at) of a new key."""
        self.db.execute(
            "INSERT INTO keys (id, name, namespace, scope, secret_sha256, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            row,
        )

    def key_rows(self) -> list[tuple[Any, ...]]:
        return self.db.execute(
            f"SELECT {self._KEY_COLUMNS} FROM keys ORDER BY created_at, id"
        ).fetchall()

    def key_row(self, key_id: str) -> tuple[Any, ...] | None:
        row = self.db.execute(
            f"SELECT {self._KEY_COLUMNS} FROM keys WHERE id = ?", (key_id,)
        ).fetchone()
        return tuple(row) if row else None

    def revoke_key(self, key_id: str, at: float) -> bool:
        """Mark a key revoked; False when there is no such unrevoked key."""
        done = self.db.execute(
            "UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (at, key_id)
        )
        return done.rowcount > 0
