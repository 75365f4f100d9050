"""The HTTP API against a real uvicorn server on a loopback port: routes, errors, limits, paging."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lore.server.http import Limits
from lore.server.testing import RunningServer, make_key, running_server

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "lore" / "samples" / "workspace"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    path = tmp_path_factory.mktemp("http") / "lore.db"
    with running_server(path, limits=Limits(body=64 * 1024, upload=256 * 1024)) as running:
        yield running


def _client(server: RunningServer, namespace: str, scope: str = "admin") -> httpx.Client:
    key = make_key(server.runtime.path, namespace, scope)
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def _error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]  # type: ignore[no-any-return]


def test_health_needs_no_key_and_docs_are_served(server: RunningServer) -> None:
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"
    schema = httpx.get(f"{server.url}/openapi.json").json()
    assert {"/v1/search", "/v1/context", "/v1/expand", "/v1/forget", "/v1/records",
            "/v1/ingest", "/v1/stats", "/v1/distill", "/v1/memories",
            "/v1/memories/{memory_id}"} <= set(schema["paths"])
    assert "swagger" in httpx.get(f"{server.url}/docs").text.lower()


def test_add_search_context_expand_forget_round_trip(server: RunningServer) -> None:
    with _client(server, "trip") as http:
        records = [
            {"text": "We freeze deploys on Fridays after INC-42.", "actor": "dana",
             "session": "ops", "seq": 1},
            {"text": "Agreed, no Friday deploys until the payment retries are fixed.",
             "actor": "sam", "session": "ops", "seq": 2},
            {"text": "Lunch is at noon.", "actor": "kim", "session": "ops", "seq": 3},
        ]
        added = http.post("/v1/records", json={"records": records}).json()
        assert added["added"] == 3 and len(added["record_ids"]) == 3
        again = http.post("/v1/records", json={"records": records}).json()
        assert again["added"] == 0 and again["duplicates"] == 3

        found = http.post("/v1/search", json={"query": "Friday deploy freeze", "k": 2}).json()
        assert found["query"]["filters"]["namespace"] == "trip"
        assert found["hits"][0]["record"]["actor"] in {"dana", "sam"}
        assert found["hits"][0]["why"]

        pack = http.post("/v1/context", json={"query": "Friday deploys", "budget_tokens": 200})
        body = pack.json()
        assert pack.status_code == 200 and 0 < body["tokens"] <= 200
        assert "record:" in body["markdown"]
        handle = body["fragments"][0]["id"]

        expanded = http.post("/v1/expand", json={"handle": handle, "window": 1}).json()
        assert expanded["focus"] and expanded["records"]

        one = added["record_ids"][2]
        assert http.get(f"/v1/records/record:{one}").json()["text"] == "Lunch is at noon."
        gone = http.post("/v1/forget", json={"ids": [f"record:{one}"], "reason": "noise"})
        assert gone.json() == {"forgotten": [one]}
        _error(http.get(f"/v1/records/{one}"), 404, "not_found")
        stats = http.get("/v1/stats").json()
        assert stats["records"] == 2 and stats["forgotten"] == 1 and "path" not in stats


def test_ingest_upload_is_idempotent_and_names_the_upload(server: RunningServer) -> None:
    sample = SAMPLES / "chat" / "payments.jsonl"
    with _client(server, "upload", "write") as http:
        files = {"file": ("payments.jsonl", sample.read_bytes())}
        first = http.post("/v1/ingest", files=files, data={"format": "jsonl"}).json()
        assert first["added"] > 5 and first["failed"] == 0
        second = http.post("/v1/ingest", files=files, data={"format": "jsonl"}).json()
        assert second["added"] == 0 and second["duplicates"] == first["added"]
        listed = http.get("/v1/records", params={"limit": 1}).json()
        assert listed["records"][0]["source"]["uri"] == "upload:payments.jsonl"

        bad = {"file": ("broken.jsonl", b'{"text": "fine", "actor": "a"}\nnot json\n')}
        report = http.post("/v1/ingest", files=bad, data={"format": "jsonl"}).json()
        assert report["failed"] == 1
        assert report["problems"][0]["file"] == "broken.jsonl"
        assert report["problems"][0]["line"] == 2
        unknown = http.post("/v1/ingest", files=bad, data={"format": "nope"})
        assert "unknown format" in _error(unknown, 400, "invalid_argument")["message"]


def test_pagination_of_search_and_records(server: RunningServer) -> None:
    with _client(server, "pages", "write") as http:
        texts = [{"text": f"release note number {i} about the billing service"} for i in range(25)]
        assert http.post("/v1/records", json={"records": texts}).json()["added"] == 25
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
            page = http.get("/v1/records", params=params).json()
            seen += [r["id"] for r in page["records"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 25 and seen == sorted(seen)

        hits: list[str] = []
        body: dict[str, object] = {"query": "billing release note", "k": 10, "mode": "fts"}
        while True:
            page = http.post("/v1/search", json=body).json()
            hits += [h["record"]["id"] for h in page["hits"]]
            if page["next_cursor"] is None:
                break
            body["cursor"] = page["next_cursor"]
        assert len(hits) == len(set(hits)) == 25
        _error(http.post("/v1/search", json={"query": "x", "cursor": "abc"}), 400, "invalid_query")


def test_error_envelope_for_each_failure(server: RunningServer) -> None:
    url = server.url
    _error(httpx.post(f"{url}/v1/search", json={"query": "x"}), 401, "unauthenticated")
    bad = httpx.post(
        f"{url}/v1/search", json={"query": "x"}, headers={"Authorization": "Bearer lore_nope"}
    )
    assert bad.headers["www-authenticate"].startswith("Bearer")
    _error(bad, 401, "unauthenticated")
    with _client(server, "errs", "read") as http:
        _error(http.post("/v1/records", json={"records": [{"text": "x"}]}), 403, "access_denied")
        _error(http.post("/v1/search", json={"query": "x", "k": 0}), 422, "invalid_request")
        _error(http.post("/v1/search", content=b"{not json", headers={
            "Content-Type": "application/json"}), 422, "invalid_request")
        _error(http.post("/v1/search", json={"query": "x", "since": "2026-03-02",
                                             "until": "2026-03-01"}), 400, "invalid_query")
        _error(http.post("/v1/search", json={"query": "x", "namespace": "bad name"}), 422,
               "invalid_request")
        _error(http.get("/v1/stats", params={"namespace": "../etc"}), 422, "invalid_request")
        _error(http.post("/v1/expand", json={"handle": "nonsense"}), 400, "invalid_query")
        _error(http.post("/v1/expand", json={"handle": "record:01ABSENT"}), 404, "not_found")
        _error(http.get("/v1/nothing-here"), 404, "not_found")
        _error(http.delete("/v1/search"), 405, "method_not_allowed")
        big = {"query": "x" * 70_000}
        _error(http.post("/v1/search", json=big), 413, "payload_too_large")


def test_streamed_body_over_the_limit_is_413(server: RunningServer) -> None:
    key = make_key(server.runtime.path, "stream", "write")

    def chunks() -> Iterator[bytes]:
        yield b'{"records": [{"text": "'
        for _ in range(100):
            yield b"y" * 1024
        yield b'"}]}'

    response = httpx.post(
        f"{server.url}/v1/records", content=chunks(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    _error(response, 413, "payload_too_large")


def test_revoked_key_stops_working_at_once(server: RunningServer, tmp_path: Path) -> None:
    from lore.server.auth import list_keys, revoke_key
    from lore.store.sqlite import SQLiteStore

    with _client(server, "revoked", "read") as http:
        assert http.get("/v1/stats").status_code == 200
        store = SQLiteStore(server.runtime.path)
        try:
            key_id = next(k.id for k in list_keys(store) if k.namespace == "revoked")
            revoke_key(store, key_id)
        finally:
            store.close()
        assert "revoked" in _error(http.get("/v1/stats"), 401, "unauthenticated")["message"]


def test_no_auth_refuses_anything_but_loopback(tmp_path: Path) -> None:
    from lore.errors import LoreError
    from lore.server.http import create_app
    from lore.server.runtime import Runtime

    with Runtime(tmp_path / "lore.db", embedder="hash") as runtime:
        with pytest.raises(LoreError, match="refuses to bind"):
            create_app(runtime, auth=False, host="0.0.0.0")
        create_app(runtime, auth=False, host="127.0.0.1")


def test_no_auth_serves_every_namespace_on_loopback(tmp_path: Path) -> None:
    with running_server(tmp_path / "lore.db", auth=False) as running, httpx.Client(
        base_url=running.url
    ) as http:
        records = {"namespace": "a/b", "records": [{"text": "open to all on loopback"}]}
        assert http.post("/v1/records", json=records).json()["added"] == 1
        assert http.get("/v1/stats").json()["namespaces"] == {"a/b": 1}


CHAT = [
    {"text": "I live in Berlin and love it.", "actor": "alice", "session": "m1", "seq": 1,
     "occurred_at": "2023-01-05T12:00:00Z"},
    {"text": "We decided to ship the billing service on Friday.", "actor": "bob",
     "session": "m1", "seq": 2, "occurred_at": "2023-01-05T12:01:00Z"},
    {"text": "Big news: I moved to Lisbon last month!", "actor": "alice", "session": "m2",
     "seq": 1, "occurred_at": "2024-03-01T12:00:00Z"},
    {"text": "Congratulations, Alice!", "actor": "bob", "session": "m2", "seq": 2,
     "occurred_at": "2024-03-01T12:01:00Z"},
]


def test_distill_then_list_page_and_get_memories(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LORE_LLM_URL", raising=False)
    with _client(server, "mem", "write") as http:
        added = http.post("/v1/records", json={"records": CHAT}).json()
        assert added["added"] == 4
        report = http.post("/v1/distill", json={}).json()
        assert report["namespace"] == "mem" and report["method"] == "rules-v1"
        assert report["records"] == 4 and report["sessions"] == 2
        assert report["made"]["fact"] >= 2 and report["made"]["episode"] == 2
        assert report["made"]["decision"] == 1 and report["superseded"] >= 1
        assert report["llm_calls"] == 0 and report["tokens"] == 0 and report["seconds"] >= 0
        again = http.post("/v1/distill", json={"namespace": "mem"}).json()
        assert again["made"] == {} and again["records"] == 0  # idempotent

        def residences(params: dict[str, str]) -> list[dict[str, object]]:
            page = http.get("/v1/memories", params={"kind": "fact", **params}).json()
            return [m for m in page["memories"] if m["attribute"] == "residence"]

        (lisbon,) = residences({})
        assert lisbon["value"] == "Lisbon" and lisbon["kind"] == "fact"
        assert lisbon["handle"] == f"memory:{lisbon['id']}" and lisbon["namespace"] == "mem"
        assert lisbon["evidence"] == [added["record_ids"][2]]
        assert [m["value"] for m in residences({"as_of": "2023-06-01"})] == ["Berlin"]
        history = http.get("/v1/memories", params={
            "kind": ["fact", "decision"], "include_superseded": "true"}).json()
        assert {m["kind"] for m in history["memories"]} == {"fact", "decision"}
        berlin = next(m for m in history["memories"] if m["value"] == "Berlin")
        assert berlin["superseded_by"] == lisbon["id"] and berlin["valid_to"]

        params = {"include_superseded": "true"}
        everything = http.get("/v1/memories", params=params).json()["memories"]
        assert len(everything) >= 5
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, "include_superseded": "true", **(
                {"cursor": cursor} if cursor else {})}
            page = http.get("/v1/memories", params=params).json()
            seen += [m["id"] for m in page["memories"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [m["id"] for m in everything]

        one = http.get(f"/v1/memories/{berlin['handle']}").json()
        assert one == berlin and one["evidence"] == [added["record_ids"][0]]
        expanded = http.post("/v1/expand", json={"handle": berlin["handle"]}).json()
        assert [r["text"] for r in expanded["records"]] == [CHAT[0]["text"]]
        _error(http.get("/v1/memories/01ZZZZZZZZZZZZZZZZZZZZZZZZ"), 404, "not_found")
        _error(http.get("/v1/memories/a:b"), 400, "invalid_query")
        _error(http.get("/v1/memories", params={"cursor": "x"}), 400, "invalid_query")
        _error(http.get("/v1/memories", params={"kind": "rumour"}), 422, "invalid_request")

        stats = http.get("/v1/stats").json()
        assert stats["memories"] == dict(Counter(m["kind"] for m in everything))
        assert stats["distill_failures"] == 0


def test_distill_reports_llm_calls_tokens_and_pending_failures(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lore.llm.testing import scripted_chat

    with _client(server, "llm", "write") as http, scripted_chat(["not JSON at all"]) as chat:
        monkeypatch.setenv("LORE_LLM_URL", chat.url)
        monkeypatch.setenv("LORE_LLM_MODEL", "tiny")
        assert http.post("/v1/records", json={"records": CHAT[2:]}).json()["added"] == 2
        report = http.post("/v1/distill", json={}).json()
        assert report["method"] == "llm:tiny" and report["llm_calls"] == 3
        assert report["tokens"] == 360 and report["failures"] == 1
        assert report["made"]["episode"] == 1  # the rule path meanwhile
        assert http.get("/v1/stats").json()["distill_failures"] == 1
        retried = http.post("/v1/distill", json={"retry_failed": True}).json()
        assert retried["failures"] == 1 and retried["llm_calls"] == 3
        monkeypatch.delenv("LORE_LLM_URL")
        needs = _error(http.post("/v1/distill", json={"retry_failed": True}), 400,
                       "invalid_argument")
        assert "LORE_LLM_URL" in str(needs["details"])
    with _client(server, "llm", "read") as http:
        assert http.get("/v1/stats").json()["distill_failures"] == 1
        _error(http.post("/v1/distill", json={}), 403, "access_denied")
        assert http.get("/v1/memories").json()["memories"]
