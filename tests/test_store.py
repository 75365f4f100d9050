"""The evidence store: migrations, idempotent ingest, namespaces, filters, forget."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lore import ConfigError, Draft, EmbedderMismatch, Lore, NotFound, StorageError
from lore.store.migrations import MIGRATIONS


def test_migrations_are_recorded_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "lore.db"
    Lore.open(path, embedder="hash").close()
    Lore.open(path, embedder="hash").close()
    db = sqlite3.connect(path)
    numbers = [row[0] for row in db.execute("SELECT number FROM migrations")]
    assert numbers == [number for number, _, _ in MIGRATIONS]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_same_content_twice_adds_nothing(lore: Lore) -> None:
    first = lore.add("We ship on Friday", actor="bob", session="s1", seq=0)
    again = lore.add("We ship on Friday", actor="bob", session="s1", seq=0)
    assert (first.added, first.duplicates) == (1, 0)
    assert (again.added, again.duplicates) == (0, 1)
    assert lore.stats()["records"] == 1


def test_record_round_trips_every_field(lore: Lore) -> None:
    moment = datetime(2026, 3, 2, 10, 4, tzinfo=UTC)
    report = lore.add(
        "Deploy freeze starts Friday",
        namespace="acme/eng",
        kind="event",
        actor="alice",
        role="user",
        session="ops",
        seq=3,
        occurred_at=moment,
        metadata={"channel": "ops"},
    )
    record = lore.get(report.record_ids[0])
    assert (record.namespace, record.kind, record.actor, record.role) == (
        "acme/eng",
        "event",
        "alice",
        "user",
    )
    assert (record.session_id, record.seq, record.occurred_at) == ("ops", 3, moment)
    assert record.metadata == {"channel": "ops"}
    assert len(record.content_hash) == 64


def test_namespace_prefix_sees_below_never_beside(lore: Lore) -> None:
    for namespace in ("acme", "acme/eng", "acme/eng/payments", "acme/engineering", "acme/sales"):
        lore.add(f"budget review notes for {namespace}", namespace=namespace)
    seen = {h.record.namespace for h in lore.search("budget review", k=20, namespace="acme/eng")}
    assert seen == {"acme/eng", "acme/eng/payments"}


def test_invalid_namespace_is_a_clear_error(lore: Lore) -> None:
    with pytest.raises(ConfigError, match="invalid namespace"):
        lore.add("text", namespace="../etc")


def test_filters_apply_before_top_k(lore: Lore) -> None:
    # 50 strong matches by bob crowd out alice's weaker one unless the filter is inside retrieval.
    drafts = [
        Draft(text=f"invoice retry bug number {i}", actor="bob", session_id="b", seq=i)
        for i in range(50)
    ]
    drafts.append(
        Draft(text="a note that mentions the invoice once", actor="alice", session_id="a", seq=0)
    )
    lore.add_many(drafts)
    for mode in ("fts", "vector", "hybrid"):
        hits = lore.search("invoice retry bug", k=3, mode=mode, actors=["alice"])
        assert [h.record.actor for h in hits] == ["alice"], mode


def test_time_filters(lore: Lore) -> None:
    for day in (1, 2, 3):
        lore.add(
            f"standup notes day {day}",
            occurred_at=datetime(2026, 3, day, tzinfo=UTC),
            session="s",
            seq=day,
        )
    hits = lore.search(
        "standup notes",
        since=datetime(2026, 3, 2, tzinfo=UTC),
        until=datetime(2026, 3, 3, tzinfo=UTC),
    )
    assert [h.record.text for h in hits] == ["standup notes day 2"]


def test_a_failed_batch_leaves_nothing_half_written(
    lore: Lore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise StorageError("disk full")

    monkeypatch.setattr(lore.store, "insert_vectors", broken)
    with pytest.raises(StorageError):
        lore.add_many([Draft(text=f"message {i}") for i in range(10)])
    assert lore.stats()["records"] == 0


def test_embedder_mismatch_is_refused_then_reembedded(tmp_path: Path) -> None:
    path = tmp_path / "lore.db"
    with Lore.open(path, embedder="hash") as lore:
        lore.add("payments webhook retried twice")
    with pytest.raises(EmbedderMismatch, match="hash:256"):
        Lore.open(path, embedder="hash:64")
    with Lore.open(path, embedder="hash:64", reembed=True) as lore:
        assert lore.stats()["embedder"] == "hash:64"
        assert (
            lore.search("webhook", mode="vector")[0].record.text == "payments webhook retried twice"
        )
    with Lore.open(path) as lore:  # the default is now the store's own embedder
        assert lore.embedder.identity == "hash:64"


def test_forget_deletes_and_audits(lore: Lore) -> None:
    keep = lore.add("keep this note").record_ids[0]
    drop = lore.add("drop this secret note").record_ids[0]
    assert lore.forget([drop], reason="user request") == [drop]
    assert [h.record.id for h in lore.search("note", k=10)] == [keep]
    audit = lore.store.db.execute("SELECT id, reason FROM forgotten").fetchall()
    assert audit == [(drop, "user request")]
    with pytest.raises(NotFound):
        lore.get(drop)


def test_damaged_file_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "lore.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="cannot open database"):
        Lore.open(path, embedder="hash")


def test_default_path_honours_lore_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORE_DB", str(tmp_path / "env.db"))
    with Lore.open(embedder="hash") as lore:
        assert lore.stats()["path"] == str(tmp_path / "env.db")


def test_a_time_that_cannot_be_read_back_is_refused(lore: Lore) -> None:
    from datetime import timedelta, timezone

    ancient = datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))  # year 0 in UTC
    report = lore.add("too old", occurred_at=ancient)
    assert (report.added, report.failed) == (0, 1)
    assert "time out of range" in report.problems[0].reason
    lore.add("fine")
    assert [h.record.text for h in lore.search("too old fine")] == ["fine"]
