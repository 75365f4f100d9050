"""Hybrid retrieval: BM25 and dense cosine, each filtered before top-k, then fused and explained."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from ..index.vectors import VectorIndex
from ..store.sqlite import SQLiteStore, is_unfiltered
from ..types import Filters, Query, RetrieverHit, to_epoch
from . import parallel
from .fusion import Fusion, get_fusion
from .query import STOPWORDS, affordable_terms, match_terms, query_terms
from .timeparse import find_time_spans

RowScore = tuple[int, float]  # (rowid, retriever score)

# Below these sizes a second thread costs more than it saves.
PARALLEL_MIN_ROWS = 4_000  # rowids a full-text search spans
PARALLEL_MIN_LOOKUPS = 200  # rowids whose sessions are looked up


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
        budget, floor = self.settings.fts_budget, 0
        newest = self.store.max_rowid()
        if newest <= budget:
            return self._scored([match_terms(terms)], filters, limit, floor, newest)
        # BM25 costs ~1 us per matching record, so a big store scores only the records that
        # hold one of the rarest words (`budget` matches at most), MaxScore-style (Turtle &
        # Flood 1995): common words still add to those records' scores, exactly, but records
        # holding only common words, which rank low, are never scored.
        counts = self._match_counts(terms, budget + 1)
        rare = affordable_terms(counts, budget)
        common = [t for t in terms if t not in rare]
        if counts[rare[0]] > budget:  # every word is common: the rarest one's newest matches
            floor = self.store.newest_match_floor(match_terms(rare), budget)
        matches = [match_terms(rare)]
        # Stop words (searched only when nothing else is left) are in most records, where
        # FTS5 floors their IDF near zero: they add nothing but reading their long lists.
        if common and not all(t in STOPWORDS for t in common):
            matches.append(f"({match_terms(rare)}) AND ({match_terms(common)})")
        return self._scored(matches, filters, limit, floor, newest)

    def _scored(
        self, matches: list[str], filters: Filters, limit: int, floor: int, newest: int
    ) -> list[tuple[int, float]]:
        """The best `limit` records of each MATCH expression, each record scored by the last
        expression that found it (each expression adds words to the one before).

        With records enough, the store's replica connection works at the same time: it runs
        the second expression, or with only one it scores the newer half of the rowids. BM25's
        statistics cover the whole store either way, so the scores are the same. (Each
        connection pays for the IDF of its expression's words, a scan of their match lists,
        so a common word's is not paid twice.)
        """
        weights = self.settings.fts_column_weights

        def run(store: SQLiteStore, match: str, low: int, below: int | None) -> list[RowScore]:
            return store.fts_search(match, filters, limit, weights, low, below)

        replica = self._replica() if newest - floor > PARALLEL_MIN_ROWS else None
        if replica is None:
            parts = [run(self.store, match, floor, None) for match in matches]
        elif len(matches) == 1:
            middle = (floor + newest) // 2 + 1
            newer = parallel.submit(run, replica, matches[0], middle, None)
            parts = [run(self.store, matches[0], floor, middle), newer.result()]
        else:
            later = [parallel.submit(run, replica, match, floor, None) for match in matches[1:]]
            parts = [run(self.store, matches[0], floor, None), *(f.result() for f in later)]
        scored = {rowid: score for part in parts for rowid, score in part}
        return sorted(scored.items(), key=lambda item: (-item[1], item[0]))[:limit]

    def _replica(self) -> SQLiteStore | None:
        """The store's second connection, when a core is free to use it."""
        return self.store.replica() if parallel.spare_core() else None

    def _match_counts(self, terms: list[str], cap: int) -> dict[str, int]:
        """How many records hold each term (no more than `cap`), half the terms on the replica."""
        matches = {t: match_terms([t]) for t in terms}
        replica = self._replica() if len(terms) > 1 else None
        if replica is None:
            return self.store.match_counts(matches, cap)
        half = len(terms) // 2
        later = parallel.submit(replica.match_counts, {t: matches[t] for t in terms[half:]}, cap)
        counts = self.store.match_counts({t: matches[t] for t in terms[:half]}, cap)
        return {**counts, **later.result()}

    def vector(self, text: str, filters: Filters, limit: int) -> list[tuple[int, float]]:
        return self._vector_search(text, filters, limit)()

    def _vector_search(
        self, text: str, filters: Filters, limit: int
    ) -> Callable[[], list[tuple[int, float]]]:
        """The dense search, ready to run on another thread: what needs the database (the
        allowed rowids, loading the index) is done now."""
        if not text.strip():
            return list
        index = self._index()
        if len(index) == 0:
            return list
        allowed = None if is_unfiltered(filters) else self.store.filtered_rowids(filters)
        if allowed is not None and len(allowed) == 0:
            return list

        def run() -> list[tuple[int, float]]:
            rowids, scores = index.search(self._embed_query(text), limit, allowed)
            return [(int(r), float(s)) for r, s in zip(rowids, scores, strict=True)]

        return run

    def rankings(self, query: Query, limit: int) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = {}
        pool: list[tuple[int, float]] = []
        dense: Future[list[tuple[int, float]]] | None = None
        if query.mode in ("hybrid", "vector"):
            search = self._vector_search(query.text, query.filters, limit)
            if query.mode == "hybrid":  # embedding and ANN search overlap the full-text search
                dense = parallel.submit(search)
            else:
                out["vector"] = search()
        if query.mode in ("hybrid", "fts"):
            # A named date ("on 17 May, 2023") is matched against record times, not words:
            # its digits would otherwise match any record that happens to contain "17".
            _, words = find_time_spans(query.text)
            lexical = words if query_terms(words) else query.text
            wide = self.settings.session_pool if query.mode == "hybrid" else limit
            pool = self.fts(lexical, query.filters, max(limit, wide))
            out["fts"] = pool[:limit]
        if dense is not None:
            out["vector"] = dense.result()
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
        wanted = list(
            dict.fromkeys(rowid for ranking in candidates.values() for rowid, _ in ranking)
        )
        scores = dict(pool)
        if self.store.max_rowid() <= self.settings.fts_budget:  # small: look up every turn
            sessions = self._sessions_of(list(dict.fromkeys([*scores, *wanted])))
        else:
            # Only the pool's turns in the candidates' sessions matter: the session index
            # finds them, so only they and the candidates take a record lookup (for the
            # namespace). At 1M records: 5 ms a query instead of 11 (CPU).
            sessions = self._sessions_of(wanted)
            ids = sorted({session_id for _, session_id in sessions.values()})
            others = [rowid for rowid in scores if rowid not in sessions]
            sessions.update(self.store.sessions_among(ids, others))
        by_session: dict[tuple[str, str], list[float]] = {}
        for rowid, session in sessions.items():
            if (score := scores.get(rowid)) is not None:
                by_session.setdefault(session, []).append(score)
        top = self.settings.session_top
        strength = {key: sum(sorted(found)[-top:]) for key, found in by_session.items()}
        scored = [
            (rowid, strength[key])
            for rowid in wanted
            if (key := sessions.get(rowid)) is not None and key in strength
        ]
        return sorted(scored, key=lambda item: (-item[1], item[0]))

    def _sessions_of(self, rowids: list[int]) -> dict[int, tuple[str, str]]:
        """`SQLiteStore.sessions_of`, half the rowids looked up on the replica."""
        replica = self._replica() if len(rowids) > PARALLEL_MIN_LOOKUPS else None
        if replica is None:
            return self.store.sessions_of(rowids)
        half = len(rowids) // 2
        later = parallel.submit(replica.sessions_of, rowids[half:])
        sessions = self.store.sessions_of(rowids[:half])
        sessions.update(later.result())
        return sessions

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
