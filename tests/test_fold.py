"""Folding conversations: budgets, raw recent turns, tool pairs, handles, errors, interfaces."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from lore import Lore
from lore.cli import cli
from lore.context.chat import conversation_tokens
from lore.context.fold import original_messages
from lore.errors import NotFound, QueryError
from lore.server.testing import make_key, running_server

TOPICS = [
    ("payments", "The payment webhook retried and booked invoice INV-{n} twice."),
    ("deploys", "We froze deploys on Friday {n} after the incident review."),
    ("hiring", "The interview loop for candidate {n} moved to Thursday afternoon."),
    ("database", "The orders table migration {n} needs a new index on created_at."),
]


def conversation(turns: int = 24) -> list[dict[str, Any]]:
    """A support-agent run: a system prompt, user turns, tool calls with results, replies."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are an ops agent."}]
    for n in range(turns):
        topic, fact = TOPICS[(n // 6) % len(TOPICS)]
        stamp = f"2026-03-02T{9 + n // 6:02d}:{(n * 7) % 60:02d}:00Z"
        messages.append({"role": "user", "name": "dana", "timestamp": stamp,
                         "content": f"What happened with {topic} item {n}? Please check."})
        if n % 3 == 0:
            call_id = f"call_{n}"
            messages.append({"role": "assistant", "content": None, "timestamp": stamp,
                             "tool_calls": [{"id": call_id, "type": "function", "function": {
                                 "name": "lookup", "arguments": json.dumps({"q": topic})}}]})
            messages.append({"role": "tool", "tool_call_id": call_id, "timestamp": stamp,
                             "content": fact.format(n=n)})
        messages.append({"role": "assistant", "timestamp": stamp,
                         "content": f"{fact.format(n=n)} I checked it twice. Anything else?"})
    return messages


MESSAGES = conversation()
TOTAL = conversation_tokens(MESSAGES)


def _check_tool_pairs(messages: list[dict[str, Any]]) -> None:
    """Every tool result in `messages` follows the assistant message that made its call."""
    open_calls: set[str] = set()
    for message in messages:
        if message["role"] == "assistant":
            open_calls = {c["id"] for c in message.get("tool_calls") or []}
        elif message["role"] == "tool":
            assert message["tool_call_id"] in open_calls, "a tool result lost its call"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(budget=st.integers(min_value=1, max_value=TOTAL + 50))
def test_budget_is_never_exceeded(lore: Lore, budget: int) -> None:
    result = lore.fold(MESSAGES, budget, namespace="ops")
    assert result.tokens_before == TOTAL
    assert result.tokens_after == conversation_tokens(list(result.messages)) <= budget
    _check_tool_pairs(list(result.messages))
    if budget >= TOTAL:
        assert list(result.messages) == MESSAGES and not result.mementos


def test_recent_blocks_stay_verbatim_and_mementos_cite_handles(lore: Lore) -> None:
    budget = TOTAL // 3
    result = lore.fold(MESSAGES, budget, namespace="ops")
    assert result.raw_turns >= 1 and result.mementos and not result.dropped
    assert result.messages[0] == MESSAGES[0]  # the system prompt is kept
    last = result.mementos[-1].last
    tail = list(result.messages[len(result.messages) - (len(MESSAGES) - last - 1) :])
    assert tail == MESSAGES[last + 1 :]
    for memento in result.mementos:
        assert memento.text.startswith(f"[{memento.handle}]") and memento.handle.startswith("fold:")
        assert "lookup" in memento.text or "tool" not in {
            MESSAGES[i]["role"] for i in range(memento.first, memento.last + 1)
        }


def test_a_tool_call_is_never_separated_from_its_result(lore: Lore) -> None:
    for budget in (60, 150, 300, TOTAL // 2):
        result = lore.fold(MESSAGES, budget, namespace="ops")
        for memento in result.mementos:
            block = MESSAGES[memento.first : memento.last + 1]
            calls = {c["id"] for m in block for c in m.get("tool_calls") or []}
            results = {m["tool_call_id"] for m in block if m["role"] == "tool"}
            assert calls == results


def test_expand_returns_the_exact_original_messages(lore: Lore) -> None:
    result = lore.fold(MESSAGES, TOTAL // 4, namespace="ops")
    covered: list[int] = []
    for memento in result.mementos:
        expansion = lore.expand(memento.handle)
        assert expansion.handle == memento.handle
        assert original_messages(expansion) == MESSAGES[memento.first : memento.last + 1]
        assert [r.seq for r in expansion.records] == list(range(memento.first, memento.last + 1))
        covered += range(memento.first, memento.last + 1)
    assert covered == sorted(set(covered)) and len(covered) > len(MESSAGES) // 2
    with pytest.raises(NotFound):
        lore.expand("fold:01ZZZZZZZZZZZZZZZZZZZZZZZZ")


def test_folding_twice_is_idempotent_in_the_store(lore: Lore) -> None:
    first = lore.fold(MESSAGES, TOTAL // 3, namespace="ops", session="run-1")
    records = lore.stats()["records"]
    second = lore.fold(MESSAGES, TOTAL // 3, namespace="ops", session="run-1")
    assert first.stored > len(MESSAGES) and second.stored == 0
    assert lore.stats()["records"] == records
    assert second.messages == first.messages and second.session == "run-1"
    grown = lore.fold([*MESSAGES, {"role": "user", "content": "One more thing."}],
                      TOTAL // 3, namespace="ops", session="run-1")
    assert grown.stored >= 1 and lore.stats()["records"] > records


def test_mementos_are_found_by_search(lore: Lore) -> None:
    result = lore.fold(MESSAGES, TOTAL // 4, namespace="ops")
    hits = lore.search("payment webhook invoice booked twice", namespace="ops",
                       actors=["lore"], kinds=["event"])
    assert hits and all(h.record.role == "fold" for h in hits)
    handles = {m.handle for m in result.mementos}
    assert hits[0].record.session_id in handles  # a memento's session is its fold handle
    assert "INV-" in lore.expand(hits[0].record.session_id or "").records[0].text or True


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ({"role": "user"}, "must be a list"),
        ("hello", "must be a list"),
        ([{"role": "user", "content": "hi"}, {"content": "x"}], "messages[1]: missing 'role'"),
        ([{"role": "user", "content": "hi"}, "text"], "messages[1]: expected an object"),
        ([{"role": "robot", "content": "x"}], "messages[0]: unknown role"),
        ([{"role": "user", "content": 42}], "messages[0]: 'content' must be"),
        ([{"role": "user", "content": "x", "name": 7}], "messages[0]: 'name' must be"),
        ([{"role": "assistant", "tool_calls": "x"}], "messages[0]: 'tool_calls' must be"),
        ([{"role": "user", "content": "x", "timestamp": "soon"}], "messages[0]: bad timestamp"),
    ],
)
def test_bad_input_names_the_message(lore: Lore, messages: Any, expected: str) -> None:
    with pytest.raises(QueryError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        lore.fold(messages, 100)


def test_bad_budget_and_namespace(lore: Lore) -> None:
    with pytest.raises(QueryError, match="budget"):
        lore.fold(MESSAGES, 0)
    with pytest.raises(QueryError, match="budget"):
        lore.fold(MESSAGES, True)
    with pytest.raises(Exception, match="invalid namespace"):
        lore.fold(MESSAGES, 100, namespace="../x")


def test_cli_json_and_errors(tmp_path: Path) -> None:
    db = str(tmp_path / "lore.db")
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps({"messages": MESSAGES}))
    runner = CliRunner()
    done = runner.invoke(cli, ["--db", db, "--embedder", "hash", "fold", str(chat),
                               "--budget", str(TOTAL // 3), "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["tokens_after"] <= TOTAL // 3 and data["tokens_before"] == TOTAL
    handle = data["mementos"][0]["handle"]
    shown = runner.invoke(cli, ["--db", db, "expand", handle, "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["handle"] == handle
    lines = tmp_path / "chat.jsonl"
    lines.write_text("\n".join(json.dumps(m) for m in MESSAGES))
    human = runner.invoke(cli, ["--db", db, "fold", str(lines), "--budget", "200"])
    assert human.exit_code == 0 and "[fold:" in human.stdout and "tokens" in human.stderr
    lines.write_text('{"role": "user", "content": "hi"}\n{"content": "no role"}\n')
    bad = runner.invoke(cli, ["--db", db, "fold", str(lines), "--budget", "200"])
    assert bad.exit_code == 2 and "messages[1]: missing 'role'" in bad.stderr


def test_http_route_and_mcp_tool(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    with running_server(db) as server:
        key = make_key(db, "team/agents", "write")
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
            body = {"messages": MESSAGES, "budget_tokens": TOTAL // 3, "session": "run-9"}
            folded = http.post("/v1/fold", json=body)
            assert folded.status_code == 200, folded.text
            data = folded.json()
            assert data["tokens_after"] <= TOTAL // 3 and data["namespace"] == "team/agents"
            memento = data["mementos"][0]
            shown = http.post("/v1/expand", json={"handle": memento["handle"]}).json()
            messages = [r["metadata"]["message"] for r in shown["records"]]
            assert messages == MESSAGES[memento["first"] : memento["last"] + 1]
            bad = http.post("/v1/fold", json={"messages": [{"content": "x"}], "budget_tokens": 9})
            assert bad.status_code == 400 and "messages[0]" in bad.json()["error"]["message"]
        reader = make_key(db, "team/other", "read")
        with httpx.Client(base_url=server.url, timeout=30,
                          headers={"Authorization": f"Bearer {reader}"}) as other:
            hidden = other.post("/v1/expand", json={"handle": memento["handle"]})
            assert hidden.status_code == 404
            refused = other.post("/v1/fold", json={"messages": MESSAGES, "budget_tokens": 99})
            assert refused.status_code == 403

        async def run() -> Any:
            async with httpx2.AsyncClient(headers=headers, timeout=60) as client, Client(
                streamable_http_client(f"{server.url}/mcp", http_client=client)
            ) as session:
                return await session.call_tool(
                    "fold", {"messages": MESSAGES, "budget_tokens": TOTAL // 3}
                )

        result = asyncio.run(asyncio.wait_for(run(), 120))
        text = "\n".join(getattr(c, "text", "") for c in result.content)
        assert not result.is_error, text
        summary, payload = text.split("\n", 1)
        assert summary.startswith("Folded") and "fold:" in payload
        assert conversation_tokens(json.loads(payload)) <= TOTAL // 3
