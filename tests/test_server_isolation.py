"""Namespace isolation: a key for acme/eng never sees, touches or learns of anything else."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from lore.server.testing import RunningServer, make_key, running_server

SECRET = "zebracorn"  # a word only the records outside acme/eng contain
PLACES = {
    "acme/eng": "Deploy freeze on Fridays, says the platform team.",
    "acme/eng/payments": "Payment retries were fixed before the deploy freeze.",
    "acme/sales": f"Deploy freeze pricing deal {SECRET} with the biggest customer.",
    "acme": f"Company-wide deploy freeze memo {SECRET}.",
    "acme/engineering": f"Deploy freeze for the engineering-blog {SECRET}.",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("iso") / "lore.db"
    with running_server(path) as server:
        root = make_key(path, "acme", "admin")
        ids: dict[str, str] = {}
        with httpx.Client(base_url=server.url, headers=_auth(root)) as http:
            for namespace, text in PLACES.items():
                body = {"namespace": namespace, "records": [
                    {"text": text, "session": "s1", "seq": 1, "actor": "a"},
                    {"text": f"{text} (follow-up)", "session": "s1", "seq": 2, "actor": "b"},
                ]}
                ids[namespace] = http.post("/v1/records", json=body).json()["record_ids"][0]
            assert http.post("/v1/distill", json={}).json()["made"]["episode"] == len(PLACES)
            memories: dict[str, str] = {}  # each namespace's episode (its session s1)
            for namespace in PLACES:
                params = {"namespace": namespace, "kind": "episode"}
                listed = http.get("/v1/memories", params=params).json()
                mine = [m for m in listed["memories"] if m["namespace"] == namespace]
                memories[namespace] = mine[0]["id"]
        yield {
            "server": server,
            "ids": ids,
            "memories": memories,
            "eng": make_key(path, "acme/eng", "admin"),
            "sales": make_key(path, "acme/sales", "admin"),
        }


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


OUTSIDE = ("acme/sales", "acme", "acme/engineering")


def _outside(world: dict[str, Any]) -> list[str]:
    return [world["ids"][ns] for ns in OUTSIDE]


def _outside_memories(world: dict[str, Any]) -> list[str]:
    return [world["memories"][ns] for ns in OUTSIDE]


def _no_leak(text: str, world: dict[str, Any], query: str = "") -> None:
    """Nothing from outside acme/eng in `text`, apart from the caller's own query echoed."""
    text = text.replace(query, "") if query else text
    assert SECRET not in text
    for rid in _outside(world):
        assert rid not in text or f"no record '{rid}'" in text
    for mid in _outside_memories(world):
        assert mid not in text or f"no memory '{mid}'" in text


@pytest.fixture
def eng(world: dict[str, Any]) -> Iterator[httpx.Client]:
    server: RunningServer = world["server"]
    with httpx.Client(base_url=server.url, headers=_auth(world["eng"]), timeout=30) as http:
        yield http


def test_reads_see_only_the_keys_namespace(eng: httpx.Client, world: dict[str, Any]) -> None:
    for body in (
        {"query": f"deploy freeze {SECRET}", "k": 50},
        {"query": f"deploy freeze {SECRET}", "k": 50, "namespace": "acme"},
        {"query": f"deploy freeze {SECRET}", "k": 50, "mode": "vector"},
        {"query": SECRET, "k": 50, "mode": "fts"},
    ):
        response = eng.post("/v1/search", json=body)
        namespaces = {h["record"]["namespace"] for h in response.json()["hits"]}
        assert namespaces <= {"acme/eng", "acme/eng/payments"}, body
        _no_leak(response.text, world, str(body["query"]))
    wide = eng.post("/v1/context", json={"query": f"deploy {SECRET}", "namespace": "acme"})
    assert wide.status_code == 200 and "platform team" in wide.text
    _no_leak(wide.text, world, f"deploy {SECRET}")
    listed = eng.get("/v1/records", params={"namespace": "acme", "limit": 1000})
    assert {r["namespace"] for r in listed.json()["records"]} == {"acme/eng", "acme/eng/payments"}
    stats = eng.get("/v1/stats", params={"namespace": "acme"}).json()
    assert stats["namespace"] == "acme/eng"
    assert set(stats["namespaces"]) == {"acme/eng", "acme/eng/payments"}
    history = eng.get("/v1/memories", params={"include_superseded": "true", "limit": 1000})
    kinds = Counter(m["kind"] for m in history.json()["memories"])
    assert stats["memories"] == dict(kinds) and kinds["episode"] == 2
    assert stats["distill_failures"] == 0
    _no_leak(json.dumps(stats), world)
    for params in ({}, {"namespace": "acme"}, {"include_superseded": "true", "limit": 1000},
                   {"as_of": "2999-01-01T00:00:00Z"}):
        memories = eng.get("/v1/memories", params=params)
        namespaces = {m["namespace"] for m in memories.json()["memories"]}
        assert namespaces == {"acme/eng", "acme/eng/payments"}, params
        _no_leak(memories.text, world)
    assert world["memories"]["acme/eng"] in eng.get("/v1/memories").text


@pytest.mark.parametrize("namespace", ["acme/sales", "acme/engineering", "other"])
def test_a_namespace_beside_the_key_is_403(
    eng: httpx.Client, world: dict[str, Any], namespace: str
) -> None:
    calls = [
        eng.post("/v1/search", json={"query": "deploy", "namespace": namespace}),
        eng.post("/v1/context", json={"query": "deploy", "namespace": namespace}),
        eng.get("/v1/records", params={"namespace": namespace}),
        eng.get("/v1/stats", params={"namespace": namespace}),
        eng.get("/v1/memories", params={"namespace": namespace}),
        eng.post("/v1/distill", json={"namespace": namespace}),
        eng.post("/v1/records", json={"namespace": namespace, "records": [{"text": "x"}]}),
        eng.post("/v1/ingest", files={"file": ("n.md", b"# x\n\ntext")},
                 data={"format": "markdown", "namespace": namespace}),
    ]
    for response in calls:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "access_denied"
        _no_leak(response.text, world)


def test_ids_outside_are_not_found_exactly_like_missing_ids(
    eng: httpx.Client, world: dict[str, Any]
) -> None:
    def message(response: httpx.Response, rid: str) -> str:
        assert response.status_code == 404, response.text
        return str(response.json()["error"]["message"]).replace(rid, "ID")

    missing = "01ZZZZZZZZZZZZZZZZZZZZZZZZ"
    own = world["ids"]["acme/eng"]
    for rid in [*_outside(world), missing]:
        shapes = {
            message(eng.get(f"/v1/records/{rid}"), rid),
            message(eng.get(f"/v1/records/record:{rid}"), rid),
            message(eng.post("/v1/expand", json={"handle": f"record:{rid}"}), rid),
            message(eng.post("/v1/expand", json={"handle": f"record:{own}..{rid}"}), rid),
            message(eng.post("/v1/forget", json={"ids": [own, rid]}), rid),
        }
        assert shapes == {"no record 'ID'"}
    # the failed forget deleted nothing, here or there
    assert eng.get(f"/v1/records/{own}").status_code == 200
    sales = httpx.get(f"{world['server'].url}/v1/records/{world['ids']['acme/sales']}",
                      headers=_auth(world["sales"]))
    assert sales.status_code == 200


def test_memories_outside_are_not_found_exactly_like_missing_ones(
    eng: httpx.Client, world: dict[str, Any]
) -> None:
    def message(response: httpx.Response, mid: str) -> str:
        assert response.status_code == 404, response.text
        _no_leak(response.text, world)
        return str(response.json()["error"]["message"]).replace(mid, "ID")

    missing = "m01ZZZZZZZZZZZZZZZZZZZZZZZZ"
    for mid in [*_outside_memories(world), missing]:
        shapes = {
            message(eng.get(f"/v1/memories/{mid}"), mid),
            message(eng.get(f"/v1/memories/memory:{mid}"), mid),
            message(eng.post("/v1/expand", json={"handle": f"memory:{mid}"}), mid),
        }
        assert shapes == {"no memory 'ID'"}
    own = world["memories"]["acme/eng"]
    assert eng.get(f"/v1/memories/memory:{own}").json()["namespace"] == "acme/eng"
    assert eng.post("/v1/expand", json={"handle": f"memory:{own}"}).json()["records"]


def test_distill_stays_within_the_key(eng: httpx.Client, world: dict[str, Any]) -> None:
    server: RunningServer = world["server"]
    turns = [{"text": f"Sales call {i} about the {SECRET} renewal.", "session": "s9", "seq": i,
              "actor": "c"} for i in (1, 2)]
    with httpx.Client(base_url=server.url, headers=_auth(world["sales"]), timeout=30) as sales:
        assert sales.post("/v1/records", json={"records": turns}).json()["added"] == 2
        before = sales.get("/v1/stats").json()["memories"]
        mine = [{**t, "text": f"Eng sync {t['seq']} on the deploy freeze."} for t in turns]
        assert eng.post("/v1/records", json={"records": mine}).json()["added"] == 2
        above = eng.post("/v1/distill", json={"namespace": "acme"})
        assert above.status_code == 403 and above.json()["error"]["code"] == "access_denied"
        report = eng.post("/v1/distill", json={})
        assert report.json()["namespace"] == "acme/eng"
        assert report.json()["records"] == 2 and report.json()["made"]["episode"] == 1
        _no_leak(report.text, world)
        assert sales.get("/v1/stats").json()["memories"] == before
        theirs = sales.post("/v1/distill", json={}).json()  # still waiting for its own key
        assert theirs["records"] == 2 and theirs["made"]["episode"] == 1
        assert sales.get("/v1/stats").json()["memories"]["episode"] == before["episode"] + 1


def test_writes_land_below_the_prefix(eng: httpx.Client) -> None:
    body = {"records": [{"text": "relative sub-namespace note", "namespace": "notes"}]}
    rid = eng.post("/v1/records", json=body).json()["record_ids"][0]
    assert eng.get(f"/v1/records/{rid}").json()["namespace"] == "acme/eng/notes"
    default = eng.post("/v1/records", json={"records": [{"text": "default namespace note"}]})
    rid = default.json()["record_ids"][0]
    assert eng.get(f"/v1/records/{rid}").json()["namespace"] == "acme/eng"


def test_scopes(world: dict[str, Any]) -> None:
    server: RunningServer = world["server"]
    path = server.runtime.path
    own = world["ids"]["acme/eng"]
    for scope, can_write, can_forget in (("read", False, False), ("write", True, False)):
        key = make_key(path, "acme/eng", scope)
        with httpx.Client(base_url=server.url, headers=_auth(key)) as http:
            added = http.post("/v1/records", json={"records": [{"text": f"{scope} note"}]})
            assert (added.status_code == 200) is can_write, added.text
            forgot = http.post("/v1/forget", json={"ids": [own]})
            assert (forgot.status_code == 200) is can_forget
            assert forgot.json()["error"]["code"] == "access_denied"
            assert http.post("/v1/search", json={"query": "deploy"}).status_code == 200


def test_mcp_tools_across_the_boundary(world: dict[str, Any]) -> None:
    server: RunningServer = world["server"]

    async def run() -> list[tuple[str, bool, str, str]]:
        out = []
        headers = _auth(world["eng"])
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http, Client(
            streamable_http_client(f"{server.url}/mcp", http_client=http)
        ) as client:
            calls: list[tuple[str, dict[str, Any]]] = [
                ("search", {"query": f"deploy freeze {SECRET}", "k": 50}),
                ("search", {"query": f"deploy {SECRET}", "namespace": "acme"}),
                ("search", {"query": "deploy", "namespace": "acme/sales"}),
                ("context", {"query": f"deploy freeze {SECRET}", "namespace": "acme"}),
                ("context", {"query": "deploy", "namespace": "acme/engineering"}),
                ("remember", {"text": "sneaky", "namespace": "acme/sales"}),
                ("memories", {"limit": 200}),
                ("memories", {"namespace": "acme", "kind": "episode"}),
                ("memories", {"namespace": "acme/sales"}),
                ("distill", {"namespace": "acme/sales"}),
                ("distill", {"namespace": "acme"}),
                ("distill", {}),
            ]
            for rid in _outside(world):
                calls += [
                    ("expand", {"handle": f"record:{rid}"}),
                    ("forget", {"ids": [rid], "reason": "probe"}),
                ]
            for mid in _outside_memories(world):
                calls.append(("expand", {"handle": f"memory:{mid}"}))
            for name, args in calls:
                result = await client.call_tool(name, args)
                text = "\n".join(getattr(c, "text", "") for c in result.content)
                out.append((name, bool(result.is_error), text, str(args.get("query", ""))))
        return out

    before = httpx.get(f"{server.url}/v1/stats", headers=_auth(world["sales"])).json()
    results = asyncio.run(run())
    assert "platform team" in results[0][2] and "platform team" in results[3][2]
    listed = [text for name, _, text, _ in results if name == "memories"]
    assert world["memories"]["acme/eng"] in listed[0] and "in acme/eng" in listed[1]
    distilled = [text for name, _, text, _ in results if name == "distill"]
    assert distilled[-1].startswith("Distilled") and "in acme/eng:" in distilled[-1]
    for name, is_error, text, query in results:
        _no_leak(text, world, query)
        if name in ("expand", "forget"):
            assert is_error and ("no record" in text or "no memory" in text), text
    outside = [r for r in results if "outside this key" in r[2]]
    assert {r[0] for r in outside} >= {"search", "context", "remember", "memories", "distill"}
    sales = httpx.get(f"{server.url}/v1/stats", headers=_auth(world["sales"])).json()
    assert sales["records"] == before["records"] >= 2 and sales["forgotten"] == 0
    assert sales["memories"] == before["memories"]


def test_a_key_alone_grants_nothing_beyond_itself(tmp_path: Path) -> None:
    from lore.server.auth import verify_key
    from lore.store.sqlite import SQLiteStore

    path = tmp_path / "lore.db"
    key = make_key(path, "acme/eng", "read")
    store = SQLiteStore(path)
    try:
        assert verify_key(store, key).namespace == "acme/eng"
        forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
        for bad in (forged, key + "x", key.replace("lore_", "lore-"), "", "Bearer " + key):
            with pytest.raises(Exception, match="access key"):
                verify_key(store, bad)
    finally:
        store.close()
