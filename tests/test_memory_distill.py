"""Distilling records into episodes, facts, decisions and procedures: rules, supersession,
incremental watermarks and idempotence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from lore import Draft, Lore
from lore.memory.rules import find_decisions, find_facts


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def say(lore: Lore, text: str, actor: str, session: str, seq: int, when: datetime) -> None:
    lore.add(text, actor=actor, session=session, seq=seq, occurred_at=when)


def test_fact_rules_find_subject_attribute_and_value() -> None:
    found = {(f.subject, f.attribute, f.value) for f in find_facts(
        "I live in Berlin. My favourite band is The Cure, by far. Dana Kim is the owner of"
        " the billing service. We use Postgres 16 for everything.", "alice", "acme"
    )}
    assert ("alice", "residence", "Berlin") in found
    assert ("alice", "favourite band", "The Cure") in found
    assert ("the billing service", "owner", "Dana Kim") in found
    assert ("acme", "uses postgres", "Postgres 16") in found
    assert list(find_facts("I live in Berlin.", None, "acme")) == []  # no speaker, no subject


def test_decision_cues() -> None:
    text = "Nice weather. We decided to ship on Friday. Let's go with the blue logo for now."
    assert list(find_decisions(text)) == [
        "We decided to ship on Friday.", "Let's go with the blue logo for now."
    ]


def test_a_newer_incompatible_fact_supersedes_the_older(lore: Lore) -> None:
    say(lore, "I live in Berlin and love it.", "alice", "s1", 1, at(2023, 1, 5))
    say(lore, "Berlin is great in spring.", "bob", "s1", 2, at(2023, 1, 5))
    lore.distill()
    say(lore, "Big news: I moved to Lisbon last month!", "alice", "s2", 1, at(2024, 3, 1))
    report = lore.distill()
    assert report.superseded >= 1
    history = lore.memories(kinds=["fact"], include_superseded=True)
    berlin = next(m for m in history if m.value == "Berlin")
    lisbon = next(m for m in history if m.value == "Lisbon")
    assert berlin.superseded_by == lisbon.id and berlin.valid_to == at(2024, 3, 1)
    assert berlin.attribute == lisbon.attribute == "residence"
    assert [m.value for m in lore.memories(kinds=["fact"])] == ["Lisbon"]
    assert [m.value for m in lore.memories(kinds=["fact"], as_of=at(2023, 6, 1))] == ["Berlin"]
    assert lore.memories(kinds=["fact"], as_of=at(2022, 6, 1)) == []
    assert lore.get(berlin.evidence[0]).text.startswith("I live in Berlin")  # nothing deleted


def test_an_older_statement_arriving_late_does_not_replace_the_current_fact(lore: Lore) -> None:
    say(lore, "I moved to Lisbon in March.", "alice", "s2", 1, at(2024, 3, 1))
    lore.distill()
    say(lore, "I live in Berlin these days.", "alice", "s1", 1, at(2023, 1, 5))
    lore.distill()
    assert [m.value for m in lore.memories(kinds=["fact"])] == ["Lisbon"]
    assert [m.value for m in lore.memories(kinds=["fact"], as_of=at(2023, 6, 1))] == ["Berlin"]


def test_repeating_a_fact_adds_evidence_not_a_duplicate(lore: Lore) -> None:
    say(lore, "I live in Berlin.", "alice", "s1", 1, at(2023, 1, 5))
    say(lore, "As I said, I live in Berlin.", "alice", "s1", 2, at(2023, 1, 6))
    report = lore.distill()
    facts = lore.memories(kinds=["fact"])
    assert len(facts) == 1 and len(facts[0].evidence) == 2 and report.merged == 1


def test_distill_is_incremental_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "lore.db"
    with Lore.open(path, embedder="hash") as lore:
        say(lore, "We decided to move the launch to May.", "bob", "m1", 1, at(2024, 1, 2))
        say(lore, "Agreed, I will tell the press.", "carol", "m1", 2, at(2024, 1, 2))
        first = lore.distill()
        assert first.sessions == 1 and first.records == 2
        assert first.made["decision"] >= 1 and first.made["episode"] == 1
        assert first.llm_calls == 0 and first.method == "rules-v1" and first.seconds >= 0
    with Lore.open(path, embedder="hash") as lore:
        again = lore.distill()
        assert again.sessions == 0 and again.made == {}
        say(lore, "Let's go with the smaller venue.", "bob", "m1", 3, at(2024, 1, 2))
        grown = lore.distill()
        assert grown.records == 1 and grown.made == {"decision": 1, "episode": 1}
        episodes = lore.memories(kinds=["episode"], include_superseded=True)
        assert len(episodes) == 2 and sum(m.superseded_by is None for m in episodes) == 1
        decision = lore.memories(kinds=["decision"])[0]
        assert decision.subject == "bob" and decision.method == "rules-v1"
        assert decision.valid_from == at(2024, 1, 2) and decision.evidence


def test_episode_has_span_participants_and_central_key_points(lore: Lore) -> None:
    lines = [
        ("ana", "Morning all, the payments outage is the topic today."),
        ("ben", "The payments outage started when the ledger migration locked the table."),
        ("ana", "Coffee machine is broken again by the way."),
        ("ben", "We fixed the payments outage by splitting the ledger migration in batches."),
    ]
    for seq, (actor, text) in enumerate(lines, start=1):
        say(lore, text, actor, "standup", seq, at(2024, 2, seq))
    lore.distill()
    (ep,) = lore.memories(kinds=["episode"])
    assert ep.subject == "standup" and set(ep.entities) == {"ana", "ben"}
    assert ep.valid_from == at(2024, 2, 1) and "2024-02-01 to 2024-02-04" in ep.text
    texts = [lore.get(i).text for i in ep.evidence]
    assert texts and all("Coffee" not in t for t in texts)


def _run(lore: Lore, session: str, task: str, final: str, result: str = "ok") -> None:
    drafts = [
        Draft(task, role="user", actor="user", session_id=session, seq=1),
        Draft("pytest -q", kind="tool_call", role="assistant", actor="bash", session_id=session,
              seq=2, metadata={"tool": "bash", "arguments": {"cmd": "pytest -q"}}),
        Draft(result, kind="tool_result", role="tool", actor="bash", session_id=session, seq=3,
              metadata={"tool": "bash"}),
        Draft(final, role="assistant", actor="agent", session_id=session, seq=4),
    ]
    lore.add_many(drafts)


def test_procedures_from_successful_runs_merge_and_failed_runs_make_none(lore: Lore) -> None:
    task = "Fix the flaky test in the payments package. You must run the tests first."
    _run(lore, "run1", task, "Done: all tests pass now.")
    _run(lore, "run2", task + " ", "Fixed it, tests passed.")
    _run(lore, "run3", "Upgrade numpy", "Done.", result="Traceback: ImportError failed")
    _run(lore, "run4", "Rename the module", "I could not finish this.")
    report = lore.distill()
    (how,) = lore.memories(kinds=["procedure"])
    assert report.made["procedure"] == 1 and report.merged >= 1
    assert how.text.startswith("Procedure: Fix the flaky test") and "bash(" in how.text
    assert "Preconditions: You must run the tests first." in how.text
    sessions = {lore.get(i).session_id for i in how.evidence}
    assert sessions == {"run1", "run2"}


def test_memory_kinds_are_validated(lore: Lore) -> None:
    from lore import QueryError

    with pytest.raises(QueryError):
        lore.memories(kinds=["opinion"])
    assert lore.memories(kinds=["memory:fact"]) == []


def test_forgetting_evidence_forgets_the_memories_made_from_it(lore: Lore) -> None:
    say(lore, "I live in Berlin and love it.", "alice", "s1", 1, at(2023, 1, 5))
    say(lore, "We decided to ship on Friday.", "bob", "s1", 2, at(2023, 1, 5))
    lore.distill()
    berlin = next(m for m in lore.memories(kinds=["fact"]) if m.value == "Berlin")
    (evidence,) = berlin.evidence
    lore.forget([evidence], reason="user request")
    assert all(m.value != "Berlin" for m in lore.memories(include_superseded=True))
    assert all(evidence not in m.evidence for m in lore.memories(include_superseded=True))
    audit = dict(lore.store.db.execute("SELECT id, reason FROM forgotten").fetchall())
    assert audit[evidence] == audit[f"memory:{berlin.id}"] == "user request"
    assert "Berlin" not in lore.context("where does alice live?", 400).render()
    lore.distill()  # the session is re-opened: what is left is distilled again, Berlin is not
    assert all(m.value != "Berlin" for m in lore.memories(include_superseded=True))
    assert any("Friday" in m.text for m in lore.memories(kinds=["decision"]))
