"""Memories in search and context: cited fragments that lead a pack, `as_of`, expansion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lore import Lore, QueryError


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


@pytest.fixture
def distilled(lore: Lore) -> Lore:
    turns = [
        ("s1", "alice", "I live in Berlin and work from home.", at(2023, 1, 5)),
        ("s1", "bob", "We decided to go with Postgres 16 for the ledger service.", at(2023, 1, 5)),
        ("s1", "alice", "Sounds good, the ledger service needs it.", at(2023, 1, 5)),
        ("s2", "alice", "Big news: I moved to Lisbon last month!", at(2024, 3, 1)),
        ("s2", "bob", "Congratulations! How is the weather there?", at(2024, 3, 1)),
    ]
    for seq, (session, actor, text, when) in enumerate(turns, start=1):
        lore.add(text, actor=actor, session=session, seq=seq, occurred_at=when)
    lore.distill()
    return lore


def test_search_memories_cites_evidence_and_respects_as_of(distilled: Lore) -> None:
    hits = distilled.search_memories("where does alice live", 5, kinds=["fact"])
    assert [h.memory.value for h in hits] == ["Lisbon"]
    assert "fts" in hits[0].why and hits[0].to_dict()["memory"]["evidence"]
    then = distilled.search_memories(
        "where does alice live", 5, kinds=["fact"], as_of=at(2023, 6, 1)
    )
    assert [h.memory.value for h in then] == ["Berlin"]
    with pytest.raises(QueryError):
        distilled.search_memories("x", 0)


def test_context_leads_with_current_facts_then_evidence(distilled: Lore) -> None:
    pack = distilled.context("where does alice live?", 400)
    kinds = [f.kind for f in pack.fragments]
    assert kinds[0] == "memory:fact" and "Lisbon" in pack.fragments[0].text
    first_raw = next(i for i, k in enumerate(kinds) if not k.startswith("memory:"))
    assert all(k.startswith("memory:") for k in kinds[:first_raw])
    assert all(not k.startswith("memory:") for k in kinds[first_raw:])
    fact = pack.fragments[0]
    assert fact.id.startswith("memory:") and fact.citation.record_ids
    assert pack.tokens <= 400 and "Berlin" not in fact.text


def test_context_as_of_packs_what_was_known_then(distilled: Lore) -> None:
    pack = distilled.context("where does alice live?", 400, as_of=at(2023, 6, 1))
    assert pack.fragments[0].text == "alice lives in Berlin"
    assert all("Lisbon" not in f.text for f in pack.fragments)
    assert all(
        f.citation.occurred_at is None or f.citation.occurred_at <= at(2023, 6, 1)
        for f in pack.fragments
    )


def test_context_without_memories_and_tiny_budgets(distilled: Lore) -> None:
    raw = distilled.context("where does alice live?", 400, memories=False)
    assert raw.fragments and all(not f.kind.startswith("memory:") for f in raw.fragments)
    for budget in (5, 20, 60, 120):
        pack = distilled.context("ledger postgres decision", budget)
        assert pack.tokens <= budget


def test_search_as_of_keeps_records_that_had_occurred(distilled: Lore) -> None:
    hits = distilled.search("alice moved", as_of=at(2023, 6, 1))
    assert hits and all(h.record.occurred_at <= at(2023, 6, 1) for h in hits)  # type: ignore[operator]


def test_expand_a_memory_handle_gives_its_evidence(distilled: Lore) -> None:
    (decision,) = distilled.memories(kinds=["decision"])
    expansion = distilled.expand(decision.handle)
    assert [r.text for r in expansion.records] == [
        "We decided to go with Postgres 16 for the ledger service."
    ]
    assert expansion.focus == decision.evidence
    assert distilled.memory(decision.handle) == decision
