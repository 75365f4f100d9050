"""The evidence store: migrations, idempotent ingest, namespaces, filters, forget."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
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
        assert lore.stats()["embedder"] == "hash:64:v2"
        assert (
            lore.search("webhook", mode="vector")[0].record.text == "payments webhook retried twice"
        )
    with Lore.open(path) as lore:  # the default is now the store's own embedder
        assert lore.embedder.identity == "hash:64:v2"


def test_a_store_from_before_store_ids_still_checks_its_embedder(tmp_path: Path) -> None:
    path = tmp_path / "lore.db"
    with Lore.open(path, embedder="hash") as lore:
        lore.add("payments webhook retried twice")
        lore.store.db.execute("DELETE FROM meta WHERE key = 'store_id'")  # as older stores are
    with pytest.raises(EmbedderMismatch, match="hash:256"):
        Lore.open(path, embedder="hash:64")
    with Lore.open(path, embedder="hash:64", reembed=True) as lore:
        assert lore.stats()["embedder"] == "hash:64:v2"
        assert lore.store.get_meta("store_id")


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


def _fts_is_consistent(lore: Lore) -> None:
    """FTS5 checks its index against the records table (raises on any difference)."""
    lore.store.db.execute("INSERT INTO records_fts(records_fts) VALUES ('integrity-check')")


def test_full_text_rows_match_records_through_duplicates_and_forget(lore: Lore) -> None:
    drafts = [
        Draft(text=f"turn {i} about the payments webhook", actor="ann", session_id="s", seq=i)
        for i in range(30)
    ]
    report = lore.add_many(drafts + drafts[:5])  # repeats inside the batch are duplicates
    assert (report.added, report.duplicates) == (30, 5)
    assert lore.add_many(drafts).duplicates == 30
    lore.forget(report.record_ids[:3])
    _fts_is_consistent(lore)
    assert lore.stats()["vectors"] == lore.stats()["records"] == 27
    hits = lore.search("turn 7", k=1, mode="fts")
    assert hits[0].record.text == "turn 7 about the payments webhook"


def test_a_store_made_before_migration_6_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE migrations (number INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
    for number, name, sql in MIGRATIONS[:5]:
        db.executescript(
            f"BEGIN;\n{sql}\nINSERT INTO migrations VALUES ({number}, '{name}', '');\nCOMMIT;"
        )
    db.execute(  # a record written by the old code: its full text came from the trigger
        "INSERT INTO records (id, namespace, connector, uri, source_id, kind, text, recorded_at,"
        " content_hash, context) VALUES ('01OLD', 'default', 'api', 'api', '', 'message',"
        " 'legacy ledger reconciliation', 0, 'h', '')"
    )
    db.close()
    with Lore.open(path, embedder="hash") as lore:
        triggers = {
            row[0]
            for row in lore.store.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            )
        }
        assert "records_fts_insert" not in triggers and "records_fts_delete" in triggers
        lore.add("fresh ledger reconciliation notes")
        _fts_is_consistent(lore)  # each record indexed exactly once
        texts = {h.record.text for h in lore.search("ledger reconciliation", k=5, mode="fts")}
        assert texts == {"legacy ledger reconciliation", "fresh ledger reconciliation notes"}


def test_a_record_another_writer_stores_meanwhile_is_a_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lore.db"
    drafts = [Draft(text=f"deploy note {i}", session_id="d", seq=i) for i in range(6)]
    with Lore.open(path, embedder="hash") as lore, Lore.open(path, embedder="hash") as other:
        embed = lore.embedder.embed

        def racing(texts: list[str], **kwargs: object) -> object:
            other.add_many(drafts[:4])  # lands between the duplicate check and the insert
            monkeypatch.setattr(lore.embedder, "embed", embed)
            return embed(texts)

        monkeypatch.setattr(lore.embedder, "embed", racing)
        report = lore.add_many(drafts)
        assert (report.added, report.duplicates) == (2, 4)
        assert lore.stats()["records"] == lore.stats()["vectors"] == 6
        _fts_is_consistent(lore)


def test_a_record_forgotten_meanwhile_is_stored_again_with_its_vector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lore.db"
    drafts = [Draft(text=f"incident review {i}", session_id="r", seq=i) for i in range(4)]
    with Lore.open(path, embedder="hash") as lore, Lore.open(path, embedder="hash") as other:
        stored = lore.add_many(drafts[:2]).record_ids
        embed = lore.embedder.embed

        def racing(texts: list[str], **kwargs: object) -> object:
            other.forget(stored)  # stored at the duplicate check, gone at the insert
            monkeypatch.setattr(lore.embedder, "embed", embed)
            return embed(texts)

        monkeypatch.setattr(lore.embedder, "embed", racing)
        report = lore.add_many(drafts)
        assert (report.added, report.duplicates) == (4, 0)
        assert lore.stats()["records"] == lore.stats()["vectors"] == 4
        rowids, vectors = lore.store.vectors_of(range(1, 100))
        texts = [r.text for r in lore.store.records_by_rowid(rowids.tolist()).values()]
        assert np.allclose(vectors, lore.embedder.embed(texts))  # each row its own vector


def test_content_hash_is_unchanged_for_stored_records() -> None:
    # Stores made by earlier versions hold these hashes: a different one would re-add records.
    import hashlib
    import json

    from lore.ingest.writer import content_hash

    draft = Draft(
        text='Café "ß"\u2028 😀',
        kind="utterance",
        session_id="s1",
        seq=4,
        actor="ann",
        role="user",
        occurred_at=datetime(2026, 3, 2, 10, 4, 5, 250000, tzinfo=UTC),
    )
    fields = ["utterance", "s1", 4, "ann", "user", 1772445845.25, 'Café "ß"\u2028 😀']
    payload = json.dumps(fields, ensure_ascii=False).encode()
    assert content_hash(draft) == hashlib.sha256(payload).hexdigest()


def test_a_store_of_the_first_hash_embedder_asks_for_a_reembed(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Lore.open(path, embedder="hash") as lore:
        lore.add("kept across versions")
        lore.store.set_meta("embedder", "hash:256")  # what the first version recorded
    with pytest.raises(EmbedderMismatch, match=r"'hash:256'.*'hash:256:v2'"):
        Lore.open(path)
    with Lore.open(path, embedder="hash", reembed=True) as lore:
        assert lore.search("kept across versions", k=1)[0].record.text == "kept across versions"
    with pytest.raises(ConfigError, match="version 'v1'"):
        Lore.open(tmp_path / "new.db", embedder="hash:256:v1")
