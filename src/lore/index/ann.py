"""Approximate cosine search with usearch's HNSW graph, persisted beside the database."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

with contextlib.suppress(ImportError):
    # usearch's wheel links libstdc++ statically and exports its unique symbols; loaded first,
    # it makes a later `import onnxruntime` (the MiniLM embedder) segfault in std::codecvt.
    import onnxruntime  # noqa: F401
from usearch.index import Index, ScalarKind
from usearch.index import search as brute_force

from ..errors import StorageError
from .vectors import VectorIndex

# HNSW (Malkov & Yashunin, 2016, arXiv:1603.09320). On clustered 384-d vectors recall@10
# against exact search was 0.89 at 1M with a search expansion of 128 and 0.96 with 384, at
# ~2 ms a query (docs/benchmarks.md, Speed); i8 quantisation cost recall, so vectors are f16.
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 384
DTYPE = "f16"
# Filtered search scores the allowed vectors exactly when there are few of them: fetching
# 20k vectors costs ~15 ms, while oversampled ANN would need k / fraction candidates.
EXACT_LIMIT = 20_000
EXACT_FRACTION = 0.05
OVERSAMPLE = 1.5
FORMAT = 1


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)


class UsearchIndex(VectorIndex):
    """HNSW over f16 vectors keyed by rowid; memory-mapped when opened, loaded when changed.

    Beside the index file a small JSON sidecar holds the watermark and removals not yet
    saved, so a crash after `remove` cannot bring forgotten records back.
    """

    name = "usearch"
    persistent = True

    def __init__(self, dim: int, path: Path | None = None) -> None:
        super().__init__(dim, path)
        self._index = self._new_index()
        self._watermark = 0
        self._saved_watermark = 0  # what the files on disk hold
        self._viewed = False
        self._dirty = False
        self._pending_removals: set[int] = set()
        if path is not None and path.exists():
            self._open(path)

    # -- persistence ----------------------------------------------------------
    @property
    def sidecar(self) -> Path:
        assert self.path is not None
        return self.path.with_name(self.path.name + ".json")

    def _new_index(self) -> Any:
        return Index(
            ndim=self.dim,
            metric="cos",
            dtype=DTYPE,
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )

    def _open(self, path: Path) -> None:
        try:
            meta = json.loads(self.sidecar.read_text())
        except (OSError, ValueError):
            return  # no trustworthy watermark: rebuild from the store, overwrite on save
        if meta.get("format") != FORMAT or meta.get("dim") != self.dim:
            return
        try:
            self._index.view(str(path))
        except (RuntimeError, ValueError):
            self._index = self._new_index()
            return
        self._viewed = True
        self._watermark = self._saved_watermark = int(meta.get("watermark", 0))
        pending = [int(k) for k in meta.get("removed", [])]
        if pending:
            self.remove(np.asarray(pending, dtype=np.int64))

    def _mutable(self) -> Any:
        """The index, loaded into memory first if it is a read-only memory map."""
        if self._viewed:
            assert self.path is not None
            self._index.load(str(self.path))  # a viewed index cannot change (and crashes on remove)
            self._viewed = False
        return self._index

    def save(self) -> None:
        """Write the index and then its sidecar, each atomically; a no-op when nothing changed."""
        if self.path is None or not self._dirty:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self._index.save(str(tmp))
            os.replace(tmp, self.path)
            # Index first: a crash between the two renames leaves an older watermark, and
            # catching up again from it is harmless because `add` skips keys it holds.
            self._pending_removals.clear()
            self._write_sidecar(self._watermark)
            self._saved_watermark = self._watermark
        except OSError as exc:
            raise StorageError(f"cannot save vector index {self.path}: {exc}") from exc
        self._dirty = False

    def _write_sidecar(self, watermark: int) -> None:
        meta = {
            "format": FORMAT,
            "dim": self.dim,
            "dtype": DTYPE,
            "watermark": watermark,
            "removed": sorted(self._pending_removals),
        }
        tmp = self.sidecar.with_name(self.sidecar.name + ".tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, self.sidecar)

    # -- changes --------------------------------------------------------------
    def add(self, rowids: np.ndarray, vectors: np.ndarray) -> None:
        keys = np.asarray(rowids, dtype=np.int64)
        if not len(keys):
            return
        data = np.asarray(vectors, dtype=np.float32)
        index = self._mutable()
        fresh = ~np.asarray(index.contains(keys), dtype=bool)
        if not fresh.all():
            keys, data = keys[fresh], data[fresh]
        if len(keys):
            index.add(keys, data)
            self._watermark = max(self._watermark, int(keys.max()))
            self._dirty = True

    def remove(self, rowids: np.ndarray) -> None:
        keys = np.asarray(rowids, dtype=np.int64)
        if not len(keys):
            return
        self._mutable().remove(keys)
        self._dirty = True
        if self._watermark in set(keys.tolist()):
            # SQLite reuses the largest rowid once it is deleted, so the watermark must drop too.
            held = np.asarray(self._index.keys)
            self._watermark = int(held.max()) if len(held) else 0
        if self.path is not None:
            # Rows added since the last save are not in the file: keep its watermark for them.
            self._pending_removals.update(int(k) for k in keys)
            self._write_sidecar(min(self._watermark, self._saved_watermark))

    def __len__(self) -> int:
        return len(self._index)

    def watermark(self) -> int:
        return self._watermark

    # -- search ---------------------------------------------------------------
    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        size = len(self._index)
        if k <= 0 or size == 0:
            return _empty()
        q = np.asarray(query, dtype=np.float32)
        if allowed is None:
            return self._ann(q, min(k, size))
        allowed = np.asarray(allowed, dtype=np.int64)
        if len(allowed) <= max(EXACT_LIMIT, EXACT_FRACTION * size):
            return self._exact(q, k, allowed)
        return self._filtered_ann(q, k, allowed, size)

    def _ann(self, q: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        matches = self._index.search(q, count)
        keys = np.asarray(matches.keys, dtype=np.int64)
        return keys, (1.0 - np.asarray(matches.distances, dtype=np.float32))

    def _filtered_ann(
        self, q: np.ndarray, k: int, allowed: np.ndarray, size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """ANN with oversampling, dropping disallowed keys and doubling until `k` survive."""
        count = min(size, max(2 * k, int(k * OVERSAMPLE * size / len(allowed))))
        while True:
            keys, scores = self._ann(q, count)
            pos = np.minimum(np.searchsorted(allowed, keys), len(allowed) - 1)
            keep = allowed[pos] == keys
            if keep.sum() >= k:
                return keys[keep][:k], scores[keep][:k]
            if count >= size or len(keys) < count:
                return self._exact(q, k, allowed)  # the graph is exhausted: score every allowed one
            count = min(size, count * 2)

    def _exact(self, q: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys = allowed[np.asarray(self._index.contains(allowed), dtype=bool)]
        if not len(keys):
            return _empty()
        # usearch's SIMD kernels score f16 directly; converting to float32 first costs more.
        matches = brute_force(
            self._vectors_of(keys), q.astype(np.float16), min(k, len(keys)), "cos",
            exact=True, threads=1,
        )
        best = np.asarray(matches.keys, dtype=np.int64)
        return keys[best], (1.0 - np.asarray(matches.distances, dtype=np.float32))

    def _vectors_of(self, keys: np.ndarray) -> np.ndarray:
        """Stored f16 vectors for `keys` (all present) as one matrix."""
        rows = self._index._compiled.get_many(keys.astype(np.uint64), ScalarKind.F16)
        base = rows[0].base
        # usearch fills one matrix and hands out a view of each row; use that matrix when it
        # is exactly that, and stack the rows otherwise.
        if isinstance(base, np.ndarray) and base.shape == (len(keys), self.dim):
            return base.view(np.float16)
        return np.stack([np.asarray(r).view(np.float16) for r in rows])
