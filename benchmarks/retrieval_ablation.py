"""Which retrieval ideas pay for themselves: LoCoMo dev and SciFact, one setting changed at a time.

    python benchmarks/retrieval_ablation.py [--data ../shared/data] [--only locomo|scifact] [--json]

Stores are cached under benchmarks/out/ (SciFact embeds 5,183 abstracts once, several minutes on
2 cores); every row after that only re-runs the searches.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from lore import Lore
from lore.evals import locomo, scifact
from lore.search.hybrid import SearchSettings

OUT = Path(__file__).resolve().parent / "out"

# (label, neighbours indexed each side, search mode, settings)
PAIR = {"fts": 1.0, "vector": 1.0}  # the two retrievers without session evidence
# Any store counts as big: full text is ranked by the Tantivy index, as above 20,000 records.
RANKED = SearchSettings(fts_budget=0)
LOCOMO_ROWS: list[tuple[str, int, str, SearchSettings]] = [
    ("BM25 on the turn and its speaker", 0, "fts", SearchSettings()),
    ("+ 2 neighbouring turns each side (fts only)", 2, "fts", SearchSettings()),
    ("MiniLM alone (speaker: text)", 2, "vector", SearchSettings()),
    ("hybrid, RRF k=60", 2, "hybrid", SearchSettings(fusion="rrf", weights=PAIR, time_boost=0)),
    ("hybrid, z-score fusion", 2, "hybrid", SearchSettings(weights=PAIR, time_boost=0)),
    ("+ session evidence", 2, "hybrid", SearchSettings(time_boost=0)),
    ("+ time-expression boost, score x2", 2, "hybrid", SearchSettings(time_boost=1.0)),
    ("+ time-expression boost, score x5 (default)", 2, "hybrid", SearchSettings()),
    ("ranked index (Tantivy BM25) instead of FTS5, fts only", 2, "fts", RANKED),
    ("ranked index instead of FTS5, hybrid default", 2, "hybrid", RANKED),
]
SCIFACT_ROWS: list[tuple[str, str, SearchSettings]] = [
    ("BM25 (FTS5, porter, stop words)", "fts", SearchSettings()),
    ("MiniLM alone", "vector", SearchSettings()),
    ("hybrid, RRF k=60", "hybrid", SearchSettings(fusion="rrf")),
    ("hybrid, min-max score fusion", "hybrid", SearchSettings(fusion="score")),
    ("hybrid, z-score fusion (default)", "hybrid", SearchSettings()),
    ("ranked index (Tantivy BM25) instead of FTS5", "fts", RANKED),
    ("ranked index instead of FTS5, hybrid default", "hybrid", RANKED),
]


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_locomo(path: Path, only: str = "") -> list[dict[str, Any]]:
    rows = []
    for label, neighbours, mode, settings in LOCOMO_ROWS:
        if only not in label:
            continue
        db = OUT / f"ablation-locomo-n{neighbours}.db"
        with Lore.open(db, embedder="minilm", settings=settings, redaction=None) as lore:
            lore.writer.neighbours = neighbours
            _note(f"locomo: {label}")
            report = locomo.evaluate(lore, path, mode=mode)
        rows.append({"row": label, "turn": report["turn"], "session": report["session"]})
    return rows


def run_scifact(directory: Path, only: str = "") -> list[dict[str, Any]]:
    rows = []
    qrels = directory / "qrels" / "train.tsv"
    for label, mode, settings in SCIFACT_ROWS:
        if only not in label:
            continue
        with Lore.open(
            OUT / "ablation-scifact.db", embedder="minilm", settings=settings, redaction=None
        ) as lore:
            _note(f"scifact: {label}")
            report = scifact.evaluate(lore, directory, qrels, mode=mode)
        rows.append(
            {"row": label, "ndcg@10": report["ndcg@10"], "recall@100": report["recall@100"]}
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    parser.add_argument("--only", choices=("locomo", "scifact"))
    parser.add_argument("--rows", help="only rows whose label contains this text")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
    }
    if args.only in (None, "locomo"):
        result["locomo"] = run_locomo(args.data / "locomo" / "locomo_dev.json", args.rows or "")
    if args.only in (None, "scifact"):
        result["scifact"] = run_scifact(args.data / "scifact", args.rows or "")
    result["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for row in result.get("locomo", []):
        turn, session = row["turn"], row["session"]
        print(
            f"locomo  {row['row']:<52} R@5 {turn['recall@5']:.3f}  R@10 {turn['recall@10']:.3f}"
            f"  session R@5 {session['recall@5']:.3f}"
        )
    for row in result.get("scifact", []):
        print(
            f"scifact {row['row']:<52} nDCG@10 {row['ndcg@10']:.3f}  R@100 {row['recall@100']:.3f}"
        )


if __name__ == "__main__":
    main()
