"""Concurrent clients: writes go through one writer, reads see every acknowledged write."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from lore.search.hybrid import SearchSettings
from lore.server.testing import make_key, running_server

WRITERS = 6
READERS = 6
WRITES_EACH = 15


@pytest.mark.parametrize(
    "settings",
    [None, SearchSettings(fts_budget=20)],  # the second ranks full text with the shared index
    ids=["fts5", "ranked-index"],
)
def test_concurrent_writes_and_reads(tmp_path: Path, settings: SearchSettings | None) -> None:
    db = tmp_path / "lore.db"
    with running_server(db, readers=3, settings=settings) as server:
        key = make_key(db, "load", "write")
        headers = {"Authorization": f"Bearer {key}"}
        acked: list[str] = []
        failures: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(n: int) -> None:
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
                for i in range(WRITES_EACH):
                    token = f"tok{n}x{i}zz"
                    body = {"records": [{"text": f"note {token} about the deploy", "seq": i,
                                         "session": f"w{n}"}]}
                    response = http.post("/v1/records", json=body)
                    if response.status_code != 200 or response.json()["added"] != 1:
                        failures.append(response.text)
                        continue
                    with lock:
                        acked.append(token)
                    # read-your-writes, on another connection: both retrievers see it at once
                    for mode in ("fts", "vector"):
                        query = token if mode == "fts" else f"note {token} about the deploy"
                        found = http.post("/v1/search", json={"query": query, "k": 1,
                                                               "mode": mode}).json()
                        if not found["hits"] or token not in found["hits"][0]["record"]["text"]:
                            failures.append(f"{mode} did not see {token}: {found}")

        def reader() -> None:
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
                while not stop.is_set():
                    for path, body in (("/v1/search", {"query": "deploy note", "k": 5}),
                                       ("/v1/context", {"query": "deploy", "budget_tokens": 300})):
                        response = http.post(path, json=body)
                        if response.status_code != 200:
                            failures.append(response.text)
                    if http.get("/v1/stats").status_code != 200:
                        failures.append("stats failed")

        with ThreadPoolExecutor(WRITERS + READERS) as pool:
            readers = [pool.submit(reader) for _ in range(READERS)]
            writers = [pool.submit(writer, n) for n in range(WRITERS)]
            for future in writers:
                future.result()
            stop.set()
            for future in readers:
                future.result()

        assert not failures, failures[:3]
        assert len(acked) == WRITERS * WRITES_EACH
        with httpx.Client(base_url=server.url, headers=headers) as http:
            stats = http.get("/v1/stats").json()
            texts: list[str] = []
            page = http.get("/v1/records", params={"limit": 1000}).json()
            texts = [r["text"] for r in page["records"]]
        assert stats["records"] == stats["vectors"] == len(acked)
        if settings is not None:
            assert (tmp_path / "lore.db.fts").is_dir()
        for token in acked:
            assert sum(token in t for t in texts) == 1
