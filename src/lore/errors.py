"""One exception tree for everything Lore raises on purpose."""

from __future__ import annotations


class LoreError(Exception):
    """Base of every error Lore raises deliberately; `hint` says what to do next."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


class ConfigError(LoreError):
    """A setting, option or argument is invalid."""


class StorageError(LoreError):
    """The database cannot be opened, migrated or written."""


class EmbedderMismatch(StorageError):
    """The store's vectors were made by another embedder than the one requested."""

    hint = "open it with the embedder it was built with, or run `lore reembed`"


class EmbeddingError(LoreError):
    """An embedder failed to produce vectors."""


class IngestError(LoreError):
    """Input could not be read or parsed; carries the file, line and reason."""

    def __init__(
        self, reason: str, *, file: str = "", line: int | None = None, hint: str = ""
    ) -> None:
        self.file = file
        self.line = line
        self.reason = reason
        where = file + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {reason}" if where else reason, hint=hint)


class QueryError(LoreError):
    """A query or filter is invalid (never raised for odd query text: any text searches)."""


class NotFound(LoreError):
    """An id, handle or file does not exist (or is outside the caller's namespace)."""


class AccessDenied(LoreError):
    """The caller may not do this in this namespace."""
