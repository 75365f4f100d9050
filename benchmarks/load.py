"""HTTP load: concurrent loopback clients mixing writes and searches against `lore serve`.

Starts a real server on a fresh store (seeded with synthetic records), runs N clients for a
bounded time (each write is one record with a unique token, each search a hybrid query),
stops the server, then checks that every acknowledged write is stored exactly once. The
baseline is the same mix run in-process on the `Lore` facade, single-threaded, in this run.

    python benchmarks/load.py                      # 32 clients, 60 s, 25% writes, MiniLM
    python benchmarks/load.py --duration 10 --embedder hash --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from lore import Draft, Lore
from lore.server.testing import make_key

TOPICS = [
    "deploy", "freeze", "payment", "webhook", "retry", "invoice", "refund", "incident",
    "review", "rollout", "canary", "database", "migration", "latency", "budget", "customer",
    "onboarding", "billing", "outage", "alert", "pager", "release", "schema", "index",
    "search", "cache", "queue", "worker", "timeout",
]
# A Zipf-like vocabulary: a few topic words are common, thousands of others are rare, as in
# real chat; uniform draws from 30 words would make every record match every query.
SYLLABLES = ("ka", "lo", "re", "mi", "su", "ta", "ne", "vo", "pi", "da", "xe", "ru")
VOCABULARY = TOPICS + [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES]
WEIGHTS = [1.0 / (rank + 10) for rank in range(len(VOCABULARY))]
ACTORS = ("dana", "sam", "kim", "priya", "agent-7")
MAX_DURATION = 600.0  # seconds: the run always stops by itself
REQUEST_TIMEOUT = 30.0


def words(rng: random.Random, count: int) -> list[str]:
    return rng.choices(VOCABULARY, weights=WEIGHTS, k=count)


def sentence(rng: random.Random) -> str:
    return " ".join(words(rng, rng.randint(8, 20))).capitalize() + "."


def seed(path: Path, embedder: str, records: int) -> None:
    rng = random.Random(7)
    drafts = [
        Draft(text=sentence(rng), actor=rng.choice(ACTORS), session_id=f"s{i // 20}", seq=i % 20)
        for i in range(records)
    ]
    with Lore.open(path, embedder=embedder) as lore:
        lore.add_many(drafts, namespace="bench/seed")


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"write": [], "search": []})
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    acked: dict[str, str] = field(default_factory=dict)  # token -> record id

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.samples) < 5:
            self.samples.append(detail[:300])


async def client(n: int, url: str, key: str, ratio: float, deadline: float, tally: Tally) -> None:
    rng = random.Random(1000 + n)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT) as http:
        i = 0
        while time.monotonic() < deadline:
            i += 1
            write = rng.random() < ratio
            token = f"bench{n}x{i}x{rng.getrandbits(32):08x}"
            if write:
                body: dict[str, Any] = {"namespace": "bench/load", "records": [
                    {"text": f"{token} {sentence(rng)}", "actor": rng.choice(ACTORS),
                     "session": f"c{n}", "seq": i}
                ]}
                path = "/v1/records"
            else:
                body, path = {"query": " ".join(words(rng, 3)), "k": 10}, "/v1/search"
            start = time.perf_counter()
            try:
                response = await http.post(path, json=body)
            except httpx.HTTPError as exc:
                tally.error(type(exc).__name__, repr(exc))
                continue
            elapsed = time.perf_counter() - start
            if response.status_code != 200:
                tally.error(str(response.status_code), response.text)
                continue
            tally.latencies["write" if write else "search"].append(elapsed)
            if write:
                got = response.json()
                if got["added"] == 1:
                    tally.acked[token] = got["record_ids"][0]
                else:
                    tally.error("not-added", json.dumps(got))


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "count": len(values),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
    }


def verify(path: Path, acked: dict[str, str]) -> dict[str, Any]:
    """Every acknowledged write is stored exactly once, under the id the server returned."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        stored: dict[str, list[str]] = {}
        for rid, text in db.execute("SELECT id, text FROM records WHERE namespace = 'bench/load'"):
            stored.setdefault(text.split(" ", 1)[0], []).append(rid)
        records, vectors = db.execute(
            "SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM vectors)"
        ).fetchone()
    finally:
        db.close()
    missing = [t for t in acked if t not in stored]
    doubled = [t for t, ids in stored.items() if len(ids) > 1]
    wrong_id = [t for t, rid in acked.items() if t in stored and stored[t] != [rid]]
    return {
        "acknowledged": len(acked), "stored": len(stored), "missing": len(missing),
        "duplicated": len(doubled), "wrong_id": len(wrong_id),
        "vectors_match_records": records == vectors,
        "ok": not missing and not doubled and not wrong_id and records == vectors,
    }


def baseline(path: Path, embedder: str, ratio: float, seconds: float) -> dict[str, Any]:
    """The same mix in-process on the facade, one thread: what HTTP and concurrency cost."""
    rng = random.Random(5)
    latencies: list[float] = []
    with Lore.open(path, embedder=embedder) as lore:
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline:
            i += 1
            start = time.perf_counter()
            if rng.random() < ratio:
                lore.add(f"base{i} {sentence(rng)}", namespace="bench/base", session="b", seq=i)
            else:
                lore.search(" ".join(words(rng, 3)), k=10, namespace="bench")
            latencies.append(time.perf_counter() - start)
    total = sum(latencies)
    return {"ops": len(latencies), "ops_per_s": round(len(latencies) / total, 1),
            **percentiles(latencies)}


def start_server(path: Path, embedder: str, readers: int) -> tuple[subprocess.Popen[str], str]:
    lore = str(Path(sys.executable).with_name("lore"))
    command = [lore, "--db", str(path), "--embedder", embedder, "serve", "--port", "0",
               "--json", "--readers", str(readers)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"lore serve failed: {process.stderr.read() if process.stderr else ''}")
    url = json.loads(line)["url"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("lore serve did not answer /healthz")


def stop_server(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (at most 600)")
    parser.add_argument("--write-ratio", type=float, default=0.25)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--seed-records", type=int, default=5000)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--readers", type=int, default=4, help="server reader threads")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    duration = min(args.duration, MAX_DURATION)

    with tempfile.TemporaryDirectory(prefix="lore-load-") as folder:
        path = Path(folder) / "lore.db"
        seed(path, args.embedder, args.seed_records)
        key = make_key(path, "bench", "write", "load")
        process, url = start_server(path, args.embedder, args.readers)
        tally = Tally()
        try:
            began = time.monotonic()
            deadline = began + duration

            async def run() -> None:
                await asyncio.gather(*(
                    client(n, url, key, args.write_ratio, deadline, tally)
                    for n in range(args.clients)
                ))

            asyncio.run(asyncio.wait_for(run(), duration + REQUEST_TIMEOUT + 30))
            elapsed = time.monotonic() - began
        finally:
            stop_server(process)
        checked = verify(path, tally.acked)
        base = baseline(path, args.embedder, args.write_ratio, args.baseline_seconds)

    done = sum(len(v) for v in tally.latencies.values())
    everything = [x for v in tally.latencies.values() for x in v]
    report = {
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "versions": {name: version(name) for name in ("lore", "fastapi", "uvicorn", "mcp")},
        "settings": {"clients": args.clients, "duration_s": duration,
                     "write_ratio": args.write_ratio, "embedder": args.embedder,
                     "seed_records": args.seed_records, "readers": args.readers},
        "elapsed_s": round(elapsed, 2),
        "throughput_rps": round(done / elapsed, 1),
        "writes_per_s": round(len(tally.latencies["write"]) / elapsed, 1),
        "searches_per_s": round(len(tally.latencies["search"]) / elapsed, 1),
        "latency": {"all": percentiles(everything),
                    **{k: percentiles(v) for k, v in tally.latencies.items()}},
        "errors": sum(tally.errors.values()),
        "errors_by_kind": tally.errors,
        "error_samples": tally.samples,
        "verify": checked,
        "baseline_in_process": base,
        "ratio_to_baseline": round((done / elapsed) / base["ops_per_s"], 2),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        lat = report["latency"]
        print(f"{args.clients} clients · {duration:.0f} s · {args.write_ratio:.0%} writes · "
              f"{args.embedder} · {os.cpu_count()} cores")
        print(f"throughput {report['throughput_rps']} req/s ({report['writes_per_s']} writes/s,"
              f" {report['searches_per_s']} searches/s); errors {report['errors']}")
        for name in ("all", "write", "search"):
            print(f"  {name:<6} {lat[name]}")
        print(f"verify {checked}")
        print(f"baseline in-process, 1 thread: {base}; ratio {report['ratio_to_baseline']}")
    if report["errors"] or not checked["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
