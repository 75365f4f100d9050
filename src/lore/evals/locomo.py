"""LoCoMo retrieval evaluation: each question searched alone, scored on its evidence turns."""

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

_EVIDENCE = re.compile(r"D:?(\d+):0*(\d+)")
TURN_KS = (1, 5, 10, 25, 50)
SESSION_KS = (1, 5, 10)
RETRIEVE = max(TURN_KS)


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
) -> dict[str, Any]:
    """Ingest every conversation into `namespace/<sample_id>`, then search each question.

    Only the question text reaches the engine; answers, categories and evidence stay here.
    """
    started = time.perf_counter()
    conversations = load(path)
    lore.ingest(path, format="locomo", namespace=namespace)
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
    }


def question_count(path: str | Path) -> int:
    """How many questions the file holds (for progress bars)."""
    return sum(len(sample.get("qa", [])) for sample in load(path))
