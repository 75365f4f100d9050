"""LoCoMo retrieval evaluation: each question searched alone, scored on its evidence turns.

With memories, the ranking is the record turns and the best memories for the question fused by
reciprocal rank (k=60, memory weight MEMORY_WEIGHT): a memory found at memory rank j sits
where a turn found at record rank j would, and is replaced there by the turns it cites (in
the memory's evidence order, at most MEMORY_TURNS of them, a turn counted once at its best
place). A memory citing more turns than that (a long episode) cannot push a whole session
into the top ranks; only the question text reaches the engine.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import IngestError
from .metrics import distinct, mean, ndcg_at, recall_at

if TYPE_CHECKING:
    from ..engine import Lore
    from ..types import MemoryHit

_EVIDENCE = re.compile(r"D:?(\d+):0*(\d+)")
TURN_KS = (1, 5, 10, 25, 50)
SESSION_KS = (1, 5, 10)
RETRIEVE = max(TURN_KS)
MEMORY_HITS = 10
MEMORY_WEIGHT = 1.0  # a memory's reciprocal-rank weight relative to a retrieved turn's
MEMORY_TURNS = 5  # at most this many of a memory's evidence turns take its place
# Episodes cite a session's central turns, not the answer to a question: as hits they cost
# 19 points of recall@10 on LoCoMo dev (docs/benchmarks.md, Memories), so they are dropped
# from the best MEMORY_HITS of all kinds (searching only other kinds would force in
# irrelevant ones when a conversation has few).
MEMORY_HIT_KINDS = ("fact", "decision", "procedure")


def parse_evidence(evidence: Any) -> set[str]:
    """Normalised dia ids ("D8:6; D9:17" -> {"D8:6", "D9:17"}, "D:11:26" -> "D11:26")."""
    found: set[str] = set()
    for item in evidence or []:
        for part in re.split(r"[;\s]+", str(item)):
            if match := _EVIDENCE.fullmatch(part.strip()):
                found.add(f"D{int(match.group(1))}:{int(match.group(2))}")
    return found


def normalise_dia_id(dia_id: str) -> str:
    match = _EVIDENCE.fullmatch(dia_id)
    return f"D{int(match.group(1))}:{int(match.group(2))}" if match else dia_id


def session_of(dia_id: str) -> str:
    return dia_id.split(":", 1)[0]


def load(path: str | Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IngestError(f"cannot read LoCoMo file: {exc}", file=str(path)) from exc
    if not isinstance(data, list):
        raise IngestError("expected a list of conversations", file=str(path))
    return data


def evaluate(
    lore: Lore,
    path: str | Path,
    *,
    namespace: str = "locomo",
    mode: str = "hybrid",
    progress: Callable[[int], None] | None = None,
    with_memories: bool = False,
) -> dict[str, Any]:
    """Ingest every conversation into `namespace/<sample_id>`, then search each question.

    Only the question text reaches the engine; answers, categories and evidence stay here.
    `with_memories` distils after ingest and fuses memory hits into the ranking, each memory
    expanded to its evidence turns in place.
    """
    started = time.perf_counter()
    conversations = load(path)
    lore.ingest(path, format="locomo", namespace=namespace)
    distilled = lore.distill(namespace).to_dict() if with_memories else None
    turns_of: dict[str, list[str]] = {}
    turn: dict[int, list[float]] = {k: [] for k in TURN_KS}
    sessions: dict[int, list[float]] = {k: [] for k in SESSION_KS}
    ndcg: list[float] = []
    by_category: dict[str, dict[int, list[float]]] = {}
    skipped = 0
    for index, sample in enumerate(conversations):
        scope = f"{namespace}/{sample.get('sample_id') or f'conv-{index}'}"
        for qa in sample.get("qa", []):
            evidence = parse_evidence(qa.get("evidence"))
            if not evidence:
                skipped += 1
                continue
            hits = lore.search(str(qa["question"]), k=RETRIEVE, mode=mode, namespace=scope)
            ranked = [normalise_dia_id(str(h.record.metadata.get("dia_id", ""))) for h in hits]
            if with_memories:
                question = str(qa["question"])
                found = [
                    hit
                    for hit in lore.search_memories(question, MEMORY_HITS, namespace=scope)
                    if hit.memory.kind in MEMORY_HIT_KINDS
                ]
                ranked = fuse_memories(lore, ranked, found, turns_of)
            for k in TURN_KS:
                turn[k].append(recall_at(ranked, evidence, k))
            ranked_sessions = distinct(session_of(d) for d in ranked)
            wanted_sessions = {session_of(d) for d in evidence}
            for k in SESSION_KS:
                sessions[k].append(recall_at(ranked_sessions, wanted_sessions, k))
            ndcg.append(ndcg_at(ranked, dict.fromkeys(evidence, 1.0), 10))
            category = by_category.setdefault(str(qa.get("category")), {5: [], 10: []})
            category[5].append(recall_at(ranked, evidence, 5))
            category[10].append(recall_at(ranked, evidence, 10))
            if progress is not None:
                progress(1)
    return {
        "dataset": "locomo",
        "conversations": len(conversations),
        "questions": len(ndcg),
        "skipped": skipped,
        "turn": {
            **{f"recall@{k}": round(mean(v), 4) for k, v in turn.items()},
            "ndcg@10": round(mean(ndcg), 4),
        },
        "session": {f"recall@{k}": round(mean(v), 4) for k, v in sessions.items()},
        "by_category": {
            name: {
                "questions": len(v[5]),
                "recall@5": round(mean(v[5]), 4),
                "recall@10": round(mean(v[10]), 4),
            }
            for name, v in sorted(by_category.items())
        },
        "seconds": round(time.perf_counter() - started, 2),
        **({"distill": distilled} if distilled is not None else {}),
    }


def fuse_memories(
    lore: Lore, ranked: list[str], found: list[MemoryHit], turns_of: dict[str, list[str]]
) -> list[str]:
    """Record turns and memories fused by reciprocal rank (k=60, Cormack et al. 2009), each
    memory replaced by its first MEMORY_TURNS evidence turns in order; a turn counts once, at
    its best place."""
    scores: dict[tuple[str, str], float] = {}
    for rank, dia_id in enumerate(ranked, start=1):
        scores[("turn", dia_id)] = 1.0 / (60 + rank)
    for rank, hit in enumerate(found, start=1):
        scores[("memory", hit.memory.id)] = MEMORY_WEIGHT / (60 + rank)
        if hit.memory.id not in turns_of:
            turns_of[hit.memory.id] = [
                normalise_dia_id(str(lore.get(rid).metadata.get("dia_id", "")))
                for rid in hit.memory.evidence[:MEMORY_TURNS]
            ]
    order = sorted(scores, key=lambda item: -scores[item])
    out: list[str] = []
    for kind, key in order:
        for dia_id in turns_of[key] if kind == "memory" else [key]:
            if dia_id not in out:
                out.append(dia_id)
    return out


def question_count(path: str | Path) -> int:
    """How many questions the file holds (for progress bars)."""
    return sum(len(sample.get("qa", [])) for sample in load(path))
