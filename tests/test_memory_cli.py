"""`lore distill` and `lore memories` against a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from lore.cli import cli

CHAT = [
    ("s1", "alice", "I live in Berlin, near the river.", "2023-01-05T10:00:00Z"),
    ("s1", "bob", "We decided to use Postgres 16 for the ledger.", "2023-01-05T10:01:00Z"),
    ("s2", "alice", "I moved to Lisbon in March.", "2024-03-01T09:00:00Z"),
    ("s2", "bob", "Nice, send photos of Lisbon.", "2024-03-01T09:01:00Z"),
]


def run(db: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--db", str(db), "--embedder", "hash", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def _store(tmp_path: Path) -> Path:
    rows = [{"session": s, "actor": a, "text": t, "timestamp": w} for s, a, t, w in CHAT]
    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    db = tmp_path / "lore.db"
    run(db, "ingest", str(data), "--json")
    return db


def test_distill_reports_counts_and_cost_then_nothing_new(tmp_path: Path) -> None:
    db = _store(tmp_path)
    first = run(db, "distill", "--json")
    assert first["sessions"] == 2 and first["records"] == 4
    assert first["made"]["fact"] == 2 and first["made"]["episode"] == 2
    assert first["superseded"] == 1 and first["llm_calls"] == 0 and first["tokens"] == 0
    assert run(db, "distill", "--json")["made"] == {}
    assert "nothing new" in run(db, "distill")


def test_memories_listing_as_of_history_and_search(tmp_path: Path) -> None:
    db = _store(tmp_path)
    run(db, "distill")
    now = run(db, "memories", "--kind", "fact", "--json")["memories"]
    assert [m["value"] for m in now] == ["Lisbon"]
    then = run(db, "memories", "--kind", "fact", "--as-of", "2023-06-01", "--json")["memories"]
    assert [m["value"] for m in then] == ["Berlin"]
    history = run(db, "memories", "--kind", "fact", "--all")
    assert "superseded by memory:" in history and "Berlin" in history
    found = run(db, "memories", "postgres ledger", "--json")["hits"]
    assert found[0]["memory"]["kind"] == "decision"
    handle = "memory:" + found[0]["memory"]["id"]
    assert "Postgres 16" in run(db, "expand", handle)
    pack = run(db, "context", "where does alice live", "--budget", "300", "--json")
    assert pack["fragments"][0]["kind"] == "memory:fact"
    raw = run(db, "context", "where does alice live", "--no-memories", "--json")
    assert all(not f["kind"].startswith("memory:") for f in raw["fragments"])


def test_retry_failed_without_an_llm_is_a_usage_error(tmp_path: Path) -> None:
    db = _store(tmp_path)
    result = CliRunner().invoke(
        cli, ["--db", str(db), "--embedder", "hash", "distill", "--retry-failed", "--no-llm"]
    )
    assert result.exit_code == 2 and "LORE_LLM_URL" in result.stderr
