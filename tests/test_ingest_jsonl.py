"""The JSON Lines chat connector: one message per line, bad lines reported, the rest stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lore import IngestProblem, Lore, Record
from lore.ingest import detect_format


@pytest.fixture
def lore(tmp_path: Path) -> Iterator[Lore]:
    with Lore.open(tmp_path / "lore.db", embedder="hash") as store:
        yield store


def stored(lore: Lore, ids: tuple[str, ...]) -> list[Record]:
    return [lore.get(record_id) for record_id in ids]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def line(**item: object) -> str:
    return json.dumps(item, ensure_ascii=False)


def test_messages_land_with_session_actor_time_and_order(lore: Lore, tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "team.jsonl",
        [
            line(id="m1", channel="general", user="Ana", ts="2026-03-02T09:00:00Z", text="10:30"),
            line(id="m2", channel="payments", user="Ben", ts=1772442000, text="Deploying v2.1"),
            "",
            line(id="m3", channel="general", user="Cleo", role="user", text="ok", kind="message"),
        ],
    )
    report = lore.ingest(path)
    assert (report.added, report.duplicates, report.failed) == (3, 0, 0)
    first, second, third = stored(lore, report.record_ids)
    assert (first.session_id, first.seq, first.actor, first.text) == ("general", 0, "Ana", "10:30")
    assert first.occurred_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert first.source.connector == "jsonl" and first.source.source_id == "m1"
    assert first.metadata["line"] == 1
    assert (second.session_id, second.seq, second.actor) == ("payments", 0, "Ben")
    assert second.occurred_at == datetime.fromtimestamp(1772442000, tz=UTC)
    assert (third.session_id, third.seq, third.role) == ("general", 1, "user")
    assert third.occurred_at is None
    assert third.metadata["line"] == 4  # the blank line still counts


def test_session_defaults_to_the_file_stem(lore: Lore, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "standup.jsonl", [line(text="hello"), line(text="hi")])
    report = lore.ingest(path)
    records = stored(lore, report.record_ids)
    assert [(r.session_id, r.seq, r.source.source_id) for r in records] == [
        ("standup", 0, "line:1"),
        ("standup", 1, "line:2"),
    ]


def test_bad_lines_are_reported_with_file_and_line_and_the_rest_land(
    lore: Lore, tmp_path: Path
) -> None:
    path = write_lines(
        tmp_path / "messy.jsonl",
        [
            line(user="Ana", text="first good line"),
            '{"user": "Ben", "text": "truncated',  # truncated mid-string
            "\x07garbage }{ not json",  # garbled
            "[1, 2, 3]",  # wrong type: not an object
            line(user="Cleo", text=42),  # wrong type: text is a number
            line(user="Dev", text="   "),  # empty text
            line(user="Eve", text="when?", ts="last tuesday"),  # bad timestamp
            line(user="Finn", text="meta", metadata=["not", "an", "object"]),
            line(user="Gus", text="odd kind", kind="telegram"),  # rejected by the writer
            line(user="Hal", text="last good line"),
        ],
    )
    report = lore.ingest(path)
    assert (report.added, report.duplicates, report.failed) == (2, 0, 8)
    texts = [r.text for r in stored(lore, report.record_ids)]
    assert texts == ["first good line", "last good line"]
    assert {p.file for p in report.problems} == {str(path)}
    by_line = {p.line: p.reason for p in report.problems}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert by_line[2].startswith("invalid JSON") and "column 35" in by_line[2]
    assert by_line[3].startswith("invalid JSON") and "column 1" in by_line[3]
    assert by_line[4] == "expected an object, got list"
    assert "no text" in by_line[5] and "no text" in by_line[6]
    assert "bad timestamp 'last tuesday'" in by_line[7]
    assert by_line[8] == "'metadata' must be an object"
    assert "unknown kind 'telegram'" in by_line[9]
    assert str(report.problems[0]).startswith(f"{path}:2: ")


def test_reingest_adds_nothing(lore: Lore, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "chat.jsonl", [line(text="one"), "{oops", line(text="two")])
    first = lore.ingest(path)
    again = lore.ingest(path)
    assert (first.added, first.duplicates, first.failed) == (2, 0, 1)
    assert (again.added, again.duplicates, again.failed) == (0, 2, 1)
    assert lore.stats()["records"] == 2


def test_only_the_extension_selects_jsonl(tmp_path: Path) -> None:
    for name in ("a.jsonl", "b.ndjson", "C.JSONL"):
        path = write_lines(tmp_path / name, [line(text="x")])
        assert detect_format(path) == "jsonl"
    other = write_lines(tmp_path / "d.json", [line(role="user", content="x")])
    assert detect_format(other) == "openai"


def test_problem_str_names_file_and_line() -> None:
    assert str(IngestProblem("chat.jsonl", 7, "no text")) == "chat.jsonl:7: no text"
    assert str(IngestProblem("chat.jsonl", None, "empty")) == "chat.jsonl: empty"
