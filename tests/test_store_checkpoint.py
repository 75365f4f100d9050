"""The write-ahead log is checkpointed by a background thread, not by the committing writer."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from lore import Draft, Lore
from lore.store import checkpoint
from lore.store.checkpoint import WRITER_AUTOCHECKPOINT, Checkpointer
from lore.store.sqlite import SQLiteStore


def _checkpointer(store: SQLiteStore) -> Checkpointer:
    checkpointer = store._checkpointer
    assert checkpointer is not None
    return checkpointer


def _wait_for_runs(checkpointer: Checkpointer, runs: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while checkpointer.runs < runs and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checkpointer.runs >= runs, checkpointer.error


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "lore-checkpoint"}


def test_commits_are_checkpointed_in_the_background(tmp_path: Path) -> None:
    before = _threads()
    with Lore.open(tmp_path / "lore.db", embedder="hash", redaction=None) as lore:
        checkpointer = _checkpointer(lore.store)
        assert lore.store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == (
            WRITER_AUTOCHECKPOINT
        )
        lore.add_many([Draft(f"note {i} about the billing rollout") for i in range(300)])
        _wait_for_runs(checkpointer, 1)
        busy, logged, copied = checkpointer.last or (1, 0, -1)
        assert busy == 0 and logged > 0
        # Every page the writer logged ends up in the database file; nothing waits for it.
        deadline = time.monotonic() + 10
        while copied < logged and time.monotonic() < deadline:
            checkpointer.poke()
            time.sleep(0.02)
            busy, logged, copied = checkpointer.last or (1, 0, -1)
        assert copied == logged
        started = _threads() - before
        assert len(started) == 1
        other = sqlite3.connect(tmp_path / "lore.db")
        assert other.execute("SELECT count(*) FROM records").fetchone()[0] == 300
        other.close()
    assert not any(t.is_alive() for t in started)  # closing the store stops its thread


def test_a_store_that_is_only_read_starts_no_thread(tmp_path: Path) -> None:
    with Lore.open(tmp_path / "lore.db", embedder="hash") as lore:
        lore.add("the deploy of the billing service failed")
    before = _threads()
    with Lore.open(tmp_path / "lore.db", embedder="hash") as lore:
        assert lore.search("deploy", mode="fts")
        assert _checkpointer(lore.store).runs == 0
        assert _threads() == before


def test_an_in_memory_store_has_no_log_to_checkpoint() -> None:
    store = SQLiteStore(":memory:")
    assert store._checkpointer is None
    store.close()


def test_a_checkpointer_that_cannot_open_its_file_says_why(tmp_path: Path) -> None:
    checkpointer = Checkpointer(str(tmp_path / "missing" / "lore.db"))
    checkpointer.poke()
    thread = checkpointer._thread
    assert thread is not None
    thread.join(timeout=10)
    assert checkpointer.error is not None and "missing" in checkpointer.error
    assert checkpointer.runs == 0
    checkpointer.poke()  # a dead thread is not restarted, and poking it is harmless
    checkpointer.close()


def test_the_log_is_folded_into_the_database_on_close(tmp_path: Path) -> None:
    with Lore.open(tmp_path / "lore.db", embedder="hash", redaction=None) as lore:
        lore.add_many([Draft(f"turn {i}") for i in range(50)])
    assert not (tmp_path / "lore.db-wal").exists()
    with Lore.open(tmp_path / "lore.db", embedder="hash", redaction=None) as lore:
        assert lore.stats()["records"] == 50


def test_the_log_stays_bounded_under_a_stream_of_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Back-to-back commits keep the background checkpoint busy, so the log is never idle
    enough to start over by itself; past LOG_SIZE_LIMIT the writer starts it over."""
    monkeypatch.setattr(checkpoint, "LOG_SIZE_LIMIT", 1024 * 1024)
    store = SQLiteStore(tmp_path / "lore.db")
    store.db.execute("CREATE TABLE blobs (x BLOB)")
    largest = 0
    for _ in range(40):  # 8 MB through the log, with no pause between commits
        with store.transaction() as db:
            db.execute("INSERT INTO blobs VALUES (randomblob(200000))")
        largest = max(largest, (tmp_path / "lore.db-wal").stat().st_size)
    store.close()
    assert largest < 2 * 1024 * 1024, largest


def test_a_store_dropped_without_close_stops_its_thread(tmp_path: Path) -> None:
    before = _threads()
    store = SQLiteStore(tmp_path / "lore.db")
    with store.transaction() as db:
        db.execute("INSERT INTO meta VALUES ('k', 'v')")
    started = _threads() - before
    assert len(started) == 1
    del store, db
    gc.collect()
    for thread in started:
        thread.join(timeout=10)
        assert not thread.is_alive()


def test_a_relative_path_survives_a_change_of_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    store = SQLiteStore("lore.db")
    monkeypatch.chdir(tmp_path / "b")
    with store.transaction() as db:
        db.execute("INSERT INTO meta VALUES ('k', 'v')")
    checkpointer = _checkpointer(store)
    _wait_for_runs(checkpointer, 1)
    assert checkpointer.last is not None and checkpointer.last[1] > 0  # the real log
    assert not (tmp_path / "b" / "lore.db").exists()
    store.close()
