"""`python -m lore.demo`: ingest, search and a 400-token context pack, idempotent on rerun."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import types
from pathlib import Path

import pytest

from lore import IngestReport, Lore
from lore.demo import BUDGET, run

CHAT = [
    ("alice", "The payments webhook retried twice last night."),
    ("bob", "Stripe retries when our endpoint takes longer than 10 seconds to answer."),
    ("alice", "The handler waited on the ledger lock, so the first attempt timed out."),
    ("carol", "Let's make the webhook handler idempotent and answer 200 before the ledger write."),
]


def _fake_samples(tmp_path: Path) -> types.ModuleType:
    """Stands in for lore.samples while that module is written: one small chat file."""
    chat = tmp_path / "workspace" / "payments.jsonl"
    chat.parent.mkdir(parents=True)
    rows = [
        {"session": "payments", "actor": a, "text": t, "timestamp": f"2026-03-02T10:0{i}:00Z"}
        for i, (a, t) in enumerate(CHAT)
    ]
    chat.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    module = types.ModuleType("lore.samples")

    def ingest_workspace(lore: Lore, namespace: str = "northwind") -> dict[str, IngestReport]:
        return {"payments.jsonl": lore.ingest(chat, format="jsonl", namespace=namespace)}

    module.ingest_workspace = ingest_workspace  # type: ignore[attr-defined]
    module.workspace_path = lambda: chat.parent  # type: ignore[attr-defined]
    return module


def _run(db: Path) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    run(db, out=out, err=err)
    return out.getvalue(), err.getvalue()


def test_demo_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lore.samples", _fake_samples(tmp_path))
    db = tmp_path / "demo.db"
    Lore.open(db, embedder="hash").close()  # the demo then keeps the store's own embedder
    first, progress = _run(db)
    assert "payments.jsonl: added 4 · duplicates 0 · failed 0" in first
    assert "# Search: why did the payments webhook book a payment twice?" in first
    assert "why: " in first and "# Context pack:" in first
    assert f"/{BUDGET} tokens" in first and "[1] " in first and "record:" in first
    assert "opening" in progress and "opening" not in first
    second, _ = _run(db)
    assert "payments.jsonl: added 0 · duplicates 4 · failed 0" in second
    assert second.split("# Search")[1] == first.split("# Search")[1]


@pytest.mark.skipif(
    importlib.util.find_spec("lore.samples") is None, reason="the sample workspace is not installed"
)
def test_demo_with_the_bundled_workspace(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    Lore.open(db, embedder="hash").close()
    out, _ = _run(db)
    assert "failed 0" in out.split("# Search")[0] and "# Context pack:" in out
