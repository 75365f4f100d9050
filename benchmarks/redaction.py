"""Redaction quality and speed on the labelled set in benchmarks/data/redaction/.

Quality is span-level, with the texts scanned in batches of 256 as the writer scans them. A
found span is a true positive when it overlaps (shares at least one character with) an expected
span of a compatible kind; an expected span is recalled when some found span of a compatible
kind overlaps it. Compatible means the same class: email, phone, card, iban, ip, address,
national_id (ssn, nino) and secret (api_key, jwt, private_key, password, secret: a token caught
by the entropy detector rather than its prefix is still caught). Precision is counted per found
kind, recall per expected kind; "personal", "secrets" and "overall" are micro-averages. Topic
rules are scored per record: a record labelled with any topic and flagged with any topic is a
hit ("label" also checks the topic matched).

Speed: the set's texts (both files) repeated until they make at least --mb megabytes (UTF-8),
passed through Redactor.redact_many in batches of 256 texts, as the writer does (detectors,
topic rules, placeholders; numbering in memory). Only that call is timed, by wall clock
(perf_counter) and by this process's CPU time (process_time, which other processes on a
shared machine do not inflate); the best of --runs runs is reported. One redact() call per
text, on a tenth of the corpus, is reported too.

--prefilter off runs without the Hyperscan prefilter (lore.redact.prefilter); --ab times
both, run by run in turn (on, off, on, off...), so that both see the same machine load, and
checks that the findings agree.

    python benchmarks/redaction.py [--json] [--errors] [--mb 5] [--runs 3] [--ab]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lore.redact import Redactor, load_policy, prefilter

DATA = Path(__file__).resolve().parent / "data" / "redaction"
PERSONAL = ("email", "phone", "card", "iban", "ssn", "nino", "ip", "address")
SECRETS = ("api_key", "jwt", "private_key", "password", "secret")
BATCH = 256  # texts per redact_many call: the writer's batch size
SETS = ("labelled", "heldout2", "heldout3", "heldout4", "heldout5", "heldout6")
CLASS = {**{k: k for k in PERSONAL}, "ssn": "national_id", "nino": "national_id"}
CLASS.update({k: "secret" for k in SECRETS})


def load(name: str) -> list[dict[str, Any]]:
    with (DATA / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def score(redactor: Redactor, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-kind and grouped precision/recall, topic scores, and every error for --errors."""
    found_n: Counter[str] = Counter()
    found_ok: Counter[str] = Counter()
    want_n: Counter[str] = Counter()
    want_ok: Counter[str] = Counter()
    errors: list[str] = []
    topic = Counter[str]()
    texts = [row["text"] for row in rows]
    # In batches, as the writer scans them (a span must not run into the next text).
    per_text = [
        found for at in range(0, len(texts), BATCH)
        for found in redactor.scan_many(texts[at : at + BATCH])[1]
    ]
    for row, found in zip(rows, per_text, strict=True):
        text = row["text"]
        want = row["spans"]
        for f in found:
            hit = any(
                CLASS.get(w["kind"]) == CLASS.get(f.kind)
                and f.start < w["end"] and w["start"] < f.end
                for w in want
            )
            found_n[f.kind] += 1
            found_ok[f.kind] += hit
            if not hit:
                errors.append(f"FP {f.kind:<11} {row['id']}: {f.value!r}")
        for w in want:
            hit = any(
                CLASS.get(w["kind"]) == CLASS.get(f.kind)
                and f.start < w["end"] and w["start"] < f.end
                for f in found
            )
            want_n[w["kind"]] += 1
            want_ok[w["kind"]] += hit
            if not hit:
                errors.append(f"FN {w['kind']:<11} {row['id']}: {text[w['start']:w['end']]!r}")
        rule = redactor.topics.classify(text)
        labelled, flagged = row.get("topic"), rule.label if rule else None
        topic["labelled"] += labelled is not None
        topic["flagged"] += flagged is not None
        topic["hit"] += labelled is not None and flagged is not None
        topic["label"] += labelled is not None and flagged == labelled
        if (labelled is None) != (flagged is None):
            miss = "FN" if labelled else "FP"
            errors.append(f"{miss} topic       {row['id']}: {flagged or labelled}")
    kinds = {
        kind: {
            "expected": want_n[kind], "recall": _ratio(want_ok[kind], want_n[kind]),
            "found": found_n[kind], "precision": _ratio(found_ok[kind], found_n[kind]),
        }
        for kind in (*PERSONAL, *SECRETS)
    }

    def group(members: tuple[str, ...]) -> dict[str, Any]:
        fn, fo = sum(found_n[k] for k in members), sum(found_ok[k] for k in members)
        wn, wo = sum(want_n[k] for k in members), sum(want_ok[k] for k in members)
        return {"expected": wn, "recall": _ratio(wo, wn), "found": fn, "precision": _ratio(fo, fn)}

    return {
        "records": len(rows),
        "kinds": kinds,
        "personal": group(PERSONAL),
        "secrets": group(SECRETS),
        "overall": group((*PERSONAL, *SECRETS)),
        "topics": {
            "labelled": topic["labelled"], "flagged": topic["flagged"],
            "recall": _ratio(topic["hit"], topic["labelled"]),
            "precision": _ratio(topic["hit"], topic["flagged"]),
            "label_accuracy": _ratio(topic["label"], topic["hit"]),
        },
        "errors": errors,
    }


def throughput(redactor: Redactor, texts: list[str], megabytes: float, runs: int) -> dict[str, Any]:
    """MB/s of `redact_many` on batches of BATCH texts (as the writer calls it), and of one
    `redact` call per text on a tenth of the corpus."""
    size = sum(len(t.encode()) for t in texts)
    corpus = texts * max(1, int(megabytes * 1e6 / size) + 1)
    total = sum(len(t.encode()) for t in corpus)
    batches = [corpus[i : i + BATCH] for i in range(0, len(corpus), BATCH)]
    times, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            redactor.redact_many(batch)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    best = min(times)
    single = corpus[: len(corpus) // 10]
    started = time.perf_counter()
    for text in single:
        redactor.redact(text)
    single_s = time.perf_counter() - started
    return {
        "corpus_mb": round(total / 1e6, 2), "records": len(corpus), "batch": BATCH,
        "runs": runs, "seconds_best": round(best, 3), "mb_per_s": round(total / 1e6 / best, 2),
        "mb_per_s_cpu": round(total / 1e6 / min(cpu), 2),
        "mb_per_s_all": [round(total / 1e6 / t, 2) for t in times],
        "mb_per_s_one_call_per_text": round(
            sum(len(t.encode()) for t in single) / 1e6 / single_s, 2
        ),
    }


def throughput_ab(
    redactor: Redactor, texts: list[str], megabytes: float, runs: int
) -> dict[str, Any]:
    """CPU MB/s of `redact_many` with the prefilter on and off, runs alternating."""
    size = sum(len(t.encode()) for t in texts)
    corpus = texts * max(1, int(megabytes * 1e6 / size) + 1)
    total = sum(len(t.encode()) for t in corpus)
    batches = [corpus[i : i + BATCH] for i in range(0, len(corpus), BATCH)]
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    try:
        for _ in range(runs):
            for mode in cpu:
                prefilter.ENABLED = mode == "on"
                started = time.process_time()
                for batch in batches:
                    redactor.redact_many(batch)
                cpu[mode].append(round(total / 1e6 / (time.process_time() - started), 2))
    finally:
        prefilter.ENABLED = True
    return {
        "corpus_mb": round(total / 1e6, 2), "runs": runs,
        "prefilter_available": prefilter._hs is not None,
        **{
            mode: {"mb_per_s_cpu_median": statistics.median(v), "mb_per_s_cpu_all": v}
            for mode, v in cpu.items()
        },
    }


def findings_agree(redactor: Redactor, texts: list[str]) -> bool:
    """Whether every text's findings are the same with the prefilter on and off."""
    results = []
    try:
        for enabled in (True, False):
            prefilter.ENABLED = enabled
            found = [redactor.scan_many(texts[i : i + BATCH])[1] for i in range(0, len(texts), 97)]
            found += [redactor.scan_many([t])[1] for t in texts]
            results.append(found)
    finally:
        prefilter.ENABLED = True
    return results[0] == results[1]


def machine() -> dict[str, Any]:
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(), "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def _line(name: str, stats: dict[str, Any]) -> str:
    def fmt(value: float | None) -> str:
        return "  -  " if value is None else f"{value:.3f}"

    return (
        f"  {name:<12} expected {stats['expected']:>4}  recall {fmt(stats['recall'])}"
        f"   found {stats['found']:>4}  precision {fmt(stats['precision'])}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--errors", action="store_true", help="list every miss and false alarm")
    parser.add_argument("--mb", type=float, default=5.0, help="throughput corpus size (MB)")
    parser.add_argument("--runs", type=int, default=3, help="throughput runs (best is kept)")
    parser.add_argument(
        "--only", choices=SETS, help="score one set (default: all)"
    )
    parser.add_argument(
        "--prefilter", choices=["on", "off"], default="on",
        help="use the Hyperscan prefilter when it imports (default on)",
    )
    parser.add_argument(
        "--ab", action="store_true",
        help="also time prefilter on against off, runs alternating, and compare findings",
    )
    args = parser.parse_args(argv)
    prefilter.ENABLED = args.prefilter == "on"
    redactor = Redactor(load_policy())
    names = [args.only] if args.only else list(SETS)
    sets = {name: load(f"{name}.jsonl") for name in names}
    result: dict[str, Any] = {"machine": machine(), "policy": "built-in"}
    for name, rows in sets.items():
        result[name] = score(redactor, rows)
    texts = [r["text"] for rows in sets.values() for r in rows]
    result["throughput"] = throughput(redactor, texts, args.mb, args.runs)
    if args.ab:
        result["prefilter_ab"] = throughput_ab(redactor, texts, args.mb, args.runs)
        result["prefilter_ab"]["findings_agree"] = findings_agree(redactor, texts)
        prefilter.ENABLED = args.prefilter == "on"
    if args.json:
        if not args.errors:
            for name in sets:
                result[name].pop("errors")
        json.dump(result, sys.stdout, indent=2)
        print()
        return 0
    info = result["machine"]
    print(
        f"{info['date']} · {info['cpu']} · {info['cores']} cores · Python {info['python']}"
        f" · load average {info['load_average']}"
    )
    for name in sets:
        scored = result[name]
        print(f"\n{name} ({scored['records']} records)")
        for kind, stats in scored["kinds"].items():
            if stats["expected"] or stats["found"]:
                print(_line(kind, stats))
        for group in ("personal", "secrets", "overall"):
            print(_line(group.upper(), scored[group]))
        t = scored["topics"]
        print(
            f"  topics: labelled {t['labelled']}, flagged {t['flagged']}, recall {t['recall']},"
            f" precision {t['precision']}, label accuracy {t['label_accuracy']}"
        )
        if args.errors:
            for error in scored["errors"]:
                print("   ", error)
    speed = result["throughput"]
    print(
        f"\nthroughput: {speed['mb_per_s']} MB/s wall, {speed['mb_per_s_cpu']} MB/s of CPU time"
        f" (best of {speed['runs']};"
        f" {speed['corpus_mb']} MB, {speed['records']} records in batches of {speed['batch']},"
        f" all runs {speed['mb_per_s_all']}); one call per text:"
        f" {speed['mb_per_s_one_call_per_text']} MB/s"
    )
    if args.ab:
        ab = result["prefilter_ab"]
        on, off = ab["on"], ab["off"]
        print(
            f"prefilter A/B ({ab['runs']} runs each, alternating; hyperscan"
            f" {'available' if ab['prefilter_available'] else 'NOT available'}):"
            f" on {on['mb_per_s_cpu_median']} MB/s of CPU (median; {on['mb_per_s_cpu_all']}),"
            f" off {off['mb_per_s_cpu_median']} ({off['mb_per_s_cpu_all']});"
            f" findings agree: {ab['findings_agree']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
