"""Plain-text meeting transcripts: "Name (00:01:02): text" lines, continuations, bad times."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from lore import Lore, Record
from lore.ingest import detect_format
from lore.ingest.transcripts import MeetingTextConnector
from lore.types import Draft

MEETING = Path(__file__).parent / "data" / "meetings" / "2026-03-05-postmortem.txt"


def records(lore: Lore, ids: tuple[str, ...]) -> list[Record]:
    return [lore.get(i) for i in ids]


def test_turns_have_speakers_times_and_continuations(lore: Lore) -> None:
    assert detect_format(MEETING) == "meeting-text"
    report = lore.ingest(MEETING)
    assert (report.added, report.failed) == (7, 0)
    turns = records(lore, report.record_ids)
    assert [t.actor for t in turns] == [
        "Maya Chen", "Tomás Silva", "Priya Raman", "Maya Chen", "Aisha Okafor", "Maya Chen",
        "Tomás Silva",
    ]
    tomas = turns[1]
    assert tomas.text.endswith("timed out, the retry looked like a brand new charge.")
    assert (tomas.metadata["start"], tomas.metadata["end"]) == (15.0, 62.0)
    assert tomas.metadata["line"] == 6
    assert tomas.occurred_at == datetime(2026, 3, 5, 10, 0, 15, tzinfo=UTC)
    assert {t.kind for t in turns} == {"utterance"} and turns[0].session_id == MEETING.stem
    hit = lore.search("alert on duplicate captures dashboard", k=1)[0]
    assert hit.record.actor == "Aisha Okafor"


def test_other_styles_and_an_explicit_start(tmp_path: Path) -> None:
    path = tmp_path / "call.txt"
    path.write_text("[00:00:01] Ana: Hello.\n[1:05] Ben Ode: Hi Ana.\n[01:02:03.5] Ana: Bye.\n")
    assert detect_format(path) == "meeting-text"
    drafts = [d for d in MeetingTextConnector(start="2026-01-01T09:00:00Z").parse(path)]
    assert all(isinstance(d, Draft) for d in drafts)
    assert [(d.actor, d.metadata["start"]) for d in drafts if isinstance(d, Draft)] == [
        ("Ana", 1.0), ("Ben Ode", 65.0), ("Ana", 3723.5),
    ]
    last = drafts[-1]
    assert isinstance(last, Draft)
    assert last.occurred_at == datetime(2026, 1, 1, 10, 2, 3, 500000, tzinfo=UTC)


def test_prose_is_not_taken_for_a_transcript(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Standup notes\n\nWe met at 10 (09:30): fine.\nNothing else today.\nBye.\n")
    assert detect_format(path) == "text"


def test_bad_turns_are_reported_and_the_rest_lands(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "broken.txt"
    path.write_text(
        "Date: not a date\n"
        "Maya Chen (00:00:04): First point.\n"
        "Tomás Silva (00:99:15): a bad time\n"
        "and its continuation is skipped with it\n"
        "Priya Raman (00:01:02):\n"
        "Maya Chen (00:01:40): Last point, cut mid-sen",
        encoding="utf-8",
    )
    report = lore.ingest(path, format="meeting-text")
    assert [(p.line, p.reason) for p in report.problems] == [
        (1, "meeting text: ignored meeting start 'not a date': Invalid isoformat string:"
            " 'not a date'"),
        (3, "meeting text: bad time '00:99:15': bad timestamp '00:99:15.0'"),
        (5, "meeting text: turn has no text"),
    ]
    assert [r.text for r in records(lore, report.record_ids)] == [
        "First point.", "Last point, cut mid-sen",
    ]
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"\x00\x01\x02binary")
    assert lore.ingest(garbage, format="meeting-text").failed == 1
    prose = tmp_path / "prose.txt"
    prose.write_text("No turns here at all.\n")
    only = lore.ingest(prose, format="meeting-text")
    assert only.problems[0].reason == "meeting text: no 'Name (hh:mm:ss): text' line found"
