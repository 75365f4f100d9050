"""Ingest throughput through `Lore.add_many`, with the hash embedder and with MiniLM.

    python benchmarks/ingest.py [--records 20000] [--minilm-records 2000] [--json]

Each run writes realistic chat drafts into a fresh file store, as `Lore.open` sets it up: with
the default redaction policy (unless $LORE_REDACTION_POLICY names another); one more hash run
has redaction off. MiniLM's ingest rate is compared with the embedder's own rate on the same
texts, measured in the same run. The machine's own speed is measured in the same run too: the
same rows, prepared beforehand, into a bare SQLite table (`sqlite_reference_records_per_s`), so
rates from a loaded or a different machine compare as ratios to it.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from synthetic import chat_drafts, machine, progress

from lore import USE_DEFAULT, Draft, Lore
from lore.ids import new_id
from lore.index.contextual import embedding_text, index_contexts
from lore.index.embed.base import Embedder
from lore.index.embed.hashing import HashEmbedder
from lore.ingest.writer import BATCH_SIZE, content_hash
from lore.store.sqlite import SQLiteStore, StoredRow
from lore.types import to_epoch

NAMESPACE = "acme"
REPEATS = 3
TARGETS = {"hash_records_per_s": 10_000, "minilm_share_of_embedder": 0.8}


def drafts(count: int, seed: int = 0) -> list[Draft]:
    """Chat turns in sessions, each under a team namespace below `acme`."""
    return [
        replace(d, namespace=ns.split("/", 1)[1]) for ns, d in chat_drafts(count, seed=seed)
    ]


def ingest_rate(
    items: list[Draft],
    embedder: str | Embedder,
    workdir: Path,
    neighbours: int | None = None,
    redaction: Any = USE_DEFAULT,
    inline_checkpoints: bool = False,
) -> dict[str, Any]:
    """Records per second into a fresh store, where the time goes, then the same drafts again
    (all duplicates). With `inline_checkpoints`, the writer checkpoints the write-ahead log
    itself at commit, as SQLite does by default (every 1,000 pages), instead of leaving it to
    the store's background thread."""
    path = workdir / f"ingest-{time.perf_counter_ns()}.db"
    with Lore.open(path, embedder=embedder, redaction=redaction) as lore:
        if neighbours is not None:
            lore.writer.neighbours = neighbours
        if inline_checkpoints:
            lore.store._checkpointer = None
            lore.store.db.execute("PRAGMA wal_autocheckpoint=1000")
        owners = {"insert_rows": lore.store, "insert_vectors": lore.store, "embed": lore.embedder}
        if lore.redactor is not None:
            owners["redact_batch"] = lore.redactor
        spent = _clock(owners)
        started = time.perf_counter()
        report = lore.add_many(items, namespace=NAMESPACE)
        took = time.perf_counter() - started
        assert report.added == len(items), report
        for name, owner in owners.items():
            delattr(owner, name)  # the class's own method again
        phases = {name: round(s / len(items) * 1e6, 1) for name, s in spent.items()}
        phases["everything_else"] = round(took / len(items) * 1e6 - sum(phases.values()), 1)
        started = time.perf_counter()
        again = lore.add_many(items, namespace=NAMESPACE)
        took_again = time.perf_counter() - started
        assert again.duplicates == len(items), again
    for leftover in workdir.glob(path.name + "*"):
        leftover.unlink()
    return {
        "records_per_s": round(len(items) / took, 1),
        "us_per_record": phases,
        "duplicates_per_s": round(len(items) / took_again, 1),
    }


def _clock(methods: dict[str, Any]) -> dict[str, float]:
    """Wrap methods (name -> the object owning it) to total the time spent in each."""
    spent = dict.fromkeys(methods, 0.0)
    for name, owner in methods.items():
        original = getattr(owner, name)

        def timed(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return _original(*args, **kw)
            finally:
                spent[_name] += time.perf_counter() - started

        setattr(owner, name, timed)
    return spent


def prepared_rows(items: list[Draft]) -> list[StoredRow]:
    """The rows the writer would make of `items` (without redaction)."""
    return [
        StoredRow(
            id=new_id(), namespace=f"{NAMESPACE}/{d.namespace}", connector="api", uri="api",
            source_id="", session_id=d.session_id, seq=d.seq, actor=d.actor, role=d.role,
            kind=d.kind, text=d.text, occurred_at=to_epoch(d.occurred_at), recorded_at=0.0,
            metadata="{}", content_hash=content_hash(d), redactions="[]", context=context,
        )
        for d, context in zip(items, index_contexts(items), strict=True)
    ]


def store_ceiling(items: list[Draft], workdir: Path) -> float:
    """Records per second the store alone takes: rows, contexts and vectors made beforehand,
    then inserted in transactions of BATCH_SIZE, as the writer does."""
    path = workdir / f"ceiling-{time.perf_counter_ns()}.db"
    store = SQLiteStore(path)
    vectors = HashEmbedder().embed([embedding_text(d) for d in items])
    rows = prepared_rows(items)
    started = time.perf_counter()
    for at in range(0, len(rows), BATCH_SIZE):
        with store.transaction():
            got = store.insert_rows(rows[at : at + BATCH_SIZE])
            store.insert_vectors([g[0] for g in got if g], vectors[at : at + BATCH_SIZE])
    took = time.perf_counter() - started
    store.close()
    for leftover in workdir.glob(path.name + "*"):
        leftover.unlink()
    return round(len(rows) / took, 1)


def sqlite_reference(items: list[Draft], workdir: Path) -> float:
    """Records per second into a bare table (the rows' columns and a vector BLOB; no index, no
    full text) in transactions of BATCH_SIZE, with the store's settings: how fast this machine
    runs SQLite right now, whatever Lore's code does."""
    path = workdir / f"reference-{time.perf_counter_ns()}.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    names = list(StoredRow.__annotations__)
    columns = ", ".join(names)
    db.execute(f"CREATE TABLE plain (rowid INTEGER PRIMARY KEY, {columns}, vector BLOB)")
    blob = bytes(4 * HashEmbedder().dim)
    rows = [(*(getattr(row, name) for name in names), blob) for row in prepared_rows(items)]
    sql = f"INSERT INTO plain ({columns}, vector) VALUES ({', '.join('?' * len(rows[0]))})"
    started = time.perf_counter()
    for at in range(0, len(rows), BATCH_SIZE):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(sql, rows[at : at + BATCH_SIZE])
        db.execute("COMMIT")
    took = time.perf_counter() - started
    db.close()
    for leftover in workdir.glob(path.name + "*"):
        leftover.unlink()
    return round(len(rows) / took, 1)


def run(records: int, minilm_records: int) -> dict[str, Any]:
    report: dict[str, Any] = {
        "benchmark": "ingest",
        "machine": machine(),
        "batch_size": BATCH_SIZE,
        "targets": TARGETS,
    }
    with tempfile.TemporaryDirectory(prefix="lore-ingest-") as tmp:
        workdir = Path(tmp)
        items = drafts(records)
        runs, inline = [], []
        for attempt in range(REPEATS):  # alternating, so both see the same machine load
            progress(f"hash embedder: {records:,} records, run {attempt + 1}/{REPEATS}")
            runs.append(ingest_rate(items, "hash", workdir))
            progress(f"hash embedder, checkpoints at commit, run {attempt + 1}/{REPEATS}")
            inline.append(ingest_rate(items, "hash", workdir, inline_checkpoints=True))
        progress("hash embedder, redaction off")
        unredacted = ingest_rate(items, "hash", workdir, redaction=None)
        progress("the store alone (rows prepared beforehand)")
        ceiling = store_ceiling(items, workdir)
        progress("a bare SQLite table (this machine's speed)")
        reference = sqlite_reference(items, workdir)
        progress("hash embedder, no neighbouring turns in the full-text context")
        bare = ingest_rate(items, "hash", workdir, neighbours=0)
        rate = statistics.median(r["records_per_s"] for r in runs)
        inline_rate = statistics.median(r["records_per_s"] for r in inline)
        report["hash"] = {
            "records": records,
            "records_per_s": rate,
            "runs": runs,
            "checkpoints_at_commit": {"records_per_s": inline_rate, "runs": inline},
            "speedup_over_checkpoints_at_commit": round(rate / inline_rate, 3),
            "without_redaction": unredacted,
            "without_neighbour_context": bare,
            "store_alone_records_per_s": ceiling,
            "sqlite_reference_records_per_s": reference,
            "share_of_sqlite_reference": round(rate / reference, 3),
            "without_redaction_share_of_sqlite_reference": round(
                unredacted["records_per_s"] / reference, 3
            ),
        }

        if minilm_records <= 0:
            return report
        from lore.index.embed.onnx_minilm import MiniLMEmbedder

        items = drafts(minilm_records, seed=1)
        model = MiniLMEmbedder()
        texts = [embedding_text(d) for d in items]
        model.embed(texts)  # warm up: onnxruntime sizes its buffers on first sight of a shape
        rounds = []
        for attempt in range(REPEATS):  # alternating, so both see the same machine load
            progress(f"MiniLM: {minilm_records:,} records, round {attempt + 1}/{REPEATS}")
            started = time.perf_counter()
            model.embed(texts)
            embed_rate = len(texts) / (time.perf_counter() - started)
            ingest = ingest_rate(items, model, workdir)
            rounds.append({
                "embedder_texts_per_s": round(embed_rate, 1),
                **ingest,
                "share_of_embedder": round(ingest["records_per_s"] / embed_rate, 3),
            })
        report["minilm"] = {
            "records": minilm_records,
            "embedder_texts_per_s": statistics.median(r["embedder_texts_per_s"] for r in rounds),
            "ingest_records_per_s": statistics.median(r["records_per_s"] for r in rounds),
            "share_of_embedder": statistics.median(r["share_of_embedder"] for r in rounds),
            "rounds": rounds,
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="records for the hash runs")
    parser.add_argument(
        "--minilm-records", type=int, default=2_000, help="records for the MiniLM runs (0: none)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    args = parser.parse_args()
    report = run(args.records, args.minilm_records)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    hashed = report["hash"]
    print(f"hash embedder: {hashed['records_per_s']:,} records/s ({hashed['records']:,} records),"
          f" {hashed['checkpoints_at_commit']['records_per_s']:,}/s checkpointing at commit,"
          f" {hashed['without_redaction']['records_per_s']:,}/s without redaction;"
          f" the store alone takes {hashed['store_alone_records_per_s']:,}/s, a bare SQLite"
          f" table {hashed['sqlite_reference_records_per_s']:,}/s")
    if "minilm" not in report:
        return
    minilm = report["minilm"]
    print(
        f"MiniLM: {minilm['ingest_records_per_s']:,} records/s ingesting,"
        f" {minilm['embedder_texts_per_s']:,} texts/s embedding alone"
        f" ({minilm['share_of_embedder']:.0%})"
    )


if __name__ == "__main__":
    main()
