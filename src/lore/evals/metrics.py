"""Retrieval metrics: recall@k over distinct items, nDCG@k with binary or graded relevance."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence


def distinct(items: Iterable[str]) -> list[str]:
    """Items in order of first appearance."""
    return list(dict.fromkeys(items))


def recall_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Share of `relevant` found among the first `k` distinct ranked items."""
    if not relevant:
        return 0.0
    return len(relevant.intersection(distinct(ranked)[:k])) / len(relevant)


def recall_all_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """1.0 when every relevant item is among the first `k` distinct items (LongMemEval)."""
    return float(bool(relevant) and relevant.issubset(distinct(ranked)[:k]))


def ndcg_at(ranked: Sequence[str], relevance: Mapping[str, float], k: int) -> float:
    """Normalised discounted cumulative gain of the first `k` distinct items."""
    gains = [relevance.get(item, 0.0) for item in distinct(ranked)[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(relevance.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
