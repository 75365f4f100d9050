"""Folding LoCoMo conversations to a quarter of their tokens: is the evidence still reachable?

Each LoCoMo dev conversation becomes one OpenAI chat (speaker_a as "user", speaker_b as
"assistant", each with `name` and the session's time as `timestamp`), folded with
`Lore.fold(messages, budget)` where budget = 25% of the conversation's tokens (cl100k, message
accounting of lore.context.fold), into a fresh store with the default MiniLM embedder.

For each question with gold evidence, an evidence turn counts as reachable when it is
  raw     kept verbatim in the folded messages;
  quoted  inside a memento's text verbatim (the whole turn text, image caption included);
  search  inside a block that one `expand` of a memento returns, for one of the top K mementos
          that `Lore.search(question, namespace=<the fold's>, actors=["lore"], kinds=["event"])`
          returns (that filter is exactly the fold's stored mementos);
and the score is the share of its evidence turns reachable, averaged over questions (like the
official turn recall). Reported for K = 1, 3, 5; the headline is K = 3. A second variant
searches the stored original turns instead (kinds=["message"]) and expands the blocks of the
top K distinct blocks those turns fall in. Only the question text reaches the engine.

    python benchmarks/fold.py [--json] [--data PATH] [--share 0.25]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lore import Lore
from lore.context.chat import conversation_tokens
from lore.evals.locomo import load, normalise_dia_id, parse_evidence
from lore.ingest.locomo import parse_locomo_time, turn_text

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"
KS = (1, 3, 5)


def chat(sample: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The conversation as chat messages, and each message's dia id."""
    conv = sample["conversation"]
    numbers = sorted(int(k.split("_")[1]) for k in conv if k.count("_") == 1 and
                     k.startswith("session_") and isinstance(conv[k], list))
    messages: list[dict[str, Any]] = []
    ids: list[str] = []
    for number in numbers:
        when = conv.get(f"session_{number}_date_time")
        stamp = parse_locomo_time(when).isoformat() if when else None
        for turn in conv[f"session_{number}"]:
            role = "user" if turn["speaker"] == conv["speaker_a"] else "assistant"
            message = {"role": role, "name": turn["speaker"], "content": turn_text(turn)}
            if stamp:
                message["timestamp"] = stamp
            messages.append(message)
            ids.append(normalise_dia_id(str(turn["dia_id"])))
    return messages, ids


def evaluate(lore: Lore, sample: dict[str, Any], share: float) -> dict[str, Any]:
    messages, ids = chat(sample)
    namespace = f"bench/{sample['sample_id']}"
    before = conversation_tokens(messages)
    budget = int(before * share)
    started = time.perf_counter()
    result = lore.fold(messages, budget, namespace=namespace, session=sample["sample_id"])
    seconds = time.perf_counter() - started
    folded_text = "\n".join(str(m.get("content") or "") for m in result.messages)
    covered = {i for m in result.mementos for i in range(m.first, m.last + 1)}
    kept = {m["content"] for m in result.messages if not str(m["content"]).startswith("[fold:")}
    raw = {ids[i] for i, m in enumerate(messages) if i not in covered and m["content"] in kept}
    quoted = {ids[i] for i in covered if messages[i]["content"] in folded_text}
    block_of = {i: m.handle for m in result.mementos for i in range(m.first, m.last + 1)}
    per_k: dict[str, dict[int, list[float]]] = {
        name: {k: [] for k in KS} for name in ("mementos", "originals", "originals_summed")
    }
    static: list[float] = []
    for qa in sample["qa"]:
        evidence = parse_evidence(qa.get("evidence"))
        if not evidence:
            continue
        present = raw | quoted
        static.append(len(evidence & present) / len(evidence))
        question = str(qa["question"])
        hits = lore.search(question, k=max(KS), namespace=namespace, actors=["lore"],
                           kinds=["event"])
        memento_handles = [h.record.session_id or "" for h in hits]
        turns = lore.search(question, k=50, namespace=namespace, kinds=["message"])
        turn_handles = list(dict.fromkeys(
            block_of[h.record.seq] for h in turns if h.record.seq in block_of
        ))
        summed: dict[str, float] = {}
        for h in turns:
            if h.record.seq in block_of:
                handle = block_of[h.record.seq]
                summed[handle] = summed.get(handle, 0.0) + h.score
        by_sum = sorted(summed, key=lambda handle: -summed[handle])
        variants = (("mementos", memento_handles), ("originals", turn_handles),
                    ("originals_summed", by_sum))
        for name, handles in variants:
            for k in KS:
                reached = set(present)
                for handle in handles[:k]:
                    expansion = lore.expand(handle)
                    reached |= {ids[r.seq] for r in expansion.records if r.seq is not None}
                per_k[name][k].append(len(evidence & reached) / len(evidence))
    return {
        "sample": sample["sample_id"], "messages": len(messages), "tokens_before": before,
        "budget": budget, "tokens_after": result.tokens_after, "mementos": len(result.mementos),
        "raw_turns": result.raw_turns, "sentences": result.sentences,
        "dropped": result.dropped, "seconds": round(seconds, 2), "static": static,
        "per_k": per_k,
    }


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--data", type=Path, default=DATA, help="locomo_dev.json")
    parser.add_argument("--share", type=float, default=0.25, help="budget as a share of tokens")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no LoCoMo file at {args.data}")
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as folder, Lore.open(Path(folder) / "fold.db") as lore:
        for sample in load(args.data):
            rows.append(evaluate(lore, sample, args.share))
            if not args.json:
                r = rows[-1]
                print(f"{r['sample']}: {r['tokens_before']} -> {r['tokens_after']}/{r['budget']}"
                      f" tokens, {r['mementos']} mementos, {r['raw_turns']} raw turns,"
                      f" {r['sentences']} sentences each, {r['seconds']} s", file=sys.stderr)
        embedder = lore.embedder.identity
    static = [v for r in rows for v in r["static"]]
    summary: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
                   f"{platform.release()}, Python {platform.python_version()}",
        "embedder": embedder,
        "share": args.share,
        "conversations": len(rows),
        "questions": len(static),
        "tokens_before": sum(r["tokens_before"] for r in rows),
        "tokens_after": sum(r["tokens_after"] for r in rows),
        "over_budget": sum(r["tokens_after"] > r["budget"] for r in rows),
        "present_in_folded_text": _mean(static),
        "reachable": {
            name: {f"top{k}": _mean([v for r in rows for v in r["per_k"][name][k]]) for k in KS}
            for name in ("mementos", "originals", "originals_summed")
        },
        "seconds": round(time.perf_counter() - started, 1),
        "per_conversation": [
            {k: v for k, v in r.items() if k not in ("static", "per_k")} for r in rows
        ],
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
