"""The MCP server through the SDK's real client: over stdio (a `lore mcp` subprocess) and HTTP."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from lore.server.testing import make_key, running_server

LORE = str(Path(sys.executable).with_name("lore"))
TOOLS = {"search", "context", "expand", "remember", "forget", "fold", "memories", "distill"}


@pytest.fixture(autouse=True)
def _rules_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """`distill` takes the rule path whatever the developer's environment says."""
    monkeypatch.delenv("LORE_LLM_URL", raising=False)


def _text(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def _exercise(client: Client) -> dict[str, str]:
    """List the tools and call each one, as an agent would; returns each call's text."""
    listed = await client.list_tools()
    assert {t.name for t in listed.tools} == TOOLS
    out: dict[str, str] = {}
    notes = [
        "Decision: we freeze deploys on Fridays after INC-42 (agreed by dana).",
        "The payment webhook retried and booked INV-7 twice; fixed by idempotency keys.",
    ]
    for note in notes:
        args = {"text": note, "actor": "agent", "session": "ops"}
        done = await client.call_tool("remember", args)
        assert not done.is_error and "Remembered as record:" in _text(done)
    again = await client.call_tool("remember", {"text": notes[0], "actor": "agent",
                                                "session": "ops"})
    assert "Already remembered" in _text(again)
    none = await client.call_tool("memories", {})
    assert not none.is_error and "No memories" in _text(none) and "distill" in _text(none)
    made = await client.call_tool("distill", {})
    out["distill"] = _text(made)
    assert not made.is_error and out["distill"].startswith("Distilled 2 new records in 1")
    assert "1 episode" in out["distill"] and "0 LLM calls" in out["distill"]
    twice = await client.call_tool("distill", {})
    assert "nothing new" in _text(twice)
    listed = await client.call_tool("memories", {"kind": "episode", "limit": 5})
    out["memories"] = _text(listed)
    assert not listed.is_error and out["memories"].startswith("1 memory in team/agents")
    assert "· episode ·" in out["memories"] and " evidence" in out["memories"]
    memory = out["memories"].split("memory:", 1)[1].split()[0]
    evidence = await client.call_tool("expand", {"handle": f"memory:{memory}"})
    assert not evidence.is_error and "INC-42" in _text(evidence)
    earlier = await client.call_tool("memories", {"as_of": "2000-01-01"})
    assert "No memories" in _text(earlier) and "as of 2000-01-01" in _text(earlier)
    wrong = await client.call_tool("memories", {"as_of": "someday"})
    assert wrong.is_error and "not a date" in _text(wrong)
    found = await client.call_tool("search", {"query": "why no deploys on Friday?", "k": 3})
    out["search"] = _text(found)
    assert not found.is_error and "record:" in out["search"] and "INC-42" in out["search"]
    pack = await client.call_tool("context", {"query": "Friday deploys", "budget_tokens": 200})
    out["context"] = _text(pack)
    assert not pack.is_error and "[1]" in out["context"] and "tokens" in out["context"]
    handle = out["search"].split("record:", 1)[1].split()[0]
    shown = await client.call_tool("expand", {"handle": f"record:{handle}", "window": 1})
    out["expand"] = _text(shown)
    assert not shown.is_error and ">" in out["expand"]
    gone = await client.call_tool("forget", {"ids": [f"record:{handle}"], "reason": "test"})
    out["forget"] = _text(gone)
    assert not gone.is_error and out["forget"].startswith("Forgot 1 record")
    missing = await client.call_tool("expand", {"handle": f"record:{handle}"})
    assert missing.is_error and "no record" in _text(missing) and "Traceback" not in _text(missing)
    bad = await client.call_tool("search", {"query": "x", "since": "last tuesday-ish"})
    assert bad.is_error and "not a date" in _text(bad)
    invalid = await client.call_tool("search", {"query": "x", "k": 500})
    assert invalid.is_error
    return out


def test_stdio_session(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    key = make_key(db, "team/agents", "admin")
    params = StdioServerParameters(
        command=LORE, args=["--db", str(db), "--embedder", "hash", "mcp"],
        env={**os.environ, "LORE_KEY": key},
    )

    async def run() -> dict[str, str]:
        async with Client(params) as client:
            return await _exercise(client)

    out = asyncio.run(asyncio.wait_for(run(), 120))
    assert "team/agents" in out["search"]


def test_stdio_refuses_a_bad_key(tmp_path: Path) -> None:
    import subprocess

    db = tmp_path / "lore.db"
    make_key(db, "team", "read")
    done = subprocess.run(
        [LORE, "--db", str(db), "--embedder", "hash", "mcp"],
        env={**os.environ, "LORE_KEY": "lore_000000000000_" + "x" * 43},
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1 and done.stderr.startswith("error: invalid access key")


def test_http_session(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    with running_server(db) as server:
        key = make_key(db, "team/agents", "admin")

        async def run() -> dict[str, str]:
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx2.AsyncClient(headers=headers, timeout=30) as http, Client(
                streamable_http_client(f"{server.url}/mcp", http_client=http)
            ) as client:
                return await _exercise(client)

        out = asyncio.run(asyncio.wait_for(run(), 120))
        assert "team/agents" in out["search"]


def test_http_mcp_needs_a_key(tmp_path: Path) -> None:
    import httpx

    with running_server(tmp_path / "lore.db") as server:
        response = httpx.post(f"{server.url}/mcp", json={"jsonrpc": "2.0", "id": 1,
                                                        "method": "tools/list"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"


def test_read_key_cannot_remember_or_distill_and_says_why(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    with running_server(db) as server:
        key = make_key(db, "team", "read")

        async def run() -> Any:
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx2.AsyncClient(headers=headers, timeout=30) as http, Client(
                streamable_http_client(f"{server.url}/mcp", http_client=http)
            ) as client:
                return [await client.call_tool("remember", {"text": "hello"}),
                        await client.call_tool("distill", {}),
                        await client.call_tool("memories", {})]

        remembered, distilled, listed = asyncio.run(run())
        assert remembered.is_error and "needs a write key" in _text(remembered)
        assert distilled.is_error and "distill needs a write key" in _text(distilled)
        assert not listed.is_error and "No memories in team" in _text(listed)


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_every_tool_and_argument_is_described(tool: str, tmp_path: Path) -> None:
    from lore.server.mcp import build_mcp
    from lore.server.runtime import Runtime

    with Runtime(tmp_path / "lore.db", embedder="hash") as runtime:

        async def key(ctx: Any) -> Any:
            raise AssertionError("not called")

        tools = {t.name: t for t in asyncio.run(build_mcp(runtime, key).list_tools())}
    spec = tools[tool]
    assert spec.description and len(spec.description) > 80, f"{tool} needs a description"
    assert spec.annotations is not None
    for name, prop in spec.input_schema["properties"].items():
        assert prop.get("description"), f"{tool}.{name} has no description"
