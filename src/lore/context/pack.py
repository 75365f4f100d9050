"""Budgeted context assembly: retrieve, drop near-duplicates, merge adjacent turns, pack exactly."""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import QueryError
from ..store.sqlite import SQLiteStore
from ..tokens import DEFAULT_ENCODING, count_tokens, truncate_to_tokens
from ..types import Citation, ContextPack, Filters, Fragment, Hit, Query, Record, to_epoch
from .render import render_fragment, render_fragments, render_markdown

if TYPE_CHECKING:
    from ..engine import Lore

CANDIDATES = 50  # records retrieved per pack; the budget, not this, usually binds
NEAR_DUPLICATE = 0.8  # word-shingle Jaccard at or above which the lower-scored text is dropped
SHINGLE_WORDS = 3
MAX_RUN_SPAN = 8  # a merged run covers at most this many consecutive seqs
MIN_TRUNCATED_TOKENS = 32  # a cut fragment must keep at least this much of its text
MAX_BUDGET = 1_000_000
ELLIPSIS = " …"

_WORDS = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class _Piece:
    """A fragment plus where it goes in reading order."""

    fragment: Fragment
    group: tuple[str, str]  # (namespace, session), or ("", handle) outside a session
    position: tuple[float, float]  # (seq, time) inside its group
    hits: tuple[Hit, ...]
    parts: tuple[_Piece, ...] = ()  # a merged run's hits alone, for when the run does not fit


def build_context(
    lore: Lore,
    query: str,
    budget_tokens: int,
    filters: Filters,
    *,
    encoding: str | None = None,
    as_of: datetime | None = None,
    memories: bool = True,
) -> ContextPack:
    """The best fragments for `query` whose rendered markdown fits `budget_tokens` exactly.

    Memories lead (current facts and procedures, then decisions, then episodes; at most
    MEMORY_SHARE of the budget), then raw evidence. Reading order of the evidence: sessions
    (and records outside any session) by their best fragment's score,
    most relevant first, so what matters most is read first and survives a careless cut; inside
    a session, fragments follow the conversation (by seq, then time).
    """
    encoding = encoding or DEFAULT_ENCODING
    if isinstance(budget_tokens, bool) or not isinstance(budget_tokens, int):
        raise QueryError(f"budget must be a whole number of tokens, got {budget_tokens!r}")
    if not 1 <= budget_tokens <= MAX_BUDGET:
        raise QueryError(f"budget must be between 1 and {MAX_BUDGET} tokens, got {budget_tokens}")
    count_tokens("lore", encoding)  # an unknown encoding fails here, before any search
    lead: list[Fragment] = []
    if memories:
        from ..memory.fragments import memory_fragments

        lead = memory_fragments(lore, query, filters, as_of, budget_tokens, encoding)
    hits = lore.search(Query(text=query, k=CANDIDATES, mode="hybrid", filters=filters))
    pieces = [_piece(run) for run in merge_runs(lore.store, remove_near_duplicates(hits))]
    chosen = _fit(lore.store, pieces, budget_tokens, encoding, lead)
    fragments = tuple(
        replace(f, tokens=count_tokens(render_fragment(i, f), encoding))
        for i, f in enumerate([*lead, *(p.fragment for p in chosen)], start=1)
    )
    pack = ContextPack(query, budget_tokens, 0, encoding, fragments)
    pack = replace(pack, tokens=count_tokens(render_markdown(pack), encoding))
    if pack.tokens > budget_tokens:  # unreachable: every accepted state was counted exactly
        raise AssertionError(f"context pack over budget: {pack.tokens} > {budget_tokens}")
    return pack


# -- near-duplicates ----------------------------------------------------------
def shingles(text: str, size: int = SHINGLE_WORDS) -> frozenset[tuple[str, ...]]:
    """Word `size`-grams of the normalised text (the whole word tuple when shorter)."""
    words = _WORDS.findall(unicodedata.normalize("NFKC", text).casefold())
    if len(words) < size:
        return frozenset({tuple(words)})
    return frozenset(tuple(words[i : i + size]) for i in range(len(words) - size + 1))


def jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def remove_near_duplicates(hits: Sequence[Hit], threshold: float = NEAR_DUPLICATE) -> list[Hit]:
    """Hits by descending score, without any whose text nearly repeats a better one's."""
    kept: list[tuple[Hit, frozenset[tuple[str, ...]]]] = []
    for hit in sorted(hits, key=lambda h: -h.score):
        marks = shingles(hit.record.text)
        if all(jaccard(marks, other) < threshold for _, other in kept):
            kept.append((hit, marks))
    return [hit for hit, _ in kept]


# -- merging adjacent turns ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive records of one session (hits plus the gaps between them)."""

    hits: tuple[Hit, ...]
    records: tuple[Record, ...]


def merge_runs(store: SQLiteStore, hits: Sequence[Hit]) -> list[Run]:
    """Group hits into runs: same session, seqs at most 1 apart, or 2 when the gap record exists."""
    runs: list[Run] = []
    sessions: dict[tuple[str, str], list[Hit]] = {}
    for hit in hits:
        record = hit.record
        if record.session_id is None or record.seq is None:
            runs.append(Run((hit,), (record,)))
        else:
            sessions.setdefault((record.namespace, record.session_id), []).append(hit)
    for (namespace, session), group in sessions.items():
        group.sort(key=lambda h: (h.record.seq, h.record.id))
        current = [group[0]]
        for hit in group[1:]:
            first, last, seq = current[0].record.seq, current[-1].record.seq, hit.record.seq
            assert first is not None and last is not None and seq is not None
            gap = seq - last
            near = gap <= 1 or (
                gap == 2 and bool(store.session_records(namespace, session, last + 1, last + 1))
            )
            if near and seq - first < MAX_RUN_SPAN:
                current.append(hit)
            else:
                runs.append(_run(store, current))
                current = [hit]
        runs.append(_run(store, current))
    return runs


def _run(store: SQLiteStore, hits: list[Hit]) -> Run:
    if len(hits) == 1:
        return Run((hits[0],), (hits[0].record,))
    first, last = hits[0].record, hits[-1].record
    assert first.session_id is not None and first.seq is not None and last.seq is not None
    records = store.session_records(first.namespace, first.session_id, first.seq, last.seq)
    return Run(tuple(hits), tuple(records))


def _turn(record: Record) -> str:
    """A record's line in a merged run: conversational turns say who spoke."""
    spoken = record.actor and record.kind != "document_chunk"
    return f"{record.actor}: {record.text}" if spoken else record.text


def _piece(run: Run) -> _Piece:
    records = run.records
    parts = tuple(_piece(Run((h,), (h.record,))) for h in run.hits) if len(records) > 1 else ()
    best = max(run.hits, key=lambda h: h.score)
    if len(records) == 1:
        handle, text = f"record:{records[0].id}", records[0].text
    else:
        handle = f"record:{records[0].id}..{records[-1].id}"
        text = "\n".join(_turn(r) for r in records)
    actors = list(dict.fromkeys(r.actor for r in records if r.actor))
    when = next((r.occurred_at for r in records if r.occurred_at is not None), None)
    citation = Citation(
        source=records[0].source.uri,
        session_id=records[0].session_id,
        actor=", ".join(actors) or None,
        occurred_at=when,
        record_ids=tuple(r.id for r in records),
    )
    fragment = Fragment(
        id=handle,
        kind=best.record.kind,
        text=text,
        citation=citation,
        score=best.score,
        tokens=0,
        why=tuple(sorted({name for hit in run.hits for name in hit.why})),
    )
    first = records[0]
    group = (first.namespace, first.session_id) if first.session_id is not None else ("", handle)
    position = (float(first.seq or 0), to_epoch(when) or 0.0)
    return _Piece(fragment, group, position, run.hits, parts)


# -- packing -------------------------------------------------------------------
def _ordered(pieces: Sequence[_Piece]) -> list[_Piece]:
    best: dict[tuple[str, str], float] = {}
    for piece in pieces:
        best[piece.group] = max(best.get(piece.group, float("-inf")), piece.fragment.score)
    return sorted(pieces, key=lambda p: (-best[p.group], p.group, p.position))


def _cost(pieces: Sequence[_Piece], encoding: str, lead: Sequence[Fragment] = ()) -> int:
    """Exact tokens of the markdown these pieces render to, in reading order, after `lead`."""
    fragments = [*lead, *(p.fragment for p in _ordered(pieces))]
    return count_tokens(render_fragments(fragments), encoding)


def _fit(
    store: SQLiteStore, pieces: Sequence[_Piece], budget: int, encoding: str,
    lead: Sequence[Fragment] = (),
) -> list[_Piece]:
    """Greedy by score: add what fits, and when a merged run does not fit, let its hits compete
    alone at their own scores; then re-merge chosen neighbours and fill what is left with the
    best skipped piece, cut short."""
    queue = [(-p.fragment.score, n, p) for n, p in enumerate(pieces)]
    heapq.heapify(queue)
    counter = len(queue)
    chosen: list[_Piece] = []
    skipped: list[_Piece] = []
    while queue:
        _, _, piece = heapq.heappop(queue)
        if _cost([*chosen, piece], encoding, lead) <= budget:
            chosen.append(piece)
        elif piece.parts:
            for part in piece.parts:
                heapq.heappush(queue, (-part.fragment.score, counter, part))
                counter += 1
        else:
            skipped.append(piece)
    chosen = _coalesce(store, chosen, budget, encoding, lead)
    for piece in skipped:
        cut = _truncated(chosen, piece, budget, encoding, lead)
        if cut is not None:
            chosen.append(cut)
            break
    return _ordered(chosen)


def _coalesce(
    store: SQLiteStore, chosen: list[_Piece], budget: int, encoding: str,
    lead: Sequence[Fragment] = (),
) -> list[_Piece]:
    """Merge chosen pieces that are neighbours in a session (one citation line instead of
    several), wherever the merged piece still fits."""
    owner = {hit.record.id: piece for piece in chosen for hit in piece.hits}
    for run in merge_runs(store, [hit for piece in chosen for hit in piece.hits]):
        members = {id(owner[hit.record.id]): owner[hit.record.id] for hit in run.hits}
        covered = {hit.record.id for hit in run.hits}
        whole = all(h.record.id in covered for p in members.values() for h in p.hits)
        if len(members) < 2 or not whole:  # never split a chosen piece across two runs
            continue
        trial = [p for p in chosen if id(p) not in members] + [_piece(run)]
        if _cost(trial, encoding, lead) <= budget:
            chosen = trial
    return chosen


def _truncated(
    chosen: list[_Piece], piece: _Piece, budget: int, encoding: str,
    lead: Sequence[Fragment] = (),
) -> _Piece | None:
    """`piece` cut to the longest prefix that still fits, if at least 32 tokens of it do."""
    text = piece.fragment.text
    total = count_tokens(text, encoding)

    def cut(n: int) -> _Piece:
        short = truncate_to_tokens(text, n, encoding).rstrip() + ELLIPSIS
        return replace(piece, fragment=replace(piece.fragment, text=short))

    def fits(n: int) -> bool:
        return _cost([*chosen, cut(n)], encoding, lead) <= budget

    low, high = MIN_TRUNCATED_TOKENS, total - 1
    if high < low or not fits(low):
        return None
    while low < high:  # largest n that fits; `low` always fits
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return cut(low)
