"""`lore keys`: a key is printed once, stored only as a hash, listed without it, and revocable."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from lore.cli import cli
from lore.errors import AccessDenied
from lore.server.auth import verify_key
from lore.store.sqlite import SQLiteStore


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "lore.db"
    result = CliRunner().invoke(cli, ["--db", str(path), "--embedder", "hash", "init"])
    assert result.exit_code == 0, result.output
    return path


def _run(db: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    return result.exit_code, result.stdout, result.stderr


def test_create_prints_the_key_once_and_stores_only_its_hash(db: Path) -> None:
    code, out, err = _run(db, "keys", "create", "--namespace", "acme/eng", "--scope", "write",
                          "--name", "ci")
    assert code == 0
    secret = out.strip()
    assert secret.startswith("lore_") and "\n" not in secret and len(secret) > 50
    assert "shown once" in err
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT namespace, scope, name, secret_sha256 FROM keys").fetchall()
    assert rows == [("acme/eng", "write", "ci", hashlib.sha256(secret.encode()).hexdigest())]
    for file in db.parent.glob("lore.db*"):
        assert secret.encode() not in file.read_bytes()
    store = SQLiteStore(db)
    try:
        key = verify_key(store, secret)
    finally:
        store.close()
    assert (key.namespace, key.scope, key.name) == ("acme/eng", "write", "ci")


def test_list_and_revoke(db: Path) -> None:
    _, secret, _ = _run(db, "keys", "create", "--namespace", "acme", "--scope", "read")
    _, _, _ = _run(db, "keys", "create", "--namespace", "acme/sales", "--scope", "admin")
    code, out, _ = _run(db, "keys", "list", "--json")
    listed = json.loads(out)
    assert code == 0 and [k["namespace"] for k in listed] == ["acme", "acme/sales"]
    assert secret.strip() not in out and all("secret" not in json.dumps(k) for k in listed)
    code, out, _ = _run(db, "keys", "list")
    assert code == 0 and "acme/sales" in out and "admin" in out

    key_id = listed[0]["id"]
    code, out, _ = _run(db, "keys", "revoke", key_id, "--json")
    assert code == 0 and json.loads(out)["revoked_at"]
    assert [k["id"] for k in json.loads(_run(db, "keys", "list", "--json")[1])] == [
        listed[1]["id"]
    ]
    everything = json.loads(_run(db, "keys", "list", "--revoked", "--json")[1])
    assert len(everything) == 2
    store = SQLiteStore(db)
    try:
        with pytest.raises(AccessDenied, match="revoked"):
            verify_key(store, secret.strip())
    finally:
        store.close()


def test_mistakes_are_one_line_errors(db: Path, tmp_path: Path) -> None:
    code, _, err = _run(db, "keys", "create", "--namespace", "no spaces please")
    assert code == 2 and err.startswith("error: invalid namespace")
    code, _, err = _run(db, "keys", "create", "--namespace", "a", "--scope", "root")
    assert code == 2 and "root" in err
    code, _, err = _run(db, "keys", "revoke", "0123456789ab")
    assert code == 1 and err.startswith("error: no key")
    code, _, err = _run(tmp_path / "absent.db", "keys", "list")
    assert code == 2 and "lore init" in err
