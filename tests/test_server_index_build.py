"""A server builds the ranked full-text index of a big store at start, off the request path."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lore import Draft, Lore
from lore.search.hybrid import SearchSettings
from lore.server.runtime import Runtime

BIG = SearchSettings(fts_budget=50)  # a store above 50 records is "big" here


def _fill(path: Path, count: int) -> None:
    with Lore.open(path, embedder="hash", settings=BIG) as lore:
        lore.add_many(
            [Draft(f"turn {i} about the harbour crane rota", session_id="s", seq=i)
             for i in range(count)]
        )


def test_the_index_of_a_big_store_is_built_at_start(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    _fill(db, 120)
    with Runtime(db, embedder="hash", settings=BIG, readers=1) as runtime:
        assert runtime.index_pending == 120
        build = runtime.index_build
        assert build is not None
        build.join(timeout=60)
        assert not build.is_alive()
        assert runtime.writer.pending_search_index() == 0  # no search was needed for it
        assert runtime.ranked.watermark() == 120
        hits = runtime.read_now(lambda lore: lore.search("crane", k=3, mode="fts"))
        assert len(hits) == 3


def test_a_small_store_starts_no_build(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    _fill(db, 20)
    with Runtime(db, embedder="hash", settings=BIG, readers=1) as runtime:
        assert runtime.index_pending == 0
        assert runtime.index_build is None


def test_closing_stops_a_build_and_keeps_the_index_usable(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    _fill(db, 3_000)
    runtime = Runtime(db, embedder="hash", settings=BIG, readers=1)
    build = runtime.index_build
    assert build is not None
    runtime.close()  # whether the build had finished or not, close waits for it to stop
    assert not build.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "lore-index-build" and t.is_alive()]
    with Lore.open(db, embedder="hash", settings=BIG) as lore:  # a stopped build left nothing
        assert len(lore.search("crane", k=5, mode="fts")) == 5  # half-done behind
        assert lore.pending_search_index() == 0


def test_closing_interrupts_a_build_in_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "lore.db"
    _fill(db, 120)
    started, batches = threading.Event(), []

    def endless_build(self: Lore, progress: Callable[[int], None]) -> None:
        started.set()
        while True:  # a build far from done: only the progress check can end it
            progress(1)
            batches.append(1)
            time.sleep(0.005)

    monkeypatch.setattr(Lore, "prepare_search", endless_build)
    runtime = Runtime(db, embedder="hash", settings=BIG, readers=1)
    assert started.wait(timeout=30)
    runtime.close()
    assert runtime.index_build is not None and not runtime.index_build.is_alive()
    assert batches  # it was running, and close() ended it
