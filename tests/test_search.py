"""Hybrid search: any text is a valid query, hits explain themselves, time expressions help."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lore import Draft, Lore, QueryError
from lore.search.hybrid import SearchSettings
from lore.search.query import fts_match
from lore.search.timeparse import find_time_spans

NASTY = [
    '"',
    '""',
    "AND",
    "OR NOT",
    "NOT",
    "a AND (b OR",
    "*",
    "col:value",
    "-",
    "(((",
    ")",
    "NEAR(a b)",
    "^start",
    "🚀🔥",
    "emoji 🚀 launch",
    "x" * 10_000,
    "retry " * 2000,
    "",
    "   ",
    "'; DROP TABLE records; --",
    "\x00",
    "ünïcödé",
    "C++ / C#",
    "{}[]<>",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Lore:
    path = tmp_path_factory.mktemp("search") / "lore.db"
    lore = Lore.open(path, embedder="hash")
    lore.add_many(
        [
            Draft(
                text="The payments webhook retried twice and booked a payment twice",
                actor="ana",
                session_id="inc",
                seq=0,
            ),
            Draft(
                text="Postgres migration finished on Tuesday", actor="ben", session_id="ops", seq=0
            ),
            Draft(
                text="We froze deploys on Fridays after the incident",
                actor="cy",
                session_id="ops",
                seq=1,
            ),
        ]
    )
    return lore


@pytest.mark.parametrize("text", NASTY)
def test_nasty_queries_search_without_error(store: Lore, text: str) -> None:
    for mode in ("fts", "vector", "hybrid"):
        hits = store.search(text, mode=mode)
        assert isinstance(hits, list)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=300))
def test_no_query_string_breaks_search(store: Lore, text: str) -> None:
    hits = store.search(text, k=5)
    assert len(hits) <= 5


@given(st.text(max_size=200))
def test_match_expression_only_has_quoted_terms(text: str) -> None:
    match = fts_match(text)
    if match is not None:
        for part in match.split(" OR "):
            assert part.startswith('"') and part.endswith('"')


def test_hits_say_why(store: Lore) -> None:
    hit = store.search("webhook retried", k=1)[0]
    assert "webhook" in hit.record.text
    assert {"fts", "vector"} <= set(hit.why) <= {"fts", "vector", "session"}
    assert hit.why["fts"].rank == 1
    data = hit.to_dict()
    assert data["why"]["fts"]["rank"] == 1


def test_modes_use_only_their_retriever(store: Lore) -> None:
    assert all(set(h.why) == {"fts"} for h in store.search("Postgres", mode="fts"))
    assert all(set(h.why) == {"vector"} for h in store.search("Postgres", mode="vector"))


def test_invalid_options_are_query_errors(store: Lore) -> None:
    with pytest.raises(QueryError, match="mode"):
        store.search("x", mode="magic")
    with pytest.raises(QueryError, match="k must be"):
        store.search("x", k=0)
    with pytest.raises(QueryError, match="since"):
        store.search(
            "x", since=datetime(2026, 1, 2, tzinfo=UTC), until=datetime(2026, 1, 1, tzinfo=UTC)
        )


def test_neighbouring_turns_make_a_terse_reply_findable(tmp_path: Path) -> None:
    with Lore.open(tmp_path / "lore.db", embedder="hash") as lore:
        lore.add_many(
            [
                Draft(text="Did you finish the pottery class?", actor="mel", session_id="s", seq=0),
                Draft(text="Yes, last Friday!", actor="caro", session_id="s", seq=1),
                Draft(text="Unrelated chatter about lunch", actor="mel", session_id="t", seq=0),
            ]
        )
        hits = lore.search("pottery", mode="fts", k=5)
        assert "Yes, last Friday!" in [h.record.text for h in hits]
        assert hits[0].record.text == "Did you finish the pottery class?"


def test_a_batch_continuing_a_session_sees_earlier_turns(tmp_path: Path) -> None:
    with Lore.open(tmp_path / "lore.db", embedder="hash") as lore:
        lore.add("Shall we adopt the kayak club idea?", actor="a", session="s", seq=0)
        lore.add("Sure!", actor="b", session="s", seq=1)
        hits = lore.search("kayak", mode="fts")
        assert "Sure!" in [h.record.text for h in hits]


def test_named_dates_boost_records_from_then(tmp_path: Path) -> None:
    with Lore.open(tmp_path / "lore.db", embedder="hash") as lore:
        lore.add_many([Draft(text=f"unrelated chatter about lunch order {i}") for i in range(20)])
        for day in (3, 10, 17):
            lore.add(
                f"I painted a sunset in the garden, entry {day}",
                session=f"day{day}",
                seq=0,
                occurred_at=datetime(2023, 5, day, 14, tzinfo=UTC),
            )
        hit = lore.search("What did I paint on 17 May, 2023?", k=1)[0]
        assert hit.record.occurred_at == datetime(2023, 5, 17, 14, tzinfo=UTC)
        assert "time" in hit.why


@pytest.mark.parametrize("boost", [0.0, 1.0, None])
def test_a_named_date_outweighs_a_better_text_match(tmp_path: Path, boost: float | None) -> None:
    # The default boost (4) lifts a weaker match from the named day above stronger matches
    # from other days; a boost of 1 (the earlier default) or none does not.
    settings = SearchSettings() if boost is None else SearchSettings(time_boost=boost)
    with Lore.open(tmp_path / "lore.db", embedder="hash", settings=settings) as lore:
        lore.add_many([Draft(text=f"unrelated chatter about lunch order {i}") for i in range(20)])
        for day in (3, 10):
            lore.add(
                f"Painted again: I paint sunsets, painting is my thing, entry {day}",
                session=f"day{day}",
                seq=0,
                occurred_at=datetime(2023, 5, day, 14, tzinfo=UTC),
            )
        lore.add(
            "Garden: some painting after work",
            session="day17",
            seq=0,
            occurred_at=datetime(2023, 5, 17, 14, tzinfo=UTC),
        )
        hits = lore.search("What did I paint on 17 May, 2023?", k=3)
        days = [h.record.occurred_at.day for h in hits if h.record.occurred_at]
        assert sorted(days) == [3, 10, 17]
        if boost is None:
            assert days[0] == 17
            assert hits[0].why["time"].score == 1.0 + SearchSettings().time_boost
        else:
            assert days[2] == 17
            assert ("time" in hits[days.index(17)].why) == bool(boost)


@pytest.mark.parametrize(
    ("text", "start", "precision"),
    [
        ("on 8th December, 2023?", datetime(2023, 12, 8, tzinfo=UTC), "day"),
        ("shared on December 1,2023 taken", datetime(2023, 12, 1, tzinfo=UTC), "day"),
        ("in August 2023", datetime(2023, 8, 1, tzinfo=UTC), "month"),
        ("recently in 2024", datetime(2024, 1, 1, tzinfo=UTC), "year"),
        ("at 2026-03-02 10:00", datetime(2026, 3, 2, tzinfo=UTC), "day"),
    ],
)
def test_time_expressions(text: str, start: datetime, precision: str) -> None:
    spans, rest = find_time_spans(text)
    assert [(s.start, s.precision) for s in spans] == [(start, precision)]
    assert spans[0].text not in rest


def test_no_false_time_expressions() -> None:
    for text in ("version 2023.1 release", "order 20231208", "May I ask?", "room 2024b"):
        assert find_time_spans(text)[0] == []
