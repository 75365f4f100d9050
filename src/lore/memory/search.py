"""Hybrid search over memories: BM25 on their text and exact cosine on their vectors, fused."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..search.fusion import get_fusion
from ..search.query import fts_match
from ..types import MemoryHit, RetrieverHit
from .store import MemoryFilters, MemoryStore

CANDIDATES = 50


def search_memories(
    memories: MemoryStore,
    text: str,
    k: int,
    filters: MemoryFilters,
    embed_query: Callable[[str], np.ndarray],
    *,
    fusion: str = "rrf",
) -> list[MemoryHit]:
    """The `k` best memories for `text` within `filters` (current ones, or as of a date)."""
    limit = max(k, CANDIDATES)
    rankings: dict[str, list[tuple[int, float]]] = {}
    if (match := fts_match(text)) is not None:
        rankings["fts"] = memories.fts(match, filters, limit)
    rowids, vectors = memories.vectors(filters)
    if len(rowids) and text.strip():
        scores = vectors @ np.asarray(embed_query(text), dtype=np.float32)
        order = np.argsort(-scores, kind="stable")[:limit]
        rankings["vector"] = [(int(rowids[i]), float(scores[i])) for i in order]
    rankings = {name: ranking for name, ranking in rankings.items() if ranking}
    if not rankings:
        return []
    # RRF: memory BM25 and cosine scores live on unrelated scales (Cormack et al. 2009).
    fused = get_fusion(fusion).fuse(rankings, {})
    explained: dict[int, dict[str, RetrieverHit]] = {rowid: {} for rowid in fused}
    for name, ranking in rankings.items():
        for rank, (rowid, score) in enumerate(ranking, start=1):
            explained[rowid][name] = RetrieverHit(rank, round(score, 6))
    best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
    found = memories.by_rowid([rowid for rowid, _ in best])
    return [
        MemoryHit(found[rowid], round(score, 6), explained[rowid])
        for rowid, score in best
        if rowid in found
    ]
