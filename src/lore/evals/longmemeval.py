"""LongMemEval retrieval evaluation: user turns as keys, session recall_all@k and ndcg_any@k."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import IngestError
from ..types import Draft
from .metrics import distinct, mean, ndcg_at, recall_all_at

if TYPE_CHECKING:
    from ..engine import Lore

KS = (5, 10)
RETRIEVE = 100


@dataclass(frozen=True, slots=True)
class Question:
    """One question over a haystack, with the sessions that hold its answer."""

    question_id: str
    question_type: str
    text: str
    answer_sessions: frozenset[str]

    @property
    def abstention(self) -> bool:
        return self.question_id.endswith("_abs")


def parse_date(text: str) -> datetime | None:
    """LongMemEval's "2023/05/20 (Sat) 02:21"."""
    try:
        return datetime.strptime(text.split(" (")[0] + text[-6:], "%Y/%m/%d %H:%M").replace(
            tzinfo=UTC
        )
    except (ValueError, TypeError):
        return None


def load(path: str | Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IngestError(f"cannot read LongMemEval file: {exc}", file=str(path)) from exc
    if not isinstance(data, list):
        raise IngestError("expected a list of questions", file=str(path))
    return data


def questions(item: dict[str, Any]) -> list[Question]:
    """The official one-question layout, or the derivative's lists of questions per haystack."""
    qid, qtype = str(item["question_id"]), str(item.get("question_type", ""))
    if "question" in item:
        return [Question(qid, qtype, str(item["question"]), frozenset(item["answer_session_ids"]))]
    out = []
    for n, (text, answers) in enumerate(
        zip(item["questions"], item["answer_session_ids"], strict=True)
    ):
        out.append(Question(f"{qid}#{n}", qtype, str(text), frozenset(answers)))
    return out


def haystack_drafts(item: dict[str, Any], scope: str) -> Iterator[Draft]:
    """User turns only: the official retrieval keys."""
    sessions = zip(
        item["haystack_session_ids"], item["haystack_dates"], item["haystack_sessions"], strict=True
    )
    for session_id, date, turns in sessions:
        for seq, turn in enumerate(turns):
            if turn.get("role") != "user" or not str(turn.get("content", "")).strip():
                continue
            yield Draft(
                text=str(turn["content"]),
                kind="message",
                session_id=str(session_id),
                seq=seq,
                actor="user",
                role="user",
                occurred_at=parse_date(str(date)),
                metadata={"has_answer": bool(turn.get("has_answer"))},
                source_id=f"{session_id}/{seq}",
                namespace=scope,
            )


def evaluate(
    lore: Lore,
    path: str | Path,
    *,
    namespace: str = "longmemeval",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Ingest each haystack into its own namespace, then rank its sessions for each question."""
    started = time.perf_counter()
    items = load(path)
    recall: dict[int, list[float]] = {k: [] for k in KS}
    ndcg: dict[int, list[float]] = {k: [] for k in KS}
    abstentions = 0
    for item in items:
        scope = str(item["question_id"])
        lore.add_many(haystack_drafts(item, scope), namespace=namespace, source=str(path))
        for question in questions(item):
            if question.abstention:
                abstentions += 1
                continue
            hits = lore.search(question.text, k=RETRIEVE, namespace=f"{namespace}/{scope}")
            ranked = distinct(h.record.session_id or "" for h in hits)
            for k in KS:
                recall[k].append(recall_all_at(ranked, set(question.answer_sessions), k))
                ndcg[k].append(ndcg_at(ranked, dict.fromkeys(question.answer_sessions, 1.0), k))
            if progress is not None:
                progress(1)
    return {
        "dataset": "longmemeval",
        "haystacks": len(items),
        "questions": len(recall[KS[0]]),
        "abstention_excluded": abstentions,
        "session": {
            **{f"recall_all@{k}": round(mean(v), 4) for k, v in recall.items()},
            **{f"ndcg_any@{k}": round(mean(v), 4) for k, v in ndcg.items()},
        },
        "seconds": round(time.perf_counter() - started, 2),
    }
