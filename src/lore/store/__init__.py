"""Storage backends; SQLite is the embedded default."""

from __future__ import annotations

from .sqlite import SQLiteStore

__all__ = ["SQLiteStore"]
