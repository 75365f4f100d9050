"""Hybrid retrieval: BM25 and dense cosine, each filtered before top-k, then fused and explained."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from ..index.lexical import LexicalIndex
from ..index.vectors import VectorIndex
from ..store.sqlite import SQLiteStore, is_unfiltered
from ..types import Filters, Query, RetrieverHit, to_epoch
from .fusion import Fusion, get_fusion
from .query import STOPWORDS, affordable_terms, match_terms, query_terms
from .timeparse import find_time_spans


@dataclass(frozen=True)
class SearchSettings:
    """Tunable retrieval settings; the defaults are the ones measured in docs/benchmarks.md."""

    candidates: int = 100
    fusion: str = "zscore"
    weights: dict[str, float] = field(
        default_factory=lambda: {"fts": 1.0, "vector": 1.0, "session": 1.0}
    )
    # Session evidence: full-text matches considered per query, and how many of a session's
    # best-matching turns make its score.
    session_pool: int = 1000
    session_top: int = 3
    # BM25 weight of a record's own text and of its index context (speaker, neighbouring turns).
    fts_column_weights: tuple[float, float] = (1.0, 0.5)
    # On a bigger store, full-text search scores about this many records, those holding the
    # query's rarest words (BM25 costs ~1 us a record; docs/benchmarks.md, Speed).
    fts_budget: int = 20_000
    # Above `fts_budget` records, rank with the Tantivy index beside the database (exact BM25
    # top-k that skips blocks which cannot make it) instead of FTS5's bounded scoring.
    ranked_index: bool = True
    # A record inside a time span the query names ("on 8 May, 2023") has its score scaled by
    # (1 + time_boost); `time_slack_days` widens the span since sources date loosely. A named
    # date is a strong clue: 4 beat 1, 2 and 3 on LoCoMo dev (8 and 10 gave the same ranking).
    time_boost: float = 4.0
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
        lexical: Callable[[], LexicalIndex | None] | None = None,
    ) -> None:
        self.store = store
        self._index = index
        self._lexical = lexical
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
        # Scale the distance above a floor just under the weakest candidate, so the boost works
        # for any fusion's score range (z-scores can be negative) and reaches the last one too.
        low, high = min(fused.values()), max(fused.values())
        floor = low - ((high - low) / len(fused) if high > low else 1.0)
        for rank, rowid in enumerate(sorted(inside, key=lambda r: -fused[r]), start=1):
            fused[rowid] = floor + (fused[rowid] - floor) * factor
            explained[rowid]["time"] = RetrieverHit(rank, factor)

    def fts(self, text: str, filters: Filters, limit: int) -> list[tuple[int, float]]:
        terms = query_terms(text)
        if not terms:
            return []
        weights = self.settings.fts_column_weights
        budget, floor = self.settings.fts_budget, 0
        if self.store.max_rowid() <= budget:
            return self.store.fts_search(match_terms(terms), filters, limit, weights)
        lexical = self._lexical() if self._lexical and self.settings.ranked_index else None
        if lexical is not None:  # caught up just now, hides and deletions included
            return lexical.search(terms, filters, limit)
        # Without the ranked index (turned off, or another writer holds it): BM25 costs ~1 us
        # per matching record in FTS5, so a big store scores only the records that hold one
        # of the rarest words (`budget` matches at most), MaxScore-style (Turtle & Flood 1995):
        # common words still add to those records' scores, exactly, but records holding only
        # common words, which rank low, are never scored.
        counts = self.store.match_counts({t: match_terms([t]) for t in terms}, budget + 1)
        rare = affordable_terms(counts, budget)
        common = [t for t in terms if t not in rare]
        if counts[rare[0]] > budget:  # every word is common: the rarest one's newest matches
            floor = self.store.newest_match_floor(match_terms(rare), budget)
        scored = dict(self.store.fts_search(match_terms(rare), filters, limit, weights, floor))
        # Stop words (searched only when nothing else is left) are in most records, where
        # FTS5 floors their IDF near zero: they add nothing but reading their long lists.
        if common and not all(t in STOPWORDS for t in common):
            both = f"({match_terms(rare)}) AND ({match_terms(common)})"
            scored.update(self.store.fts_search(both, filters, limit, weights, floor))
        return sorted(scored.items(), key=lambda item: (-item[1], item[0]))[:limit]

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
        pool: list[tuple[int, float]] = []
        if query.mode in ("hybrid", "fts"):
            # A named date ("on 17 May, 2023") is matched against record times, not words:
            # its digits would otherwise match any record that happens to contain "17".
            _, words = find_time_spans(query.text)
            lexical = words if query_terms(words) else query.text
            wide = self.settings.session_pool if query.mode == "hybrid" else limit
            pool = self.fts(lexical, query.filters, max(limit, wide))
            out["fts"] = pool[:limit]
        if query.mode in ("hybrid", "vector"):
            out["vector"] = self.vector(query.text, query.filters, limit)
        if query.mode == "hybrid" and self.settings.weights.get("session", 0.0) and pool:
            out["session"] = self.session_evidence(pool, out)
        return out

    def session_evidence(
        self, pool: list[tuple[int, float]], candidates: dict[str, list[tuple[int, float]]]
    ) -> list[tuple[int, float]]:
        """Each candidate scored by how well its whole session matches: the sum of the best
        `session_top` BM25 scores among the session's turns in the wider full-text pool.

        Evidence for a question is often spread over a conversation; a turn from a session
        that matches well as a whole is likelier to be the one (measured in docs/benchmarks.md).
        """
        sessions = self.store.sessions_of([rowid for rowid, _ in pool])
        by_session: dict[tuple[str, str], list[float]] = {}
        for rowid, score in pool:
            if (key := sessions.get(rowid)) is not None:
                by_session.setdefault(key, []).append(score)
        top = self.settings.session_top
        strength = {key: sum(sorted(scores)[-top:]) for key, scores in by_session.items()}
        wanted = {rowid for ranking in candidates.values() for rowid, _ in ranking}
        missing = [rowid for rowid in wanted if rowid not in sessions]
        sessions.update(self.store.sessions_of(missing))
        scored = [
            (rowid, strength[key])
            for rowid in wanted
            if (key := sessions.get(rowid)) is not None and key in strength
        ]
        return sorted(scored, key=lambda item: (-item[1], item[0]))

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
