"""Memories as context fragments: relevant current facts and procedures lead a context pack."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..context.render import render_fragments
from ..errors import NotFound
from ..tokens import count_tokens
from ..types import Citation, Expansion, Filters, Fragment, Memory, MemoryHit

if TYPE_CHECKING:
    from ..engine import Lore

ORDER = {"fact": 0, "procedure": 1, "decision": 2, "episode": 3}
CANDIDATES = 12
MAX_FRAGMENTS = 8
MEMORY_SHARE = 0.5  # memories may take at most this share of a pack's budget
MIN_COSINE = 0.35  # a memory found only by its vector must be at least this similar


def memory_fragment(memory: Memory, score: float, why: tuple[str, ...]) -> Fragment:
    """A fragment of kind `memory:<kind>` whose citation lists the memory's evidence."""
    n = len(memory.evidence)
    citation = Citation(
        source=f"{memory.kind} from {n} record{'s' if n != 1 else ''}",
        session_id=memory.subject if memory.kind == "episode" else None,
        actor=memory.subject if memory.kind in ("fact", "decision") else None,
        occurred_at=memory.valid_from,
        record_ids=memory.evidence,
    )
    return Fragment(memory.handle, f"memory:{memory.kind}", memory.text, citation, score, 0, why)


def _relevant(hit: MemoryHit) -> bool:
    vector = hit.why.get("vector")
    return "fts" in hit.why or (vector is not None and vector.score >= MIN_COSINE)


def memory_fragments(
    lore: Lore,
    query: str,
    filters: Filters,
    as_of: datetime | None,
    budget: int,
    encoding: str,
) -> list[Fragment]:
    """Relevant memories (true and known at `as_of`, else current) in pack order, within
    MEMORY_SHARE of `budget`: facts, procedures, decisions, then episodes."""
    hits = [
        h for h in lore.search_memories(
            query, CANDIDATES, namespace=filters.namespace, as_of=as_of
        )
        if _relevant(h)
    ]
    hits.sort(key=lambda h: (ORDER.get(h.memory.kind, 9), -h.score))
    chosen: list[Fragment] = []
    for hit in hits[:MAX_FRAGMENTS]:
        trial = [*chosen, memory_fragment(hit.memory, hit.score, tuple(sorted(hit.why)))]
        if count_tokens(render_fragments(trial), encoding) <= budget * MEMORY_SHARE:
            chosen = trial
    return chosen


def expand_memory(lore: Lore, handle: str, memory_id: str) -> Expansion:
    """A memory's evidence records (those not forgotten since), in time order."""
    memory = lore.memory(memory_id)
    records = []
    for record_id in memory.evidence:
        try:
            records.append(lore.get(record_id))
        except NotFound:
            continue  # forgotten after the memory was made
    records.sort(key=lambda r: r.id)
    return Expansion(handle.strip(), tuple(records), tuple(r.id for r in records))
