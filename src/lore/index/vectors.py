"""Vector indexes: the contract, exact search, and the registry that picks a backend by name."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import ConfigError

_REGISTRY: dict[str, str] = {
    "exact": "lore.index.vectors:ExactIndex",
    "usearch": "lore.index.ann:UsearchIndex",
}


class VectorIndex(ABC):
    """Cosine search over unit vectors keyed by record rowid."""

    name: ClassVar[str]
    persistent: ClassVar[bool] = False

    def __init__(self, dim: int, path: Path | None = None) -> None:
        self.dim = dim
        self.path = path

    @abstractmethod
    def add(self, rowids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors (rowids ascending and above any already added)."""

    @abstractmethod
    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best `k` (rowids, cosine scores), best first, restricted to sorted `allowed` rowids."""

    @abstractmethod
    def remove(self, rowids: np.ndarray) -> None:
        """Forget vectors."""

    @abstractmethod
    def __len__(self) -> int: ...

    def watermark(self) -> int:
        """The highest rowid this index has seen (a persisted index catches up from here)."""
        return 0

    def save(self) -> None:  # noqa: B027 - optional: only persistent indexes override it
        """Persist beside the database (no-op for in-memory indexes)."""


def get_vector_index(name: str, dim: int, path: Path | None = None) -> VectorIndex:
    target = _REGISTRY.get(name)
    if target is None:
        raise ConfigError(
            f"unknown vector index {name!r}", hint=f"choose one of {', '.join(sorted(_REGISTRY))}"
        )
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(dim, path)  # type: ignore[no-any-return]


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` largest scores, largest first."""
    if k <= 0 or scores.size == 0:
        return np.zeros(0, dtype=np.int64)
    if k < scores.size:
        part = np.argpartition(-scores, k - 1)[:k]
        return part[np.argsort(-scores[part], kind="stable")]
    return np.argsort(-scores, kind="stable")


class ExactIndex(VectorIndex):
    """Brute-force cosine over an in-memory float32 matrix: exact, fine up to ~100k vectors."""

    name = "exact"

    def __init__(self, dim: int, path: Path | None = None) -> None:
        super().__init__(dim, path)
        self._rowids = np.zeros(0, dtype=np.int64)
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._alive = np.zeros(0, dtype=bool)

    def _consolidate(self) -> None:
        if self._pending:
            self._rowids = np.concatenate([self._rowids, *(r for r, _ in self._pending)])
            self._matrix = np.concatenate([self._matrix, *(v for _, v in self._pending)])
            extra = sum(len(r) for r, _ in self._pending)
            self._alive = np.concatenate([self._alive, np.ones(extra, dtype=bool)])
            self._pending = []

    def add(self, rowids: np.ndarray, vectors: np.ndarray) -> None:
        if len(rowids):
            self._pending.append(
                (np.asarray(rowids, dtype=np.int64), np.asarray(vectors, dtype=np.float32))
            )

    def remove(self, rowids: np.ndarray) -> None:
        self._consolidate()
        pos = np.searchsorted(self._rowids, rowids)
        ok = (pos < len(self._rowids)) & (
            self._rowids[np.minimum(pos, len(self._rowids) - 1)] == rowids
        )
        self._alive[pos[ok]] = False

    def __len__(self) -> int:
        self._consolidate()
        return int(self._alive.sum())

    def watermark(self) -> int:
        self._consolidate()
        return int(self._rowids[-1]) if len(self._rowids) else 0

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        self._consolidate()
        if allowed is None:
            positions = np.flatnonzero(self._alive) if not self._alive.all() else None
        else:
            allowed = np.asarray(allowed, dtype=np.int64)
            pos = np.searchsorted(self._rowids, allowed)
            inside = pos < len(self._rowids)
            pos, wanted = pos[inside], allowed[inside]
            positions = pos[self._rowids[pos] == wanted]
            positions = positions[self._alive[positions]]
        matrix = self._matrix if positions is None else self._matrix[positions]
        scores = matrix @ np.asarray(query, dtype=np.float32)
        best = top_k(scores, k)
        rows = best if positions is None else positions[best]
        return self._rowids[rows], scores[best]
