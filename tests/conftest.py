"""Shared fixtures: real SQLite files in tmp_path, the hash embedder for speed."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Compiled-database caches go to a folder of the test run, not the user's cache."""
    saved = os.environ.get("LORE_CACHE_DIR")
    os.environ["LORE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if saved is None:
        os.environ.pop("LORE_CACHE_DIR", None)
    else:
        os.environ["LORE_CACHE_DIR"] = saved


@pytest.fixture
def lore(tmp_path: Path) -> Iterator[Lore]:
    """A fresh store in a real SQLite file, with the deterministic hash embedder."""
    with Lore.open(tmp_path / "lore.db", embedder="hash") as opened:
        yield opened


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    """The built-in redaction policy, one per test module."""
    return Redactor(load_policy())

