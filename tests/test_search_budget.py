"""The shortcuts that keep search fast on big stores give the same answers where it matters."""

from __future__ import annotations

import hashlib
import re
from itertools import pairwise
from pathlib import Path

import numpy as np

from lore import Lore
from lore.index.embed.hashing import HashEmbedder
from lore.search.hybrid import SearchSettings
from lore.search.query import affordable_terms
from lore.types import Filters


def test_affordable_terms_keeps_the_rarest_within_budget() -> None:
    counts = {"common": 900, "rare": 10, "middling": 300, "scarce": 40}
    assert affordable_terms(counts, 400) == ["rare", "middling", "scarce"]
    assert affordable_terms(counts, 100) == ["rare", "scarce"]
    assert affordable_terms({"the": 5000, "of": 4000}, 100) == ["of"]  # always the rarest


def _store(path: Path, settings: SearchSettings | None = None) -> Lore:
    return Lore.open(path, embedder="hash", settings=settings)


def test_big_stores_score_only_records_with_rare_words(tmp_path: Path) -> None:
    with _store(tmp_path / "lore.db") as lore:
        for i in range(60):
            lore.add(f"weekly meeting notes number {i}", namespace="team")
        for i in range(40):
            lore.add(f"status report number {i}", namespace="team")
        lore.add("the billing deploy failed", namespace="team")
        lore.add("billing deploy status: failed twice", namespace="team")
    query = "status of the billing deploy"
    with _store(tmp_path / "lore.db") as lore:
        unbudgeted = lore.searcher.fts(query, Filters(), 100)
    with _store(tmp_path / "lore.db", SearchSettings(fts_budget=20, ranked_index=False)) as lore:
        budgeted = lore.searcher.fts(query, Filters(), 100)
        filtered = lore.searcher.fts(query, Filters(namespace="team"), 100)
        without_status = dict(lore.searcher.fts("billing deploy", Filters(), 100))
    assert len(unbudgeted) == 42  # "status" is in 40 reports
    # Only the two billing records are scored, and "status" still counts, exactly.
    assert [r for r, _ in budgeted] == [r for r, _ in filtered] == [r for r, _ in unbudgeted[:2]]
    assert np.allclose([s for _, s in budgeted], [s for _, s in unbudgeted[:2]])
    assert dict(budgeted)[102] > without_status[102]


def test_budget_scores_the_newest_matches_of_a_too_common_word(tmp_path: Path) -> None:
    with _store(tmp_path / "lore.db", SearchSettings(fts_budget=10, ranked_index=False)) as lore:
        for i in range(40):
            lore.add(f"status update {i}")
        hits = lore.searcher.fts("status", Filters(), 100)
        assert len(hits) == 10
        assert {r for r, _ in hits} == set(range(31, 41))


def test_filtered_rowids_follow_new_records(tmp_path: Path) -> None:
    with _store(tmp_path / "lore.db") as lore:
        lore.add("first note", namespace="a")
        lore.add("other note", namespace="b")
        scope = Filters(namespace="a")
        assert lore.store.filtered_rowids(scope).tolist() == [1]
        lore.add("second note", namespace="a")
        assert lore.store.filtered_rowids(scope).tolist() == [1, 3]
        with _store(tmp_path / "lore.db") as other:  # another connection commits
            other.add("third note", namespace="a")
        assert lore.store.filtered_rowids(scope).tolist() == [1, 3, 4]
        assert "third note" in [h.record.text for h in lore.search("third", namespace="a")]


def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


def _pair_hash(left: int, right: int) -> int:
    """splitmix64's finaliser over left * golden + right, in plain integers."""
    mask = (1 << 64) - 1
    value = (left * 0x9E3779B97F4A7C15 + right) & mask
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & mask
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & mask
    return value ^ (value >> 31)


def test_hash_embedder_matches_its_definition() -> None:
    """Batching and caching must not change a single vector (stored ones stay comparable):
    each lower-cased word and each pair of neighbouring words adds +1 or -1 (the hash's top
    bit) to the bucket its hash modulo dim names."""
    texts = ["The deploy failed, again!", "", "¡Olé! naïve café", "a a a b", "x" * 50, "one"]
    for dim in (8, 256):
        embedder = HashEmbedder(dim)
        expected = np.zeros((len(texts), dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [_word_hash(w) for w in re.findall(r"\w+", text.lower())]
            for value in words + [_pair_hash(a, b) for a, b in pairwise(words)]:
                expected[row, value % dim] += 1.0 if value >> 63 else -1.0
        assert np.array_equal(embedder.embed_batch(texts), expected)
        assert np.array_equal(embedder.embed_batch(texts), expected)  # from the cache
        alone = np.stack([embedder.embed_batch([text])[0] for text in texts])
        assert np.array_equal(alone, expected)  # a text's vector does not depend on its batch


def _chat_store(path: Path, settings: SearchSettings | None = None) -> Lore:
    from lore.types import Draft

    lore = _store(path, settings)
    words = ["billing", "deploy", "status", "pottery", "kayak", "lunch", "invoice", "rollback"]
    drafts = []
    for i in range(240):
        picked = [words[(i * 7 + j * 3) % len(words)] for j in range(1 + i % 4)]
        drafts.append(
            Draft(
                text=" ".join(picked) + f" note {i}",
                actor="ann" if i % 2 else "bob",
                session_id=f"s{i // 12}",
                seq=i % 12,
            )
        )
    lore.add_many(drafts, namespace="ops")
    lore.add_many(drafts[:24], namespace="other")  # the same session ids in another namespace
    return lore


def test_session_evidence_sums_the_best_pool_turns_of_each_session(tmp_path: Path) -> None:
    # A small store looks up every turn; a big one fewer, through FTS5 or the ranked index.
    for budget, ranked in ((20_000, False), (40, False), (40, True)):
        settings = SearchSettings(fts_budget=budget, ranked_index=ranked)
        with _chat_store(tmp_path / f"lore-{budget}-{ranked}.db", settings) as lore:
            _check_session_evidence(lore)


def _check_session_evidence(lore: Lore) -> None:
    searcher, store = lore.searcher, lore.store
    for query in ["billing deploy status", "pottery kayak lunch"]:
        pool = searcher.fts(query, Filters(), 1000)
        candidates = {"fts": pool[:5], "vector": searcher.vector(query, Filters(), 20)}
        sessions = store.sessions_of([rowid for rowid, _ in pool])
        by_session: dict[tuple[str, str], list[float]] = {}
        for rowid, score in pool:
            if rowid in sessions:
                by_session.setdefault(sessions[rowid], []).append(score)
        wanted = {rowid for ranking in candidates.values() for rowid, _ in ranking}
        sessions.update(store.sessions_of(list(wanted)))
        expected = sorted(
            (
                (rowid, sum(sorted(by_session[sessions[rowid]])[-3:]))
                for rowid in wanted
                if sessions.get(rowid) in by_session
            ),
            key=lambda item: (-item[1], item[0]),
        )
        assert expected
        assert searcher.session_evidence(pool, candidates) == expected
