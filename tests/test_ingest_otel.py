"""OpenTelemetry GenAI spans (OTLP/JSON): messages, tool calls, token usage, trace as session."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lore import Lore, Record
from lore.ingest import detect_format
from lore.ingest.otel import any_value

DATA = Path(__file__).parent / "data" / "otel"
TRACE = "5b8efff798038103d269b633813fc60c"


def records(lore: Lore, ids: tuple[str, ...]) -> list[Record]:
    return [lore.get(i) for i in ids]


def test_genai_spans_become_messages_tool_calls_and_results(lore: Lore) -> None:
    path = DATA / "genai-trace.json"
    assert detect_format(path) == "otel"
    report = lore.ingest(path)
    assert (report.added, report.failed) == (6, 0), report.problems
    run = records(lore, report.record_ids)
    assert [(r.kind, r.role, r.actor) for r in run] == [
        ("event", "assistant", "refund-helper"),
        ("message", "system", "system"),
        ("message", "user", "user"),
        ("tool_call", "assistant", "refund-helper"),
        ("tool_result", "tool", "lookup_payment"),
        ("message", "assistant", "refund-helper"),
    ]
    agent, _, user, call, result, answer = run
    assert all(r.session_id == TRACE for r in run)
    assert agent.text == "invoke_agent by refund-helper (1431 input tokens, 212 output tokens)"
    assert user.text == "Refund the duplicate charge on payment pay_8812."
    assert call.text == 'call lookup_payment({"payment_id": "pay_8812"})'
    assert (call.metadata["input_tokens"], call.metadata["output_tokens"]) == (612, 41)
    assert call.metadata["model"] == "gpt-4o-mini-2024-07-18"
    assert '"captures": 2' in result.text and result.metadata["call_id"] == "call_lookup_1"
    assert answer.text.startswith("Payment pay_8812 was captured twice")
    assert (answer.metadata["input_tokens"], answer.metadata["output_tokens"]) == (819, 171)
    # The second call re-sent the system prompt, the question and the tool exchange: stored once.
    assert sum("Never refund more" in r.text for r in run) == 1
    assert user.occurred_at == datetime(2026, 3, 2, 11, 0, 0, 100000, tzinfo=UTC)
    assert [r.seq for r in run] == sorted(r.seq for r in run if r.seq is not None)
    assert lore.search("refunded the second capture", kinds=["message"], k=1)[0].record == answer


def test_collector_lines_with_legacy_attributes_and_events(lore: Lore) -> None:
    path = DATA / "collector-export.jsonl"
    assert detect_format(path) == "otel"
    report = lore.ingest(path)
    assert (report.added, report.failed) == (5, 0), report.problems
    texts = [(r.kind, r.role, r.text) for r in records(lore, report.record_ids)]
    assert texts[0] == ("message", "system", "You announce deploys.")
    assert texts[2][2].startswith("payments-api 2.15: idempotent retries")
    assert texts[3] == ("message", "user", "Post it to #payments.")
    assert texts[4] == ("tool_call", "assistant", 'call post_message({"channel": "payments"})')
    usage = lore.get(report.record_ids[2]).metadata
    assert (usage["input_tokens"], usage["output_tokens"]) == (58, 24)
    assert [lore.get(i).metadata["line"] for i in report.record_ids] == [1, 1, 1, 2, 2]


def test_any_value_decodes_every_kind() -> None:
    assert any_value({"intValue": "7"}) == 7
    assert any_value({"arrayValue": {"values": [{"boolValue": True}, {"doubleValue": 0.5}]}}) == [
        True, 0.5,
    ]
    pairs = {"values": [{"key": "a", "value": {"stringValue": "b"}}]}
    assert any_value({"kvlistValue": pairs}) == {"a": "b"}
    assert any_value({"bytesValue": "AAE="}) == "0001"
    with pytest.raises(ValueError, match="unknown AnyValue kind"):
        any_value({"fooValue": 1})


def test_bad_spans_are_reported_with_their_json_path(lore: Lore, tmp_path: Path) -> None:
    good = json.loads((DATA / "genai-trace.json").read_text())
    spans = good["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[1]["attributes"][9]["value"] = {"stringValue": "[{not json"}  # input messages garbled
    spans[2]["startTimeUnixNano"] = "soon"
    del spans[3]["traceId"]
    spans.append("not a span")
    spans.append({"traceId": TRACE, "spanId": "ff", "attributes": [{"key": 3}]})
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(good, indent=1) + "\n" + '{"resourceSpans": [ {"scopeSp')
    report = lore.ingest(path)
    where = "$.resourceSpans[0].scopeSpans[0].spans"
    reasons = [p.reason for p in report.problems]
    assert reasons[:5] == [
        f"{where}[1]: gen_ai.input.messages is not valid JSON: Expecting property name enclosed"
        " in double quotes",
        f"{where}[2]: startTimeUnixNano must be nanoseconds, got 'soon'",
        f"{where}[3]: no 'traceId'",
        f"{where}[5]: expected a span object, got string",
        f"{where}[6]: an attribute must be an object with a 'key' string",
    ]
    assert reasons[5].startswith("invalid JSON at column")  # the truncated second request
    assert report.problems[5].line == len(json.dumps(good, indent=1).splitlines()) + 1
    assert report.added == 1  # the agent span still lands (the HTTP span is not GenAI)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"resourceSpans": {"oops": 1}}')
    bad = lore.ingest(wrong, format="otel")
    assert bad.problems[0].reason == "expected {'resourceSpans': [...]}, got object"
