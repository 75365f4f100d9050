"""The usearch HNSW index: recall against exact search, filters, persistence, engine use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lore import Lore, engine
from lore.index import ann
from lore.index.ann import UsearchIndex
from lore.index.vectors import ExactIndex

DIM = 384
VectorIndexPair = tuple["UsearchIndex", "ExactIndex"]
Chunk = tuple[np.ndarray, np.ndarray]


def clustered(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    """Unit vectors around 64 topics x 16 subtopics, as sentence embeddings roughly cluster."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((64, 1, dim))
    subtopics = rng.standard_normal((64, 16, dim))
    topics /= np.linalg.norm(topics, axis=2, keepdims=True)
    subtopics /= np.linalg.norm(subtopics, axis=2, keepdims=True)
    centers = (topics + 0.5 * subtopics).reshape(-1, dim)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    noise = rng.standard_normal((n, dim)) / np.sqrt(dim)
    points = centers[rng.integers(0, len(centers), n)] + noise
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32)


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vectors = clustered(20_050)
    rowids = np.arange(1, 20_001, dtype=np.int64) * 3  # keys need not be dense
    return rowids, vectors[:20_000], vectors[20_000:]


@pytest.fixture(scope="module")
def built(corpus: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[UsearchIndex, ExactIndex]:
    rowids, vectors, _ = corpus
    approximate, exact = UsearchIndex(DIM), ExactIndex(DIM)
    for start in range(0, len(rowids), 5_000):
        approximate.add(rowids[start : start + 5_000], vectors[start : start + 5_000])
        exact.add(rowids[start : start + 5_000], vectors[start : start + 5_000])
    return approximate, exact


def recall(
    pair: VectorIndexPair, queries: np.ndarray, k: int, allowed: np.ndarray | None
) -> float:
    index, exact = pair
    found = 0
    for query in queries:
        want = set(exact.search(query, k, allowed)[0].tolist())
        got = index.search(query, k, allowed)[0].tolist()
        assert len(got) == len(set(got)) == min(k, len(want))
        found += len(want.intersection(got))
    return found / (k * len(queries))


def test_recall_at_10_against_exact(built: VectorIndexPair, corpus: tuple[np.ndarray, ...]) -> None:
    assert len(built[0]) == 20_000
    assert recall(built, corpus[2], 10, None) >= 0.95


def test_scores_are_cosines(built: VectorIndexPair, corpus: tuple[np.ndarray, ...]) -> None:
    rowids, vectors, queries = corpus
    keys, scores = built[0].search(queries[0], 5)
    expected = vectors[np.searchsorted(rowids, keys)] @ queries[0]
    assert np.allclose(scores, expected, atol=2e-3)
    assert list(scores) == sorted(scores, reverse=True)


@pytest.fixture
def force_ann_filter(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make every filter take the oversampled-ANN path instead of exact scoring."""
    monkeypatch.setattr(ann, "EXACT_LIMIT", 0)
    monkeypatch.setattr(ann, "EXACT_FRACTION", 0.0)
    yield


@pytest.mark.parametrize("share", [0.5, 0.1])
def test_filtered_ann_honours_allowed(
    built: VectorIndexPair, corpus: tuple[np.ndarray, ...], share: float, force_ann_filter: None
) -> None:
    rowids, _, queries = corpus
    picked = np.random.default_rng(1).choice(rowids, int(len(rowids) * share), replace=False)
    allowed = np.sort(picked)
    for query in queries[:10]:
        keys, _ = built[0].search(query, 10, allowed)
        assert len(keys) == 10
        assert np.isin(keys, allowed).all()
    assert recall(built, queries, 10, allowed) >= 0.9


def test_filter_with_few_allowed_is_exact(
    built: VectorIndexPair, corpus: tuple[np.ndarray, ...]
) -> None:
    rowids, _, queries = corpus
    allowed = rowids[::97].copy()
    for query in queries[:10]:
        keys, scores = built[0].search(query, 10, allowed)
        want_keys, want_scores = built[1].search(query, 10, allowed)
        assert keys.tolist() == want_keys.tolist()
        assert np.allclose(scores, want_scores, atol=2e-3)


def test_sparse_filter_widens_until_k_survive(
    built: VectorIndexPair, corpus: tuple[np.ndarray, ...], force_ann_filter: None
) -> None:
    rowids, _, queries = corpus
    allowed = np.sort(np.concatenate([rowids[:5], np.array([10**9])]))  # one key it never held
    keys, _ = built[0].search(queries[0], 10, allowed)
    assert sorted(keys.tolist()) == rowids[:5].tolist()


def test_persistence_round_trip(tmp_path: Path) -> None:
    vectors = clustered(3_000, seed=2)
    path = tmp_path / "store.db.ann"
    index = UsearchIndex(DIM, path)
    index.add(np.arange(1, 2_001), vectors[:2_000])
    before = index.search(vectors[2_500], 10)
    index.save()
    assert path.exists() and index.sidecar.exists()

    reopened = UsearchIndex(DIM, path)
    assert reopened.watermark() == 2_000 and len(reopened) == 2_000
    after = reopened.search(vectors[2_500], 10)
    assert after[0].tolist() == before[0].tolist()
    reopened.add(np.arange(2_001, 2_501), vectors[2_000:2_500])
    reopened.add(np.arange(1, 11), vectors[:10])  # keys it holds are skipped, not duplicated
    assert reopened.watermark() == 2_500 and len(reopened) == 2_500
    assert reopened.search(vectors[2_100], 1)[0].tolist() == [2_101]
    reopened.save()

    again = UsearchIndex(DIM, path)
    assert again.watermark() == 2_500 and len(again) == 2_500


def test_unchanged_index_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "store.db.ann"
    index = UsearchIndex(DIM, path)
    index.add(np.arange(1, 101), clustered(100))
    index.save()
    stamp = path.stat().st_mtime_ns
    UsearchIndex(DIM, path).save()
    assert path.stat().st_mtime_ns == stamp


def test_remove(tmp_path: Path) -> None:
    vectors = clustered(500, seed=3)
    path = tmp_path / "store.db.ann"
    index = UsearchIndex(DIM, path)
    index.add(np.arange(1, 501), vectors)
    index.save()
    index.remove(np.array([7, 500]))
    assert len(index) == 498
    assert index.watermark() == 499  # SQLite may hand out rowid 500 again
    assert 7 not in index.search(vectors[6], 10)[0].tolist()
    assert 7 not in index.search(vectors[6], 10, np.array([6, 7, 8]))[0].tolist()
    # Not saved: the sidecar still remembers the removal, so a crash cannot undo it.
    reopened = UsearchIndex(DIM, path)
    assert len(reopened) == 498 and reopened.watermark() == 499
    assert 7 not in reopened.search(vectors[6], 10)[0].tolist()


def test_removal_sidecar_does_not_claim_unsaved_additions(tmp_path: Path) -> None:
    vectors = clustered(300, seed=4)
    path = tmp_path / "store.db.ann"
    index = UsearchIndex(DIM, path)
    index.add(np.arange(1, 201), vectors[:200])
    index.save()
    reopened = UsearchIndex(DIM, path)
    reopened.add(np.arange(201, 301), vectors[200:])
    reopened.remove(np.array([5]))
    # A crash now: the file holds rows 1-200 minus row 5, so catching up must start at 200.
    after_crash = UsearchIndex(DIM, path)
    assert after_crash.watermark() == 200 and len(after_crash) == 199


def test_other_dimension_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "store.db.ann"
    index = UsearchIndex(DIM, path)
    index.add(np.arange(1, 11), clustered(10))
    index.save()
    other = UsearchIndex(64, path)
    assert len(other) == 0 and other.watermark() == 0


# -- through the engine ------------------------------------------------------
def _add(lore: Lore, start: int, count: int) -> None:
    for i in range(start, start + count):
        lore.add(f"note {i} about topic {i % 7} and item {i}", session="s", seq=i)


def test_engine_saves_and_reopens_without_rebuilding(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    with Lore.open(db, embedder="hash", vector_index="usearch") as lore:
        _add(lore, 0, 40)
        assert lore.search("topic 3", mode="vector")
    assert Path(str(db) + ".ann").exists()

    with Lore.open(db, embedder="hash", vector_index="usearch") as lore:
        _add(lore, 40, 10)  # the index is not loaded, so it misses these until the next open

    with Lore.open(db, embedder="hash", vector_index="usearch") as lore:
        seen: list[int] = []
        iter_vectors = lore.store.iter_vectors

        def spy(after_rowid: int = 0, chunk: int = 50_000) -> Iterator[Chunk]:
            seen.append(after_rowid)
            return iter_vectors(after_rowid, chunk)

        lore.store.iter_vectors = spy  # type: ignore[method-assign]
        index = lore._vectors()
        assert seen == [40]  # caught up from the saved watermark, not rebuilt
        assert isinstance(index, UsearchIndex)
        assert index.watermark() == lore.store.max_rowid() == 50 and len(index) == 50
        hits = lore.search("note 45 about topic 3 and item 45", k=1, mode="vector")
        assert hits[0].record.text == "note 45 about topic 3 and item 45"

    with Lore.open(db, embedder="hash", vector_index="usearch") as lore:
        assert lore._vectors().watermark() == 50


def test_engine_auto_switches_to_ann(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "ANN_THRESHOLD", 20)
    db = tmp_path / "lore.db"
    with Lore.open(db, embedder="hash") as lore:
        _add(lore, 0, 10)
        assert isinstance(lore._vectors(), ExactIndex)
    with Lore.open(db, embedder="hash") as lore:
        _add(lore, 10, 20)
        assert isinstance(lore._vectors(), UsearchIndex)
    with Lore.open(db, embedder="hash") as lore:
        index = lore._vectors()
        assert isinstance(index, UsearchIndex) and len(index) == 30


def test_engine_forget_reaches_a_saved_index(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    with Lore.open(db, embedder="hash", vector_index="usearch") as lore:
        _add(lore, 0, 20)
        lore.search("topic", mode="vector")
    with Lore.open(db, embedder="hash", vector_index="usearch") as lore:
        # Full-text search leaves the vector index unloaded; forget must still reach it.
        target = lore.search("note 5 about topic 5 and item 5", k=1, mode="fts")[0].record
        lore.forget([target.id])
    with Lore.open(db, embedder="hash", vector_index="usearch") as lore:
        assert len(lore._vectors()) == 19
        hits = lore.search("note 5 about topic 5 and item 5", k=20, mode="vector")
        assert target.id not in {h.record.id for h in hits}


def test_stale_index_from_another_database_is_rebuilt(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    with Lore.open(db, embedder="hash", vector_index="usearch") as lore:
        _add(lore, 0, 30)
        lore.search("topic", mode="vector")
    for leftover in tmp_path.glob("lore.db*"):
        if ".ann" not in leftover.name:
            leftover.unlink()
    with Lore.open(db, embedder="hash", vector_index="usearch") as lore:
        _add(lore, 100, 5)
        index = lore._vectors()
        assert len(index) == 5 and index.watermark() == 5
