"""`python -m lore.demo`: ingest the bundled workspace, search, and a 400-token context pack."""

from __future__ import annotations

import io
from pathlib import Path

from lore import Lore
from lore.demo import BUDGET, run


def _run(db: Path) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    run(db, out=out, err=err)
    return out.getvalue(), err.getvalue()


def test_demo_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    Lore.open(db, embedder="hash").close()  # the demo then keeps the store's own embedder
    first, progress = _run(db)
    ingest_part = first.split("# Search")[0]
    assert "payments.jsonl: added" in ingest_part and "failed 0" in ingest_part
    assert "duplicates 0" in ingest_part
    assert "# Search: why did the payments webhook book a payment twice?" in first
    assert "why: " in first and "# Context pack:" in first
    assert f"/{BUDGET} tokens" in first and "[1] " in first and "record:" in first
    assert "opening" in progress and "opening" not in first
    second, _ = _run(db)
    assert "added 0" in second.split("# Search")[0]
    assert second.split("# Search")[1] == first.split("# Search")[1]
