"""Shared fixtures: real SQLite files in tmp_path, the hash embedder for speed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lore import Lore
from lore.redact import Redactor, load_policy

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_data(relative: str) -> Path:
    """A public evaluation file beside the checkout; the test skips when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"evaluation data not present: {relative}")
    return path


@pytest.fixture
def lore(tmp_path: Path) -> Iterator[Lore]:
    """A fresh store in a real SQLite file, with the deterministic hash embedder."""
    with Lore.open(tmp_path / "lore.db", embedder="hash") as opened:
        yield opened


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    """The built-in redaction policy, one per test module."""
    return Redactor(load_policy())

