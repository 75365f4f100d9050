"""The README's headless examples run as written: key and serve lines, curl calls, MCP configs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parents[1]
LORE = str(Path(sys.executable).with_name("lore"))
README = (ROOT / "README.md").read_text()
SECTION = README.split("## Headless: HTTP API and MCP\n", 1)[1].split("\n## ", 1)[0]
PORT = "8765"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", SECTION, flags=re.S)


def _commands(block: str) -> list[str]:
    """Shell commands of a block, continuation lines joined."""
    return [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The README's first block run as written (the port aside) on a fresh store."""
    db = tmp_path_factory.mktemp("readme") / "lore.db"
    env = {**os.environ, "LORE_DB": str(db), "PATH": f"{Path(LORE).parent}:{os.environ['PATH']}"}
    env.pop("LORE_LLM_URL", None)  # the README's distill takes the rule path
    subprocess.run([LORE, "--embedder", "hash", "init"], env=env, check=True,
                   capture_output=True)
    export, serve = _commands(_blocks("bash")[0])
    assert export.startswith("export LORE_KEY=$(lore keys create")
    made = subprocess.run(["bash", "-c", f'{export} && printf %s "$LORE_KEY"'], env=env,
                          capture_output=True, text=True, check=True, cwd=ROOT)
    key = made.stdout.strip()
    assert key.startswith("lore_")
    port = _free_port()
    argv = shlex.split(serve.split("#")[0].replace(PORT, port))
    assert argv[:2] == ["lore", "serve"]
    process = subprocess.Popen([LORE, *argv[1:]], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "lore serve did not start"
            time.sleep(0.1)
        yield {"url": url, "port": port, "key": key, "db": str(db)}
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl binary on this machine")
def test_curl_examples(served: dict[str, str]) -> None:
    env = {**os.environ, "LORE_KEY": served["key"]}
    outputs: list[Any] = []
    for command in _commands(_blocks("bash")[1]):
        assert command.startswith("curl ")
        command = command.replace(PORT, served["port"])
        if "record:ID" in command:
            hit = next(o for o in outputs if isinstance(o, dict) and o.get("hits"))
            command = command.replace("record:ID", f"record:{hit['hits'][0]['record']['id']}")
        done = subprocess.run(["bash", "-c", command], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, f"{command}\n{done.stderr}"
        body = json.loads(done.stdout)
        assert "error" not in body, f"{command}\n{done.stdout}"
        outputs.append(body)
    added, ingested, found, pack = outputs[1], outputs[2], outputs[3], outputs[4]
    assert added["added"] == 1 and ingested["added"] > 5 and ingested["failed"] == 0
    assert "INC-42" in json.dumps(found["hits"])
    assert pack["tokens"] <= 300 and "record:" in pack["markdown"]
    assert outputs[5]["focus"] and outputs[-1]["namespace"] == "northwind"
    distilled, memories = outputs[6], outputs[7]
    assert distilled["namespace"] == "northwind" and distilled["made"]["episode"] >= 1
    assert distilled["records"] > 5 and distilled["llm_calls"] == 0
    episodes = memories["memories"]
    assert 1 <= len(episodes) <= 5 and {m["kind"] for m in episodes} == {"episode"}
    assert all(m["evidence"] for m in episodes)
    assert outputs[-1]["memories"]["episode"] == distilled["made"]["episode"]


def _configs() -> list[dict[str, Any]]:
    return [json.loads(block)["mcpServers"]["lore"] for block in _blocks("json")]


async def _use(client: Client) -> str:
    tools = await client.list_tools()
    expected = {"search", "context", "expand", "remember", "forget", "fold", "memories",
                "distill"}
    assert {t.name for t in tools.tools} == expected
    done = await client.call_tool("remember", {"text": "README configs connect for real."})
    assert not done.is_error, done
    found = await client.call_tool("search", {"query": "README configs"})
    return "\n".join(getattr(c, "text", "") for c in found.content)


def _stdio(command: str, args: list[str], env: dict[str, str], served: dict[str, str]) -> str:
    assert command == "lore"
    args = [served["db"] if a == "/path/to/team/lore.db" else a for a in args]
    env = {k: served["key"] if v == "lore_..." else v for k, v in env.items()}
    params = StdioServerParameters(command=LORE, args=args, env={**os.environ, **env})

    async def run() -> str:
        async with Client(params) as client:
            return await _use(client)

    return asyncio.run(asyncio.wait_for(run(), 120))


def _http(url: str, headers: dict[str, str], served: dict[str, str]) -> str:
    url = url.replace(PORT, served["port"])
    headers = {k: v.replace("lore_...", served["key"]) for k, v in headers.items()}

    async def run() -> str:
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http, Client(
            streamable_http_client(url, http_client=http)
        ) as client:
            return await _use(client)

    return asyncio.run(asyncio.wait_for(run(), 120))


def test_claude_desktop_and_cursor_configs(served: dict[str, str]) -> None:
    desktop, cursor = _configs()
    out = _stdio(desktop["command"], desktop["args"], desktop["env"], served)
    assert "README configs connect for real." in out
    out = _http(cursor["url"], cursor["headers"], served)
    assert "README configs connect for real." in out


def test_claude_code_commands(served: dict[str, str]) -> None:
    stdio, http = (shlex.split(c) for c in _commands(_blocks("bash")[2]))
    assert stdio[:4] == ["claude", "mcp", "add", "lore"] and "--" in stdio
    name, value = stdio[stdio.index("--env") + 1].split("=", 1)
    command = stdio[stdio.index("--") + 1 :]
    assert "README configs" in _stdio(command[0], command[1:], {name: value}, served)
    assert http[:5] == ["claude", "mcp", "add", "--transport", "http"]
    url = http[6]
    header, _, value = http[http.index("--header") + 1].partition(": ")
    out = _http(url, {header: value}, served)
    assert "README configs" in out
