"""Hybrid retrieval: BM25 and dense cosine, each filtered before top-k, then fused and explained."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from ..index.vectors import VectorIndex
from ..store.sqlite import SQLiteStore, is_unfiltered
from ..types import Filters, Query, RetrieverHit, to_epoch
from .fusion import Fusion, get_fusion
from .query import fts_match
from .timeparse import find_time_spans


@dataclass(frozen=True)
class SearchSettings:
    """Tunable retrieval settings; the defaults are the ones measured in docs/benchmarks.md."""

    candidates: int = 100
    fusion: str = "zscore"
    weights: dict[str, float] = field(default_factory=lambda: {"fts": 1.0, "vector": 1.0})
    # BM25 weight of a record's own text and of its index context (speaker, neighbouring turns).
    fts_column_weights: tuple[float, float] = (1.0, 0.5)
    # A record inside a time span the query names ("on 8 May, 2023") has its score scaled by
    # (1 + time_boost); `time_slack_days` widens the span since sources date loosely.
    time_boost: float = 1.0
    time_slack_days: float = 2.0


@dataclass(frozen=True, slots=True)
class Scored:
    """A fused candidate before its record is loaded."""

    rowid: int
    score: float
    why: dict[str, RetrieverHit]


class HybridSearcher:
    """Runs the retrievers a query asks for and fuses their rankings."""

    def __init__(
        self,
        store: SQLiteStore,
        index: Callable[[], VectorIndex],
        embed_query: Callable[[str], np.ndarray],
        settings: SearchSettings | None = None,
    ) -> None:
        self.store = store
        self._index = index
        self._embed_query = embed_query
        self.settings = settings or SearchSettings()
        self.fusion: Fusion = get_fusion(self.settings.fusion)

    def _boost_named_times(
        self, text: str, fused: dict[int, float], explained: dict[int, dict[str, RetrieverHit]]
    ) -> None:
        """Scale up candidates that occurred within a time span the query names."""
        spans, _ = find_time_spans(text)
        if not spans or not fused or not self.settings.time_boost:
            return
        slack = timedelta(days=self.settings.time_slack_days)
        windows = [(to_epoch(s.start - slack), to_epoch(s.end + slack)) for s in spans]
        times = self.store.occurred_at_of(list(fused))
        inside = [
            rowid
            for rowid, moment in times.items()
            if moment is not None and any(lo <= moment < hi for lo, hi in windows)  # type: ignore[operator]
        ]
        factor = 1.0 + self.settings.time_boost
        # Scale the distance above the weakest candidate, so the boost works for any fusion's
        # score range (z-scores can be negative).
        floor = min(fused.values())
        for rank, rowid in enumerate(sorted(inside, key=lambda r: -fused[r]), start=1):
            fused[rowid] = floor + (fused[rowid] - floor) * factor
            explained[rowid]["time"] = RetrieverHit(rank, factor)

    def fts(self, text: str, filters: Filters, limit: int) -> list[tuple[int, float]]:
        match = fts_match(text)
        if match is None:
            return []
        return self.store.fts_search(match, filters, limit, self.settings.fts_column_weights)

    def vector(self, text: str, filters: Filters, limit: int) -> list[tuple[int, float]]:
        if not text.strip():
            return []
        index = self._index()
        if len(index) == 0:
            return []
        allowed = None if is_unfiltered(filters) else self.store.filtered_rowids(filters)
        if allowed is not None and len(allowed) == 0:
            return []
        rowids, scores = index.search(self._embed_query(text), limit, allowed)
        return [(int(r), float(s)) for r, s in zip(rowids, scores, strict=True)]

    def rankings(self, query: Query, limit: int) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = {}
        if query.mode in ("hybrid", "fts"):
            out["fts"] = self.fts(query.text, query.filters, limit)
        if query.mode in ("hybrid", "vector"):
            out["vector"] = self.vector(query.text, query.filters, limit)
        return out

    def search(self, query: Query) -> list[Scored]:
        limit = max(self.settings.candidates, query.k)
        rankings = self.rankings(query, limit)
        if len(rankings) == 1:
            ((name, ranking),) = rankings.items()
            fused = {rowid: score for rowid, score in ranking}
        else:
            fused = self.fusion.fuse(rankings, self.settings.weights)
        explained: dict[int, dict[str, RetrieverHit]] = {rowid: {} for rowid in fused}
        for name, ranking in rankings.items():
            for rank, (rowid, score) in enumerate(ranking, start=1):
                explained[rowid][name] = RetrieverHit(rank, round(score, 6))
        self._boost_named_times(query.text, fused, explained)
        best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[: query.k]
        return [Scored(rowid, score, explained[rowid]) for rowid, score in best]
