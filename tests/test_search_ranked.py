"""The ranked full-text index (Tantivy) that big stores search: same matches and filters as
FTS5, kept in step with the store across edits, removals, forgets and other connections."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lore import Draft, Lore
from lore.index.lexical import FORMAT, IndexBusy, namespace_prefixes
from lore.search.hybrid import SearchSettings
from lore.types import Filters

RANKED = SearchSettings(fts_budget=5)  # every store here is "big": the ranked index answers
FTS5 = SearchSettings(fts_budget=1_000_000)  # never big: FTS5 ranks everything


@contextmanager
def _held_by_another_thread(hold: Callable[[], AbstractContextManager[Any]]) -> Iterator[None]:
    """Run the block while another thread sits inside `hold()` (a lock, a transaction)."""
    held, release = threading.Event(), threading.Event()

    def holding() -> None:
        with hold():
            held.set()
            release.wait(10)

    other = threading.Thread(target=holding)
    other.start()
    try:
        held.wait(10)
        yield
    finally:
        release.set()
        other.join()


def _open(path: Path, settings: SearchSettings = RANKED) -> Lore:
    return Lore.open(path, embedder="hash", settings=settings)


def _fill(lore: Lore) -> None:
    words = ["billing", "deploy", "status", "pottery", "kayak", "lunch", "invoice", "rollback"]
    for n, namespace in enumerate(("acme/eng", "acme/ops", "other")):
        lore.add_many(
            [
                Draft(
                    text=" ".join(words[(i * 7 + j * 3) % 8] for j in range(1 + i % 4))
                    + f" café note {i}",
                    actor=("ann", "bob", "cy")[i % 3],
                    session_id=f"{namespace}-s{i // 10}",
                    seq=i % 10,
                    kind="message" if i % 5 else "event",
                    occurred_at=datetime(2024, 1 + n, 1 + i % 28, tzinfo=UTC),
                )
                for i in range(60)
            ],
            namespace=namespace,
        )


SCOPES = [
    Filters(),
    Filters(namespace="acme"),
    Filters(namespace="acme/ops"),
    Filters(namespace="acm"),  # a name prefix is not a namespace prefix
    Filters(actors=("ann", "cy")),
    Filters(sessions=("acme/eng-s2", "other-s0")),
    Filters(kinds=("event",)),
    Filters(since=datetime(2024, 2, 10, tzinfo=UTC), until=datetime(2024, 3, 5, tzinfo=UTC)),
    Filters(namespace="acme", actors=("bob",), kinds=("message",)),
]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lore, Lore]:
    path = tmp_path_factory.mktemp("ranked") / "lore.db"
    with _open(path, FTS5) as lore:
        _fill(lore)
    return _open(path), _open(path, FTS5)


@pytest.mark.parametrize("scope", SCOPES, ids=repr)
@pytest.mark.parametrize("query", ["billing status", "kayak OR lunch", "cafe", "rollbacks", "zz"])
def test_the_ranked_index_matches_what_fts5_matches(
    stores: tuple[Lore, Lore], scope: Filters, query: str
) -> None:
    ranked, fts5 = stores
    got = ranked.searcher.fts(query, scope, 1000)
    want = fts5.searcher.fts(query, scope, 1000)
    assert ranked._ranked is not None and len(ranked._ranked) == 180  # it did answer
    assert {rowid for rowid, _ in got} == {rowid for rowid, _ in want}
    assert [score for _, score in got] == sorted((score for _, score in got), reverse=True)
    if query == "zz":
        assert got == []


def test_ranking_agrees_with_fts5_at_the_top(tmp_path: Path) -> None:
    from lore.samples import ingest_workspace

    with _open(tmp_path / "lore.db", FTS5) as lore:
        ingest_workspace(lore)
    queries = [
        "why did the webhook retries fail", "who owns the deploy runbook",
        "postgres connection pool settings", "what did we decide about the payments launch",
        "rollback steps for a bad release", "onboarding laptop setup",
    ]
    overlaps = []
    with _open(tmp_path / "lore.db") as ranked, _open(tmp_path / "lore.db", FTS5) as fts5:
        for query in queries:
            want = [r for r, _ in fts5.searcher.fts(query, Filters(), 5)]
            got = [r for r, _ in ranked.searcher.fts(query, Filters(), 5)]
            assert want and got[0] in want[:3]  # the best hit is one of FTS5's best
            overlaps.append(len(set(want) & set(got)) / len(want))
    assert sum(overlaps) / len(overlaps) >= 0.6


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=300))
def test_no_query_string_breaks_ranked_search(stores: tuple[Lore, Lore], text: str) -> None:
    hits = stores[0].search(text, k=5, namespace="acme")
    assert len(hits) <= 5 and all(h.record.namespace.startswith("acme/") for h in hits)


def test_edits_removals_and_forgets_leave_the_ranked_index(tmp_path: Path) -> None:
    doc = tmp_path / "runbook.md"
    old = "# Runbook\n\n## Deploys\n\nDeploys happen on Tuesdays after standup.\n"
    new = "# Runbook\n\n## Deploys\n\nDeploys happen on Thursdays after the freeze review.\n"
    filler = [f"unrelated lunch chatter {i}" for i in range(10)]

    def found(lore: Lore, text: str) -> list[str]:
        return [h.record.text for h in lore.search(text, k=50, mode="fts")]

    with _open(tmp_path / "lore.db") as lore:
        lore.add_many([Draft(text=t) for t in filler])
        doc.write_text(old, encoding="utf-8")
        lore.ingest(doc)
        assert any("Tuesdays" in t for t in found(lore, "deploys Tuesdays"))
        doc.write_text(new, encoding="utf-8")
        lore.ingest(doc)  # the old chunk is hidden
        texts = found(lore, "deploys Tuesdays Thursdays")
        assert any("Thursdays" in t for t in texts) and not any("Tuesdays" in t for t in texts)
        doc.write_text(old, encoding="utf-8")
        lore.ingest(doc)  # reverted: the old chunk is shown again, the new one hidden
        texts = found(lore, "deploys Tuesdays Thursdays")
        assert any("Tuesdays" in t for t in texts) and not any("Thursdays" in t for t in texts)
        chatter = lore.search("lunch chatter 3", k=1, mode="fts")[0].record
        lore.forget([chatter.id])
        assert chatter.text not in found(lore, "lunch chatter")
        assert len(found(lore, "lunch chatter")) == 9
    with _open(tmp_path / "lore.db") as lore:  # reopened: the saved index, caught up
        assert (tmp_path / "lore.db.fts").is_dir()
        assert len(found(lore, "lunch chatter")) == 9
        assert not any("Thursdays" in t for t in found(lore, "deploys Thursdays"))


def test_other_connections_writes_reach_the_ranked_index(tmp_path: Path) -> None:
    path = tmp_path / "lore.db"
    with _open(path) as reader:
        reader.add_many([Draft(text=f"weekly kayak trip {i}") for i in range(8)])
        assert len(reader.search("kayak", k=50, mode="fts")) == 8
        with _open(path) as writer:
            writer.add("a kayak for the offsite")
            stale = writer.search("kayak trip 2", k=1, mode="fts")[0].record
        assert "a kayak for the offsite" in {h.record.text for h in reader.search("kayak", k=50)}
        # Forgotten through another connection, whose index update reader's copy never saw:
        # the store still decides.
        with _open(path, FTS5) as other:
            other.forget([stale.id])
        assert stale.id not in {h.record.id for h in reader.search("kayak trip", k=50)}


def test_a_busy_index_falls_back_to_fts5(tmp_path: Path) -> None:
    path = tmp_path / "lore.db"
    with _open(path) as lore:
        lore.add_many([Draft(text=f"lunch order {i}") for i in range(10)])
        lore.add_many([Draft(text=f"pottery class {i}") for i in range(2)])
        assert len(lore.search("pottery", k=50, mode="fts")) == 2
        holder = lore._new_ranked(tmp_path / "lore.db.fts")._writer()  # another writer holds it
        try:
            lore.add("pottery kiln booked")
            texts = [h.record.text for h in lore.search("pottery", k=50, mode="fts")]
            assert len(texts) == 3 and "pottery kiln booked" in texts  # FTS5 answered
            assert lore._ranked is not None and len(lore._ranked) == 12  # not caught up
        finally:
            holder.rollback()
            holder.wait_merging_threads()
        assert len(lore.search("pottery", k=50, mode="fts")) == 3
        assert len(lore._ranked) == 13


def test_a_search_does_not_wait_for_another_threads_catch_up(tmp_path: Path) -> None:
    with _open(tmp_path / "lore.db") as lore:
        lore.add_many([Draft(text=f"lunch order {i}") for i in range(10)])
        assert lore.search("lunch", k=1, mode="fts")
        index = lore.ranked_index()
        with _held_by_another_thread(lambda: index._lock):  # a long catch-up elsewhere
            lore.add("pottery kiln booked")
            texts = [h.record.text for h in lore.search("pottery", k=5, mode="fts")]
            assert texts == ["pottery kiln booked"]  # FTS5 answered at once
            assert len(index) == 10
        assert lore.search("pottery", k=5, mode="fts") and len(index) == 11


@pytest.mark.parametrize("new_records", [10, 30])  # fewer and more rows than the old index
def test_an_index_of_a_replaced_database_is_rebuilt(tmp_path: Path, new_records: int) -> None:
    path = tmp_path / "lore.db"
    with _open(path) as lore:
        lore.add_many([Draft(text=f"old invoice {i}") for i in range(20)])
        assert len(lore.search("invoice", k=50, mode="fts")) == 20
    for stale in tmp_path.glob("lore.db*"):
        if stale.is_file():
            stale.unlink()
    with _open(path) as lore:  # a new database beside the old index
        lore.add_many([Draft(text=f"new receipt {i}") for i in range(new_records)])
        assert lore.search("invoice", k=50, mode="fts") == []
        texts = [h.record.text for h in lore.search("receipt", k=50, mode="fts")]
        assert sorted(texts) == sorted(f"new receipt {i}" for i in range(new_records))


def test_a_damaged_or_older_index_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "lore.db"
    with _open(path) as lore:
        lore.add_many([Draft(text=f"kayak rental {i}") for i in range(12)])
        assert len(lore.search("kayak", k=50, mode="fts")) == 12
    (tmp_path / "lore.db.fts" / "meta.json").write_text("{ not json")
    with _open(path) as lore:
        assert len(lore.search("kayak", k=50, mode="fts")) == 12
        assert lore._ranked is not None and len(lore._ranked) == 12
    (tmp_path / "lore.db.fts" / "lore-format").write_text("0:2")  # an older layout
    with _open(path) as lore:
        assert len(lore.search("kayak", k=50, mode="fts")) == 12
    assert (tmp_path / "lore.db.fts" / "lore-format").read_text().startswith(f"{FORMAT}:2:")


def test_namespace_prefixes() -> None:
    assert namespace_prefixes("acme/eng/web") == ["acme", "acme/eng", "acme/eng/web"]
    assert namespace_prefixes("solo") == ["solo"]


def test_prepare_search_builds_the_index_ahead_with_progress(tmp_path: Path) -> None:
    with _open(tmp_path / "lore.db") as lore:
        lore.add_many([Draft(text=f"rota note {i}") for i in range(30)])
        assert lore.pending_search_index() == 30
        heard: list[int] = []
        lore.prepare_search(heard.append)
        assert sum(heard) == 30 and lore.pending_search_index() == 0
        assert len(lore.search("rota", k=50, mode="fts")) == 30
    with _open(tmp_path / "small.db", FTS5) as lore:  # FTS5 ranks a small store alone
        lore.add_many([Draft(text=f"rota note {i}") for i in range(30)])
        assert lore.pending_search_index() == 0
        lore.prepare_search()
        assert not (tmp_path / "small.db.fts").exists()


def test_cli_ingest_of_a_big_store_indexes_for_search_with_progress(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from lore.cli import cli

    source = tmp_path / "chat.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for i in range(20_050):  # just above the default 20,000 that FTS5 ranks alone
            handle.write(json.dumps({"session": f"s{i // 50}", "actor": "ann",
                                     "text": f"standup note {i} about the pottery kiln"}) + "\n")
    db = tmp_path / "lore.db"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--db", str(db), "--embedder", "hash", "ingest", str(source), "--no-redact"]
    )
    assert result.exit_code == 0, result.output
    assert "indexing full text for search" in result.stderr
    assert (tmp_path / "lore.db.fts").is_dir()
    found = runner.invoke(
        cli, ["--db", str(db), "search", "pottery note 20049", "--mode", "fts", "--json"]
    )
    assert found.exit_code == 0, found.output
    assert "indexing full text" not in found.stderr  # already done at ingest
    assert json.loads(found.stdout)["hits"][0]["record"]["text"].startswith("standup note 20049")


def _fts_texts(lore: Lore, query: str) -> list[str]:
    return sorted(h.record.text for h in lore.search(query, k=100, mode="fts"))


def _agree(path: Path, *queries: str) -> None:
    """The ranked index and FTS5 find the same records, in a fresh process's view too."""
    with _open(path) as ranked, _open(path, FTS5) as fts5:
        for query in queries:
            assert _fts_texts(ranked, query) == _fts_texts(fts5, query), query


def test_a_record_shown_again_before_newer_ones_are_indexed_loses_nothing(tmp_path: Path) -> None:
    path, doc = tmp_path / "lore.db", tmp_path / "runbook.md"
    with _open(path) as lore:
        lore.add_many([Draft(text=f"lunch order {i}") for i in range(10)])
        assert lore.search("lunch", k=1, mode="fts")  # the index is built
        lore.add_many([Draft(text=f"kayak trip {i}") for i in range(10)])  # not yet indexed
        doc.write_text("# Runbook\n\nDeploys on Tuesdays.\n", encoding="utf-8")
        lore.ingest(doc)
        doc.write_text("# Runbook\n\nDeploys on Thursdays.\n", encoding="utf-8")
        lore.ingest(doc)
        doc.write_text("# Runbook\n\nDeploys on Tuesdays.\n", encoding="utf-8")
        lore.ingest(doc)  # the first chunk is shown again, above the index's watermark
        assert len(lore.search("kayak", k=50, mode="fts")) == 10
    _agree(path, "kayak", "deploys Tuesdays Thursdays", "lunch")


def test_changes_made_while_the_index_is_busy_are_applied_later(tmp_path: Path) -> None:
    path, doc = tmp_path / "lore.db", tmp_path / "runbook.md"
    with _open(path) as lore:
        lore.add_many([Draft(text=f"lunch order {i}") for i in range(10)])
        doc.write_text("# Runbook\n\nDeploys on Tuesdays.\n", encoding="utf-8")
        lore.ingest(doc)
        secret = lore.add("the aardvark project codename").record_ids[0]
        assert lore.search("aardvark", k=1, mode="fts")
        holder = lore._new_ranked(tmp_path / "lore.db.fts")._writer()  # another writer
        try:
            doc.write_text("# Runbook\n\nDeploys on Thursdays.\n", encoding="utf-8")
            lore.ingest(doc)  # hides the Tuesday chunk
            lore.forget([secret])  # the newest record: its rowid is handed out again
            lore.add("pottery kiln booked")
            assert _fts_texts(lore, "pottery") == ["pottery kiln booked"]  # FTS5 answers
        finally:
            holder.rollback()
            holder.wait_merging_threads()
        assert lore.search("aardvark", k=5, mode="fts") == []
        assert _fts_texts(lore, "pottery") == ["pottery kiln booked"]
    with _open(path, FTS5) as lore:
        assert lore.store.ranked_pending(0)[1] == []  # applied, then cleared on close
    _agree(path, "aardvark", "pottery", "deploys Tuesdays Thursdays", "lunch")


def test_forgetting_the_newest_record_then_adding_one(tmp_path: Path) -> None:
    with _open(tmp_path / "lore.db") as lore:
        lore.add_many([Draft(text=f"lunch order {i}") for i in range(10)])
        newest = lore.add("the aardvark codename").record_ids[0]
        assert lore.search("aardvark", k=1, mode="fts")
        lore.forget([newest])
        lore.add("pottery kiln booked")  # the same rowid as the forgotten record
        assert lore.search("aardvark", k=5, mode="fts") == []
        assert _fts_texts(lore, "pottery") == ["pottery kiln booked"]


def _fill_small(lore: Lore) -> None:
    """12 records, 3 about kayaks: few enough for FTS5's bounded path to find them all."""
    lore.add_many([Draft(text=f"lunch order {i}") for i in range(9)])
    lore.add_many([Draft(text=f"kayak rental {i}") for i in range(3)])


def test_an_index_deleted_while_open_falls_back_then_rebuilds(tmp_path: Path) -> None:
    import shutil

    with _open(tmp_path / "lore.db") as lore:
        _fill_small(lore)
        assert len(lore.search("kayak", k=50, mode="fts")) == 3
        shutil.rmtree(tmp_path / "lore.db.fts")
        lore.add("kayak paddles ordered")
        assert len(lore.search("kayak", k=50, mode="fts")) == 4  # FTS5, then reopened
        assert len(lore.search("kayak", k=50, mode="fts")) == 4
        assert lore._ranked is not None and len(lore._ranked) == 13


def test_something_else_at_the_index_path_is_left_alone(tmp_path: Path) -> None:
    for kind in ("file", "folder"):
        path = tmp_path / kind / "lore.db"
        path.parent.mkdir()
        other = tmp_path / kind / "lore.db.fts"
        if kind == "file":
            other.write_text("not an index")
        else:
            other.mkdir()
            (other / "notes.txt").write_text("somebody's notes")
        with _open(path) as lore:
            _fill_small(lore)
            assert len(lore.search("kayak", k=50, mode="fts")) == 3  # FTS5 answers
        assert other.is_file() if kind == "file" else (other / "notes.txt").exists()


def test_opening_a_caught_up_store_writes_nothing_to_the_index(tmp_path: Path) -> None:
    path = tmp_path / "lore.db"
    with _open(path) as lore:
        lore.add_many([Draft(text=f"kayak rental {i}") for i in range(12)])
        (tmp_path / "docs").mkdir()
        doc = tmp_path / "docs" / "notes.md"
        doc.write_text("# Notes\n\nKayak club on Fridays.\n", encoding="utf-8")
        lore.ingest(tmp_path / "docs")
        doc.unlink()
        lore.ingest(tmp_path / "docs")  # the newest record is hidden as removed
        assert len(lore.search("kayak", k=50, mode="fts")) == 12
    meta = tmp_path / "lore.db.fts" / "meta.json"
    before = meta.stat().st_mtime_ns
    for _ in range(2):
        with _open(path) as lore:
            assert len(lore.search("kayak", k=50, mode="fts")) == 12
    assert meta.stat().st_mtime_ns == before


def test_a_small_store_keeps_no_visibility_log(tmp_path: Path) -> None:
    with _open(tmp_path / "lore.db", FTS5) as lore:
        ids = lore.add_many([Draft(text=f"lunch order {i}") for i in range(5)]).record_ids
        lore.forget(ids[:2])
        assert len(lore.store.ranked_pending(0)[1]) == 2
    with _open(tmp_path / "lore.db", FTS5) as lore:
        assert lore.store.ranked_pending(0) == (0, [])
    with _open(tmp_path / "lore.db") as lore:  # big: its index keeps the log until applied
        lore.add_many([Draft(text=f"kayak trip {i}") for i in range(5)])
        lore.search("lunch", k=5, mode="fts")
        assert (tmp_path / "lore.db.fts").is_dir()
        lore.forget(ids[2:3])
    with _open(tmp_path / "lore.db", FTS5) as lore:
        assert lore.store.ranked_pending(0)[1] == [3]


def test_a_catch_up_never_reads_an_open_transaction(tmp_path: Path) -> None:
    path = tmp_path / "lore.db"
    with _open(path) as lore:
        _fill_small(lore)
        assert len(lore.search("kayak", k=50, mode="fts")) == 3
        with _open(path, FTS5) as other:
            other.add("kayak paddles ordered")
        lore.store.db.execute("BEGIN")  # a transaction open on this connection
        try:
            assert len(lore.search("kayak", k=50, mode="fts")) == 4  # FTS5 answers
            assert lore._ranked is not None and len(lore._ranked) == 12  # nothing read
        finally:
            lore.store.db.execute("ROLLBACK")
        # another thread's write on the same connection
        with _held_by_another_thread(lore.store.transaction):
            assert len(lore._ranked) == 12
            with pytest.raises(IndexBusy, match="transaction"):
                lore._ranked.catch_up(lore.store)
        assert len(lore.search("kayak", k=50, mode="fts")) == 4
        assert len(lore._ranked) == 13


def test_a_restored_backup_is_not_searched_with_later_records(tmp_path: Path) -> None:
    import shutil

    path, backup = tmp_path / "lore.db", tmp_path / "backup.db"
    with _open(path) as lore:
        _fill_small(lore)
        assert len(lore.search("kayak", k=50, mode="fts")) == 3
    shutil.copy(path, backup)
    with _open(path) as lore:
        lore.add_many([Draft(text=f"zebra crossing {i}") for i in range(3)])
        gone = lore.search("kayak rental 0", k=1, mode="fts")[0].record.id
        lore.forget([gone])
        assert len(lore.search("zebra", k=50, mode="fts")) == 3
    for leftover in tmp_path.glob("lore.db-*"):
        leftover.unlink()
    shutil.copy(backup, path)  # back in time; the index beside it is newer
    with _open(path) as lore:
        lore.add_many([Draft(text=f"harmless note {i}") for i in range(3)])
        assert lore.search("zebra", k=5, mode="fts") == []
        assert len(lore.search("kayak", k=50, mode="fts")) == 3
    _agree(path, "zebra", "kayak", "harmless", "lunch")


def test_a_log_that_cannot_be_cleared_is_not_applied_again(tmp_path: Path) -> None:
    path = tmp_path / "lore.db"
    with _open(path) as lore:
        _fill_small(lore)
        ids = lore.add_many([Draft(text=f"zebra crossing {i}") for i in range(3)]).record_ids
        lore.forget(ids[:2])
        assert len(lore.search("zebra", k=50, mode="fts")) == 1
        meta = tmp_path / "lore.db.fts" / "meta.json"
        before = meta.stat().st_mtime_ns
        for _ in range(3):  # the log is still there, but applied: no commit per search
            assert len(lore.search("zebra", k=50, mode="fts")) == 1
        assert meta.stat().st_mtime_ns == before
        assert len(lore.store.ranked_pending(0)[1]) == 2
