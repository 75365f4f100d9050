"""Coding-agent session logs: three line shapes, tool calls paired with results, bad lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lore import Lore, Record
from lore.ingest import detect_format

DATA = Path(__file__).parent / "data" / "agent_logs"
SESSION = "7c1e2f64-3b0a-4d5e-9f10-2a6b8c9d0e11"


def records(lore: Lore, ids: tuple[str, ...]) -> list[Record]:
    return [lore.get(i) for i in ids]


def test_entry_logs_keep_order_tools_and_session(lore: Lore) -> None:
    path = DATA / "claude-session.jsonl"
    assert detect_format(path) == "agent-logs"
    report = lore.ingest(path)
    assert (report.added, report.failed) == (11, 0), report.problems
    summary, *run = records(lore, report.record_ids)
    assert (summary.kind, summary.text) == ("event", "Fix double charges in the retry worker")
    assert [(r.kind, r.actor) for r in run] == [
        ("message", "user"),
        ("message", "claude-sonnet-4-5"),
        ("tool_call", "claude-sonnet-4-5"),
        ("tool_result", "Grep"),
        ("message", "claude-sonnet-4-5"),
        ("tool_call", "claude-sonnet-4-5"),
        ("tool_result", "Edit"),
        ("tool_call", "claude-sonnet-4-5"),
        ("tool_result", "Bash"),
        ("message", "claude-sonnet-4-5"),
    ]
    assert all(r.session_id == SESSION for r in run) and [r.seq for r in run] == list(range(10))
    grep = run[2]
    assert grep.text == 'call Grep({"pattern": "idempotency_key", "path": "workers/"})'
    assert grep.metadata["gitBranch"] == "fix/retry-idempotency"
    assert run[3].metadata["call_id"] == "toolu_01" and run[3].source.source_id == "u-0004"
    assert run[8].metadata["is_error"] is True
    assert not any("Look at the retry path first" in r.text for r in run)  # thinking skipped
    assert run[4].source.source_id == "u-0005:1" and run[5].source.source_id == "u-0005:2"


def test_rollout_and_plain_message_shapes(lore: Lore) -> None:
    rollout = lore.ingest(DATA / "codex-rollout.jsonl")
    assert (rollout.added, rollout.failed) == (4, 0)
    user, call, result, answer = records(lore, rollout.record_ids)
    assert user.session_id == "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    assert call.text.startswith('call shell({"command": ["kubectl"') and call.actor == "gpt-5-codex"
    assert result.actor == "shell" and "aisha-view created" in result.text
    assert answer.text.startswith("Done: aisha has the view role")
    chat = DATA / "chat-with-tools.jsonl"
    assert detect_format(chat) == "agent-logs"
    plain = lore.ingest(chat)
    kinds = [(r.kind, r.actor) for r in records(lore, plain.record_ids)]
    assert kinds == [
        ("message", "system"), ("message", "user"), ("tool_call", "assistant"),
        ("tool_result", "get_health"), ("message", "assistant"),
    ]


def test_a_grown_session_log_resumes_with_its_counters(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    lines = (DATA / "claude-session.jsonl").read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:9]), encoding="utf-8")  # up to the Bash call
    first = lore.ingest(path)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(lines[9:]))
    grown = lore.ingest(path)
    assert grown.sources[0].status == "appended"
    assert (first.added + grown.added, grown.failed) == (11, 0)
    resumed = records(lore, grown.record_ids)
    assert [r.seq for r in resumed] == [8, 9]
    assert resumed[0].actor == "Bash"  # the tool name was remembered across the two reads


def test_bad_lines_are_reported_by_line_and_the_rest_lands(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    shutil.copy(DATA / "claude-session.jsonl", path)
    entry = {"type": "assistant", "sessionId": SESSION, "uuid": "u-x", "timestamp": "2026-03-02"}
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"type": "user", "message": {"role": "user", "content": "cut\n')
        handle.write("\x00\x01 garbage\n")
        handle.write(json.dumps({**entry, "message": "not an object"}) + "\n")
        handle.write(json.dumps({**entry, "message": {"role": "robot", "content": "x"}}) + "\n")
        handle.write(json.dumps({**entry, "message": {"role": "assistant", "content": 7}}) + "\n")
        handle.write(json.dumps({**entry, "timestamp": "noon", "message": {
            "role": "assistant", "content": "late"}}) + "\n")
        handle.write(json.dumps([1, 2]) + "\n")
        handle.write(json.dumps({"hello": "world"}) + "\n")
        handle.write(json.dumps({**entry, "uuid": "u-last", "message": {
            "role": "assistant", "content": "still lands"}}) + "\n")
    report = lore.ingest(path)
    reasons = {p.line: p.reason for p in report.problems}
    assert reasons[12].startswith("invalid JSON: ")
    assert reasons[13].startswith("invalid JSON: Expecting value")
    assert reasons[14] == "'message' must be an object, got string"
    assert reasons[15].startswith("unknown role 'robot'")
    assert reasons[16] == "'content' must be a string or a list of parts, got number"
    assert "noon" in reasons[17]
    assert reasons[18] == "expected an object, got array"
    assert reasons[19] == "neither a log entry nor a message (no 'type' or 'role')"
    assert (report.added, report.failed) == (12, 8)
    assert lore.get(report.record_ids[-1]).text == "still lands"
