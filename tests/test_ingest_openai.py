"""The OpenAI chat-messages connector: runs, tool calls and results, and bad messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lore import Lore, Record
from lore.ingest import detect_format
from lore.ingest.openai_chat import OpenAIChatConnector
from lore.types import Draft, IngestProblem


@pytest.fixture
def lore(tmp_path: Path) -> Iterator[Lore]:
    with Lore.open(tmp_path / "lore.db", embedder="hash") as store:
        yield store


def stored(lore: Lore, ids: tuple[str, ...]) -> list[Record]:
    return [lore.get(record_id) for record_id in ids]


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


WEATHER = [
    {"role": "system", "content": "You are a weather bot."},
    {"role": "user", "name": "ana", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "get_time", "arguments": "{}"},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "14:05"}]},
    {"role": "assistant", "content": "It is 18C and sunny in Paris at 14:05."},
]


def test_a_message_list_becomes_messages_tool_calls_and_results(lore: Lore, tmp_path: Path) -> None:
    path = write_json(tmp_path / "weather-run.json", WEATHER)
    report = lore.ingest(path)
    assert (report.added, report.duplicates, report.failed) == (8, 0, 0)
    records = stored(lore, report.record_ids)
    assert [(r.kind, r.actor, r.seq) for r in records] == [
        ("message", "system", 0),
        ("message", "ana", 1),
        ("message", "assistant", 2),
        ("tool_call", "assistant", 3),
        ("tool_call", "assistant", 4),
        ("tool_result", "tool", 5),
        ("tool_result", "tool", 6),
        ("message", "assistant", 7),
    ]
    assert {r.session_id for r in records} == {"weather-run"}
    assert {r.source.connector for r in records} == {"openai"}
    call, other_call = records[3], records[4]
    assert call.text == 'call get_weather({"city": "Paris"})'
    assert call.metadata["tool"] == "get_weather"
    assert call.metadata["call_id"] == "call_1"
    assert call.metadata["arguments"] == {"city": "Paris"}
    assert other_call.text == "call get_time({})"
    result, time_result = records[5], records[6]
    assert result.text == "18C, sunny"
    assert (result.metadata["tool_call_id"], result.metadata["tool"]) == ("call_1", "get_weather")
    assert (time_result.text, time_result.metadata["tool"]) == ("14:05", "get_time")
    # Line numbers are where each message starts in the file (indent=2 puts the first on line 2).
    assert records[0].metadata["line"] == 2
    assert records[1].metadata["line"] == 6
    assert call.metadata["line"] == records[2].metadata["line"] == 11


def test_an_object_with_messages_gives_its_id_time_and_metadata(lore: Lore, tmp_path: Path) -> None:
    run = {
        "id": "run-42",
        "created": 1772550000,
        "metadata": {"agent": "codefix"},
        "messages": [
            {"role": "user", "content": "fix it"},
            {"role": "assistant", "content": "done", "timestamp": "2026-03-03T15:30:00Z"},
        ],
    }
    report = lore.ingest(write_json(tmp_path / "run.json", run))
    first, second = stored(lore, report.record_ids)
    assert (first.session_id, second.session_id) == ("run-42", "run-42")
    assert first.occurred_at == datetime.fromtimestamp(1772550000, tz=UTC)
    assert second.occurred_at == datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
    assert first.metadata["run"] == {"agent": "codefix"}
    assert first.source.source_id == "run-42:1"


def test_a_list_of_runs_keeps_each_run_its_own_session(lore: Lore, tmp_path: Path) -> None:
    runs = [
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
        {"session": "second", "messages": [{"role": "user", "content": "c"}]},
        "not a run",
    ]
    path = write_json(tmp_path / "batch.json", runs)
    report = lore.ingest(path)
    assert (report.added, report.failed) == (3, 1)
    records = stored(lore, report.record_ids)
    assert [(r.session_id, r.seq, r.text) for r in records] == [
        ("batch-1", 0, "a"),
        ("batch-1", 1, "b"),
        ("second", 0, "c"),
    ]
    assert [r.metadata["line"] for r in records] == [4, 8, 17]
    (problem,) = report.problems
    assert (problem.file, problem.line) == (str(path), 23)
    assert "run 3" in problem.reason


def test_content_parts_keep_text_and_note_other_parts(tmp_path: Path) -> None:
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ],
    }
    (draft,) = OpenAIChatConnector().parse(write_json(tmp_path / "img.json", [message]))
    assert isinstance(draft, Draft)
    assert draft.text == "What is in this picture?\n[image_url]"
    assert draft.metadata["parts"] == ["text", "image_url"]


def test_bad_messages_are_reported_by_line_and_number_and_the_rest_land(
    lore: Lore, tmp_path: Path
) -> None:
    path = tmp_path / "messy.json"
    path.write_text(
        "[\n"
        '  {"role": "user", "content": "good one"},\n'  # line 2
        '  "just a string",\n'  # 3: wrong type
        '  {"content": "who said this?"},\n'  # 4: missing role
        '  {"role": "wizard", "content": "abracadabra"},\n'  # 5: unknown role
        '  {"role": "user", "content": 42},\n'  # 6: wrong content type
        '  {"role": "user", "content": [{"type": "text"}]},\n'  # 7: part without text
        '  {"role": "assistant", "content": null},\n'  # 8: nothing at all
        '  {"role": "assistant", "tool_calls": [{"id": "c1", "function": {}}]},\n'  # 9: nameless
        '  {"role": "assistant", "content": "good two"}\n'  # 10
        "]\n",
        encoding="utf-8",
    )
    report = lore.ingest(path)
    assert (report.added, report.duplicates, report.failed) == (2, 0, 7)
    assert [r.text for r in stored(lore, report.record_ids)] == ["good one", "good two"]
    assert [(p.file, p.line) for p in report.problems] == [(str(path), n) for n in range(3, 10)]
    reasons = [p.reason for p in report.problems]
    assert reasons[0] == "message 2: expected an object, got str"
    assert reasons[1] == "message 3: missing 'role'"
    assert reasons[2].startswith("message 4: unknown role 'wizard'")
    assert reasons[3] == "message 5: 'content' must be a string or a list of parts, not int"
    assert reasons[4] == "message 6: content part 1 has no 'text' string"
    assert reasons[5] == "message 7: no content and no tool calls"
    assert reasons[6].startswith("message 8: tool call 1:")


def test_invalid_json_is_one_problem_with_line_and_column(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "truncated.json"
    path.write_text('[\n  {"role": "user", "content": "hi"},\n  {"role": "assist', encoding="utf-8")
    report = lore.ingest(path, format="openai")
    assert (report.added, report.duplicates, report.failed) == (0, 0, 1)
    (problem,) = report.problems
    assert (problem.file, problem.line) == (str(path), 3)
    assert problem.reason == "invalid JSON at column 12: Unterminated string starting at"


def test_wrong_top_level_type_and_undecodable_bytes(tmp_path: Path) -> None:
    scalar = tmp_path / "scalar.json"
    scalar.write_text("42", encoding="utf-8")
    (problem,) = OpenAIChatConnector().parse(scalar)
    assert isinstance(problem, IngestProblem) and "got int" in problem.reason
    garbled = tmp_path / "garbled.json"
    garbled.write_bytes(b'[{"role": "user", "content": "caf\xe9"}]')
    (problem,) = OpenAIChatConnector().parse(garbled)
    assert isinstance(problem, IngestProblem) and problem.reason.startswith("not UTF-8 text")


def test_unparsable_arguments_are_kept_verbatim(tmp_path: Path) -> None:
    message = {
        "role": "assistant",
        "tool_calls": [{"id": "x", "function": {"name": "grep", "arguments": "{broken"}}],
    }
    (draft,) = OpenAIChatConnector().parse(write_json(tmp_path / "args.json", [message]))
    assert isinstance(draft, Draft)
    assert draft.text == "call grep({broken)"
    assert draft.metadata["arguments"] == "{broken"


def test_reingest_adds_nothing(lore: Lore, tmp_path: Path) -> None:
    path = write_json(tmp_path / "weather.json", WEATHER)
    assert lore.ingest(path).added == 8
    again = lore.ingest(path)
    assert (again.added, again.duplicates, again.failed) == (0, 8, 0)


def test_sniff_takes_chat_json_but_not_locomo_or_other_json(tmp_path: Path) -> None:
    assert detect_format(write_json(tmp_path / "chat.json", WEATHER)) == "openai"
    locomo = [{"sample_id": "c1", "conversation": {"session_1": [], "speaker_a": "A"}}]
    assert detect_format(write_json(tmp_path / "locomo.json", locomo)) == "locomo"
    config = write_json(tmp_path / "config.json", {"name": "not chat"})
    assert detect_format(config) != "openai"
    assert not OpenAIChatConnector.sniff(tmp_path / "chat.txt", '{"role": "user"}')


def test_tool_calls_are_searchable_by_tool_name(lore: Lore, tmp_path: Path) -> None:
    lore.ingest(write_json(tmp_path / "weather.json", WEATHER))
    hits = lore.search("get_weather Paris", kinds=["tool_call"], k=5)
    assert hits and hits[0].record.metadata["tool"] == "get_weather"
