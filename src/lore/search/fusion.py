"""Rank fusion strategies: small named classes chosen from a registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar

from ..errors import ConfigError

Ranking = Sequence[tuple[int, float]]  # (rowid, retriever score), best first


class Fusion(ABC):
    """Combines several rankings of the same items into one score per item."""

    name: ClassVar[str]

    @abstractmethod
    def fuse(
        self, rankings: Mapping[str, Ranking], weights: Mapping[str, float]
    ) -> dict[int, float]:
        """A fused score per rowid (higher is better)."""


class ReciprocalRankFusion(Fusion):
    """RRF: score = sum of w / (k + rank). Cormack, Clarke and Buettcher, SIGIR 2009 (k = 60)."""

    name = "rrf"

    def __init__(self, k: int = 60) -> None:
        self.k = k

    def fuse(
        self, rankings: Mapping[str, Ranking], weights: Mapping[str, float]
    ) -> dict[int, float]:
        scores: dict[int, float] = {}
        for name, ranking in rankings.items():
            weight = weights.get(name, 1.0)
            for rank, (rowid, _) in enumerate(ranking, start=1):
                scores[rowid] = scores.get(rowid, 0.0) + weight / (self.k + rank)
        return scores


class ScoreFusion(Fusion):
    """Convex combination of min-max normalised scores (Bruch et al., TOIS 2023)."""

    name = "score"

    def fuse(
        self, rankings: Mapping[str, Ranking], weights: Mapping[str, float]
    ) -> dict[int, float]:
        scores: dict[int, float] = {}
        for name, ranking in rankings.items():
            if not ranking:
                continue
            values = [s for _, s in ranking]
            low, high = min(values), max(values)
            span = (high - low) or 1.0
            weight = weights.get(name, 1.0)
            for rowid, score in ranking:
                scores[rowid] = scores.get(rowid, 0.0) + weight * (score - low) / span
        return scores


class ZScoreFusion(Fusion):
    """Weighted sum of z-score normalised scores (Montague and Aslam, CIKM 2001).

    Unlike RRF it keeps how far ahead a hit is, so a retriever that is unsure (flat scores)
    moves the ranking less than one that is sure. A hit one retriever did not return scores
    that retriever's lowest z-score: it ranked below everything the retriever did return.
    Compared with RRF and min-max fusion in docs/benchmarks.md.
    """

    name = "zscore"

    def fuse(
        self, rankings: Mapping[str, Ranking], weights: Mapping[str, float]
    ) -> dict[int, float]:
        normalised: list[tuple[float, dict[int, float], float]] = []
        for name, ranking in rankings.items():
            if not ranking:
                continue
            values = [s for _, s in ranking]
            mean = sum(values) / len(values)
            spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
            if spread <= 1e-9 * max(1.0, abs(mean)):
                z = dict.fromkeys((rowid for rowid, _ in ranking), 0.0)  # no signal, only noise
            else:
                z = {rowid: (score - mean) / spread for rowid, score in ranking}
            normalised.append((weights.get(name, 1.0), z, min(z.values())))
        found = {rowid for _, z, _ in normalised for rowid in z}
        return {
            rowid: sum(weight * z.get(rowid, floor) for weight, z, floor in normalised)
            for rowid in found
        }


FUSIONS: dict[str, type[Fusion]] = {
    cls.name: cls for cls in (ReciprocalRankFusion, ScoreFusion, ZScoreFusion)
}


def get_fusion(name: str) -> Fusion:
    try:
        return FUSIONS[name]()
    except KeyError:
        raise ConfigError(
            f"unknown fusion {name!r}", hint=f"choose one of {', '.join(sorted(FUSIONS))}"
        ) from None
