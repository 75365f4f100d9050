"""BEIR SciFact evaluation: abstracts as documents, claims as queries, nDCG@10 and recall@100."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import IngestError
from ..types import Draft
from .metrics import distinct, mean, ndcg_at, recall_at

if TYPE_CHECKING:
    from ..engine import Lore

RETRIEVE = 100


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise IngestError(
                            f"invalid JSON: {exc.msg}", file=str(path), line=number
                        ) from exc
    except OSError as exc:
        raise IngestError(f"cannot read: {exc.strerror or exc}", file=str(path)) from exc


def corpus_drafts(corpus_dir: Path) -> Iterator[Draft]:
    """One document record per abstract, its title first; the BEIR id kept as source id."""
    for doc in _jsonl(corpus_dir / "corpus.jsonl"):
        title = str(doc.get("title") or "").strip()
        body = str(doc.get("text") or "").strip()
        yield Draft(
            text=f"{title}\n{body}".strip(),
            kind="document_chunk",
            session_id=None,
            metadata={"doc_id": str(doc["_id"]), "title": title},
            source_id=str(doc["_id"]),
        )


def load_qrels(path: Path) -> dict[str, dict[str, float]]:
    qrels: dict[str, dict[str, float]] = {}
    try:
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = float(row["score"])
    except (OSError, KeyError) as exc:
        raise IngestError(f"cannot read qrels: {exc}", file=str(path)) from exc
    return qrels


def evaluate(
    lore: Lore,
    corpus_dir: str | Path,
    qrels_path: str | Path,
    *,
    namespace: str = "scifact",
    mode: str = "hybrid",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Ingest the corpus into `namespace`, search every judged query, score the rankings."""
    started = time.perf_counter()
    directory = Path(corpus_dir)
    lore.add_many(
        corpus_drafts(directory), namespace=namespace, source=str(directory / "corpus.jsonl")
    )
    qrels = load_qrels(Path(qrels_path))
    queries = {str(q["_id"]): str(q["text"]) for q in _jsonl(directory / "queries.jsonl")}
    ndcg: list[float] = []
    recall: list[float] = []
    for query_id, relevance in qrels.items():
        if query_id not in queries:
            continue
        hits = lore.search(queries[query_id], k=RETRIEVE, mode=mode, namespace=namespace)
        ranked = distinct(str(h.record.metadata.get("doc_id")) for h in hits)
        ndcg.append(ndcg_at(ranked, relevance, 10))
        recall.append(recall_at(ranked, {d for d, g in relevance.items() if g > 0}, 100))
        if progress is not None:
            progress(1)
    return {
        "dataset": "scifact",
        "queries": len(ndcg),
        "ndcg@10": round(mean(ndcg), 4),
        "recall@100": round(mean(recall), 4),
        "seconds": round(time.perf_counter() - started, 2),
    }
