"""Access keys: namespace-scoped bearer secrets, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import AccessDenied, ConfigError, NotFound
from ..ingest.writer import check_namespace
from ..store.sqlite import SQLiteStore
from ..types import from_epoch, to_iso

SCOPES = ("read", "write", "admin")
# What each scope may do; each scope may also do everything the ones before it may.
SCOPE_HELP = {
    "read": "search, context, expand, list records and memories, stats",
    "write": "also add records, ingest files, remember, fold, distill",
    "admin": "also forget records",
}
KEY_PREFIX = "lore_"
_ID_BYTES = 6  # 12 hex characters: public, shown by `lore keys list`, used to revoke
_TOKEN = re.compile(r"lore_(?P<id>[0-9a-f]{12})_[A-Za-z0-9_-]{32,}")
_NO_SUCH_HASH = hashlib.sha256(b"no such key").hexdigest()
_KEY_HINT = "send `Authorization: Bearer lore_...`; create a key with `lore keys create`"


class Unauthenticated(AccessDenied):
    """No valid access key came with the request (missing, malformed, unknown or revoked)."""

    hint = _KEY_HINT


@dataclass(frozen=True, slots=True)
class AccessKey:
    """A key's public part: who may do what, and below which namespace prefix.

    `namespace` None means every namespace; only `--no-auth` (local development) has that.
    """

    id: str
    name: str
    namespace: str | None
    scope: str
    created_at: datetime | None = None
    revoked_at: datetime | None = None

    def allows(self, scope: str) -> bool:
        return SCOPES.index(self.scope) >= SCOPES.index(scope)

    def require(self, scope: str, action: str) -> None:
        """AccessDenied unless this key's scope covers `scope`."""
        if not self.allows(scope):
            raise AccessDenied(
                f"this key has {self.scope} scope; {action} needs a {scope} key",
                hint=f"{scope} keys may {SCOPE_HELP[scope]}: ask for one with `lore keys create`",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "namespace": self.namespace,
            "scope": self.scope,
            "created_at": to_iso(self.created_at),
            "revoked_at": to_iso(self.revoked_at),
        }


LOCAL_KEY = AccessKey(id="local", name="--no-auth", namespace=None, scope="admin")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _key(row: tuple[Any, ...]) -> AccessKey:
    key_id, name, namespace, scope, _, created_at, revoked_at = row
    return AccessKey(key_id, name, namespace, scope, from_epoch(created_at), from_epoch(revoked_at))


def create_key(
    store: SQLiteStore, namespace: str, scope: str, name: str = ""
) -> tuple[AccessKey, str]:
    """A new key and its secret; the secret is returned once and only its hash is stored."""
    check_namespace(namespace)
    if scope not in SCOPES:
        raise ConfigError(f"unknown scope {scope!r}", hint=f"use one of {', '.join(SCOPES)}")
    key_id = secrets.token_hex(_ID_BYTES)
    secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    now = time.time()
    store.insert_key((key_id, name, namespace, scope, _digest(secret), now))
    return AccessKey(key_id, name, namespace, scope, from_epoch(now)), secret


def list_keys(store: SQLiteStore, *, revoked: bool = False) -> list[AccessKey]:
    """Keys oldest first; revoked ones only when `revoked` is set."""
    keys = [_key(row) for row in store.key_rows()]
    return [k for k in keys if revoked or k.revoked_at is None]


def revoke_key(store: SQLiteStore, key_id: str) -> AccessKey:
    """Revoke a key by id (or by its whole secret); it stops working at once."""
    match = _TOKEN.fullmatch(key_id)
    key_id = match.group("id") if match else key_id
    if not store.revoke_key(key_id, time.time()):
        row = store.key_row(key_id)
        if row is None:
            raise NotFound(f"no key {key_id!r}", hint="`lore keys list` shows key ids")
    row = store.key_row(key_id)
    assert row is not None
    return _key(row)


def verify_key(store: SQLiteStore, secret: str | None) -> AccessKey:
    """The key `secret` belongs to; Unauthenticated when it is missing, unknown or revoked."""
    if not secret:
        raise Unauthenticated("no access key: this server needs a bearer token")
    match = _TOKEN.fullmatch(secret)
    row = store.key_row(match.group("id")) if match else None
    # Compare digests in constant time, and compare even when there is no such key, so the
    # time taken says nothing about which ids exist.
    expected = row[4] if row is not None else _NO_SUCH_HASH
    if not hmac.compare_digest(_digest(secret), expected) or row is None:
        raise Unauthenticated("invalid access key")
    key = _key(row)
    if key.revoked_at is not None:
        raise Unauthenticated("this access key was revoked")
    return key


def within(namespace: str, prefix: str) -> bool:
    """Whether `namespace` is `prefix` or below it (`acme/eng` is within `acme`)."""
    return namespace == prefix or namespace.startswith(prefix + "/")
