"""Expanding fragment handles back to their records and session neighbours."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lore import Lore, NotFound, QueryError
from lore.context import parse_handle


@pytest.fixture
def lore(tmp_path: Path) -> Iterator[Lore]:
    with Lore.open(tmp_path / "lore.db", embedder="hash") as store:
        yield store


def _add(lore: Lore, text: str, **kwargs: object) -> str:
    return lore.add(text, **kwargs).record_ids[0]  # type: ignore[arg-type]


@pytest.fixture
def call(lore: Lore) -> list[str]:
    """Ten turns of one session, seq 0..9, and a same-named session in another namespace."""
    ids = [_add(lore, f"turn {n}", session="call", seq=n, actor="al") for n in range(10)]
    _add(lore, "turn 5 elsewhere", session="call", seq=5, namespace="other")
    return ids


def test_record_with_window(lore: Lore, call: list[str]) -> None:
    got = lore.expand(f"record:{call[5]}", window=2)
    assert [r.seq for r in got.records] == [3, 4, 5, 6, 7]
    assert got.focus == (call[5],)
    assert got.handle == f"record:{call[5]}"
    assert {r.namespace for r in got.records} == {"default"}


def test_window_is_clipped_at_the_session_edges(lore: Lore, call: list[str]) -> None:
    assert [r.seq for r in lore.expand(f"record:{call[0]}", 3).records] == [0, 1, 2, 3]
    assert [r.seq for r in lore.expand(f"record:{call[9]}", 3).records] == [6, 7, 8, 9]
    assert [r.id for r in lore.expand(f"record:{call[4]}", 0).records] == [call[4]]


def test_range_handle(lore: Lore, call: list[str]) -> None:
    got = lore.expand(f"record:{call[2]}..{call[4]}", window=1)
    assert [r.seq for r in got.records] == [1, 2, 3, 4, 5]
    assert got.focus == tuple(call[2:5])
    assert lore.expand(f"record:{call[4]}..{call[2]}", window=0).focus == tuple(call[2:5])


def test_window_counts_records_not_seq_numbers(lore: Lore) -> None:
    ids = [_add(lore, f"sparse {n}", session="sparse", seq=n * 10) for n in range(5)]
    got = lore.expand(f"record:{ids[2]}", window=1)
    assert [r.seq for r in got.records] == [10, 20, 30]


def test_record_without_session_is_alone(lore: Lore, call: list[str]) -> None:
    loose = _add(lore, "a loose note")
    got = lore.expand(f"record:{loose}", window=5)
    assert [r.id for r in got.records] == [loose] and got.focus == (loose,)


def test_handles_from_a_context_pack_expand_to_their_citation(lore: Lore, call: list[str]) -> None:
    pack = lore.context("turn", 2000)
    assert pack.fragments
    for fragment in pack.fragments:
        got = lore.expand(fragment.id, window=1)
        assert got.focus == fragment.citation.record_ids
        assert set(got.focus) <= {r.id for r in got.records}


def test_expansion_serialises(lore: Lore, call: list[str]) -> None:
    data = lore.expand(f"record:{call[1]}", 1).to_dict()
    assert data["focus"] == [call[1]] and len(data["records"]) == 3


@pytest.mark.parametrize(
    "handle", ["", "record", "record:", "record:a..", "bogus:123", "record:a b", "record:x..y..z"]
)
def test_malformed_handles(lore: Lore, handle: str) -> None:
    with pytest.raises(QueryError, match="malformed handle"):
        lore.expand(handle)


def test_unknown_ids_and_kinds(lore: Lore, call: list[str]) -> None:
    with pytest.raises(NotFound, match="no record '01NOPE'"):
        lore.expand("record:01NOPE")
    with pytest.raises(NotFound, match="no record 'MISSING'"):
        lore.expand(f"record:{call[0]}..MISSING")
    with pytest.raises(NotFound, match="no memory"):
        lore.expand("memory:abc")


def test_range_across_sessions_and_bad_window(lore: Lore, call: list[str]) -> None:
    other = _add(lore, "different session", session="other", seq=1)
    with pytest.raises(QueryError, match="different sessions"):
        lore.expand(f"record:{call[0]}..{other}")
    with pytest.raises(QueryError, match="window"):
        lore.expand(f"record:{call[0]}", window=-1)


def test_parse_handle() -> None:
    assert parse_handle("record:ABC") == ("record", "ABC", None)
    assert parse_handle(" record:A..B ") == ("record", "A", "B")
