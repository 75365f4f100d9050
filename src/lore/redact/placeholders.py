"""Stable placeholder numbers: the same value gets the same number within a namespace, forever.

Only a keyed hash of a value is kept (HMAC-SHA256 with a per-store secret from the `meta`
table), never the value, in the table `redaction_placeholders` (migration 2).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..store.sqlite import SQLiteStore

SECRET_KEY = "redaction_secret"


def normalise(kind: str, value: str) -> str:
    """The form two spellings of one value share (case, spaces and separators dropped)."""
    if kind == "email":
        return value.lower()
    if kind in ("phone", "card", "ssn"):
        return re.sub(r"\D", "", value)
    if kind in ("iban", "nino"):
        return value.replace(" ", "").upper()
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value.lower()
    if kind == "address":
        return " ".join(value.lower().replace(",", " ").split())
    return value


class Numbering(Protocol):
    """Gives each (namespace, kind, value) a number, 1, 2, 3... per namespace and kind."""

    def number(self, namespace: str, kind: str, value: str) -> int: ...

    def __enter__(self) -> Numbering: ...

    def __exit__(self, *exc: object) -> None: ...


class MemoryNumbering:
    """Numbers kept in memory only: previews, benchmarks, one-off redaction."""

    def __init__(self) -> None:
        self._numbers: dict[tuple[str, str, str], int] = {}
        self._raw: dict[tuple[str, str, str], int] = {}  # as written, to skip normalising
        self._next: dict[tuple[str, str], int] = {}

    def number(self, namespace: str, kind: str, value: str) -> int:
        if (found := self._raw.get((namespace, kind, value))) is not None:
            return found
        key = (namespace, kind, normalise(kind, value))
        if key not in self._numbers:
            count = self._next.get((namespace, kind), 0) + 1
            self._next[(namespace, kind)] = count
            self._numbers[key] = count
        self._raw[(namespace, kind, value)] = self._numbers[key]
        return self._numbers[key]

    def __enter__(self) -> MemoryNumbering:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class StoreNumbering:
    """Numbers persisted in the store, keyed by HMAC(secret, namespace, kind, value).

    Use it as a context manager around a batch: numbers are allocated inside one write
    transaction, so two writers to the same file never hand out the same number twice.
    """

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self._cache: dict[tuple[str, str, str], int] = {}
        self._key: bytes | None = None
        self._open = 0
        self._transaction: AbstractContextManager[object] | None = None

    def _secret(self) -> bytes:
        if self._key is None:
            value = self.store.get_meta(SECRET_KEY)
            if value is None:
                value = secrets.token_hex(32)
                self.store.set_meta(SECRET_KEY, value)
            self._key = bytes.fromhex(value)
        return self._key

    def digest(self, namespace: str, kind: str, value: str) -> str:
        message = "\0".join((namespace, kind, normalise(kind, value))).encode()
        return hmac.new(self._secret(), message, hashlib.sha256).hexdigest()

    def number(self, namespace: str, kind: str, value: str) -> int:
        if not self._open:
            with self:
                return self.number(namespace, kind, value)
        digest = self.digest(namespace, kind, value)
        key = (namespace, kind, digest)
        if key in self._cache:
            return self._cache[key]
        db = self.store.db
        row = db.execute(
            "SELECT number FROM redaction_placeholders WHERE namespace = ? AND kind = ?"
            " AND digest = ?",
            key,
        ).fetchone()
        if row is None:
            (top,) = db.execute(
                "SELECT coalesce(max(number), 0) FROM redaction_placeholders"
                " WHERE namespace = ? AND kind = ?",
                (namespace, kind),
            ).fetchone()
            row = (top + 1,)
            db.execute("INSERT INTO redaction_placeholders VALUES (?, ?, ?, ?)", (*key, row[0]))
        self._cache[key] = row[0]
        return int(row[0])

    def __enter__(self) -> StoreNumbering:
        if not self._open:
            # Inside a caller's transaction the numbers simply join it.
            self._transaction = None if self.store.db.in_transaction else self.store.transaction()
            if self._transaction is not None:
                self._transaction.__enter__()
        self._open += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._open -= 1
        if not self._open:
            failed = exc[0] is not None
            if failed:  # numbers (and a new secret) from a rolled-back transaction do not exist
                self._cache.clear()
                self._key = None
            if self._transaction is not None:
                self._transaction.__exit__(*exc)  # type: ignore[arg-type]
