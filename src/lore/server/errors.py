"""Lore's errors as one HTTP error envelope and as MCP tool messages."""

from __future__ import annotations

from typing import Any

from ..errors import (
    AccessDenied,
    ConfigError,
    EmbeddingError,
    IngestError,
    LoreError,
    NotFound,
    QueryError,
    StorageError,
)
from .auth import Unauthenticated

# (error class, HTTP status, code); the first class the error is an instance of wins.
ERROR_TABLE: list[tuple[type[LoreError], int, str]] = [
    (Unauthenticated, 401, "unauthenticated"),
    (AccessDenied, 403, "access_denied"),
    (NotFound, 404, "not_found"),
    (QueryError, 400, "invalid_query"),
    (ConfigError, 400, "invalid_argument"),
    (IngestError, 422, "ingest_failed"),
    (EmbeddingError, 503, "embedding_unavailable"),
    (StorageError, 503, "storage_unavailable"),
    (LoreError, 500, "lore_error"),
]
STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "access_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal",
    503: "unavailable",
}


def classify(exc: LoreError) -> tuple[int, str]:
    """(HTTP status, error code) for a Lore error."""
    for cls, status, code in ERROR_TABLE:
        if isinstance(exc, cls):
            return status, code
    return 500, "lore_error"  # unreachable: LoreError is the last row


def details(exc: LoreError) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if exc.hint:
        out["hint"] = exc.hint
    if isinstance(exc, IngestError):
        out.update(file=exc.file, line=exc.line, reason=exc.reason)
    return out


def envelope(code: str, message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body of every failed HTTP response."""
    return {"error": {"code": code, "message": message, "details": extra or {}}}


def tool_message(exc: LoreError) -> str:
    """What an agent reads when a tool fails: the problem, then what to do about it."""
    text = " ".join(str(exc).split())
    return f"{text}. Hint: {exc.hint}" if exc.hint else text
