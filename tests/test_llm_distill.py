"""The LLM path of distill against a real HTTP server on loopback that replays scripted answers:
valid JSON, invalid JSON and schema-violating JSON; failures are recorded, never dropped."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lore import Lore
from lore.llm import ChatClient, LLMError, validate
from lore.llm.testing import scripted_chat

GOOD = json.dumps({
    "episode": {"summary": "Alice tells Bob she moved to Lisbon.", "key_points": [1]},
    "facts": [{
        "subject": "alice", "attribute": "Residence", "value": "Lisbon",
        "statement": "alice lives in Lisbon", "evidence": [1], "valid_from": "2024-03-01",
    }],
})
NOT_JSON = "Sure! Alice lives in Lisbon."
WRONG_SHAPE = json.dumps({"episode": {"summary": "x"}, "facts": [{"subject": "alice"}]})
BAD_TURN = json.dumps({"episode": {"summary": "x", "key_points": [9]}, "facts": []})


def _chat(lore: Lore) -> None:
    when = datetime(2024, 3, 1, 12, tzinfo=UTC)
    lore.add("Big news: I moved to Lisbon!", actor="alice", session="s1", seq=1, occurred_at=when)
    lore.add("Congratulations, Alice!", actor="bob", session="s1", seq=2, occurred_at=when)


def test_a_valid_answer_makes_facts_and_the_episode_in_one_call(lore: Lore) -> None:
    _chat(lore)
    with scripted_chat([GOOD]) as server:
        client = ChatClient(server.url, "tiny")
        report = lore.distill(llm=client)
    assert report.llm_calls == 1 and report.tokens == 120 and report.method == "llm:tiny"
    assert report.made == {"episode": 1, "fact": 1} and report.failures == 0
    (fact,) = lore.memories(kinds=["fact"])
    assert (fact.subject, fact.attribute, fact.value, fact.method) == (
        "alice", "residence", "Lisbon", "llm:tiny"
    )
    assert fact.valid_from == datetime(2024, 3, 1, tzinfo=UTC)
    assert lore.get(fact.evidence[0]).text == "Big news: I moved to Lisbon!"
    request = server.requests[0]
    assert request["model"] == "tiny" and request["temperature"] == 0
    assert "[1] 2024-03-01 alice: Big news" in request["messages"][1]["content"]


def test_invalid_json_is_retried_with_the_error(lore: Lore) -> None:
    _chat(lore)
    with scripted_chat([NOT_JSON, GOOD]) as server:
        report = lore.distill(llm=ChatClient(server.url + "/v1", "tiny"))
    assert report.llm_calls == 2 and report.failures == 0 and report.made["fact"] == 1
    retry = server.requests[1]["messages"]
    assert retry[-2]["content"] == NOT_JSON and "not JSON" in retry[-1]["content"]


def test_answers_that_never_validate_are_recorded_then_retried(lore: Lore) -> None:
    _chat(lore)
    with scripted_chat([WRONG_SHAPE, NOT_JSON, BAD_TURN]) as server:
        report = lore.distill(llm=ChatClient(server.url, "tiny"))
    assert report.llm_calls == 3 and report.failures == 1  # bounded: 1 + 2 retries
    # The batch still got the no-LLM path, so nothing is lost while the failure waits.
    assert {m.method for m in lore.memories()} == {"rules-v1"}
    row = lore.store.db.execute(
        "SELECT evidence, error, raw_output, resolved_at FROM distill_failures"
    ).fetchone()
    assert len(json.loads(row[0])) == 2 and "turn number 9" in row[1]
    assert row[2] == BAD_TURN and row[3] is None
    with scripted_chat([NOT_JSON]) as server:
        still = lore.distill(llm=ChatClient(server.url, "tiny"), retry_failed=True)
    assert still.failures == 1 and still.llm_calls == 3
    rows = lore.store.db.execute("SELECT raw_output FROM distill_failures").fetchall()
    assert rows == [(NOT_JSON,)]  # the same failure, updated: not a second one
    with scripted_chat([GOOD]) as server:
        again = lore.distill(llm=ChatClient(server.url, "tiny"), retry_failed=True)
    assert again.llm_calls == 1 and again.failures == 0 and again.sessions == 1
    resolved = lore.store.db.execute("SELECT resolved_at FROM distill_failures").fetchone()[0]
    assert resolved is not None
    (episode,) = lore.memories(kinds=["episode"])
    assert episode.method == "llm:tiny"  # the model's episode supersedes the rules' one
    assert [m.value for m in lore.memories(kinds=["fact"])] == ["Lisbon"]


def test_no_configured_endpoint_means_rules_and_an_unreachable_one_is_an_error(
    lore: Lore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LORE_LLM_URL", raising=False)
    assert ChatClient.from_env() is None
    _chat(lore)
    assert lore.distill().method == "rules-v1"
    monkeypatch.setenv("LORE_LLM_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LORE_LLM_MODEL", "tiny")
    client = ChatClient.from_env()
    assert client is not None and client.method == "llm:tiny"
    with pytest.raises(LLMError):
        client.complete([{"role": "user", "content": "hi"}])


def test_validate_checks_schema_and_turn_numbers() -> None:
    assert validate(f"```json\n{GOOD}\n```", 2).facts[0].value == "Lisbon"
    for bad in (NOT_JSON, WRONG_SHAPE, BAD_TURN):
        with pytest.raises(ValueError):
            validate(bad, 2)
