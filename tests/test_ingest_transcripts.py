"""WebVTT and SRT transcripts: speakers, cue times, meeting start, malformed cues."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lore import ConfigError, Lore, Record
from lore.ingest import detect_format
from lore.ingest.transcripts import SrtConnector, VttConnector, parse_timestamp
from lore.types import Draft


@pytest.fixture
def lore(tmp_path: Path) -> Iterator[Lore]:
    with Lore.open(tmp_path / "lore.db", embedder="hash") as store:
        yield store


def stored(lore: Lore, ids: tuple[str, ...]) -> list[Record]:
    return [lore.get(record_id) for record_id in ids]


MEETING = """\
WEBVTT - weekly sync

NOTE start: 2026-03-02T10:00:00Z

intro
00:00:01.000 --> 00:00:04.500 align:start
<v Maya Chen>Morning. First the &amp; <i>retry</i> bug.</v>

00:00:05.000 --> 00:00:07.000
<v.loud Tomás Silva>I found the cause
yesterday evening.

00:00:07.200 --> 00:00:09.000
Priya Raman: The migration runs Thursday.

01:02.000 --> 01:04.250
<v Maya Chen>Then we freeze deploys on</v>

01:04.300 --> 01:06.000
<v Maya Chen>Fridays.</v>
"""


def test_vtt_cues_become_utterances_with_speaker_and_times(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "sync.vtt"
    path.write_text(MEETING, encoding="utf-8")
    report = lore.ingest(path)
    assert (report.added, report.duplicates, report.failed) == (4, 0, 0)
    records = stored(lore, report.record_ids)
    assert [(r.actor, r.text) for r in records] == [
        ("Maya Chen", "Morning. First the & retry bug."),
        ("Tomás Silva", "I found the cause yesterday evening."),
        ("Priya Raman", "The migration runs Thursday."),
        ("Maya Chen", "Then we freeze deploys on Fridays."),  # two fragments merged
    ]
    first, _, third, merged = records
    assert (first.metadata["start"], first.metadata["end"]) == (1.0, 4.5)
    assert first.metadata["cues"] == ["intro"]
    assert first.metadata["line"] == 6
    assert third.metadata["line"] == 13
    assert (merged.metadata["start"], merged.metadata["end"]) == (62.0, 66.0)
    assert first.occurred_at == datetime(2026, 3, 2, 10, 0, 1, tzinfo=UTC)
    assert merged.occurred_at == datetime(2026, 3, 2, 10, 1, 2, tzinfo=UTC)
    for seq, record in enumerate(records):
        assert (record.kind, record.session_id, record.seq) == ("utterance", "sync", seq)
        assert record.source.connector == "vtt"


def test_merging_can_be_turned_off(tmp_path: Path) -> None:
    path = tmp_path / "sync.vtt"
    path.write_text(MEETING, encoding="utf-8")
    items = list(VttConnector(merge=False).parse(path))
    texts = [d.text for d in items if isinstance(d, Draft)]
    assert texts[-2:] == ["Then we freeze deploys on", "Fridays."]


def test_several_voices_in_one_cue_are_separate_utterances(tmp_path: Path) -> None:
    path = tmp_path / "duo.vtt"
    path.write_text(
        "WEBVTT\n\n00:01.000 --> 00:03.000\n<v Ana>Ready?</v> <v Ben>Yes.</v>\n", encoding="utf-8"
    )
    items = list(VttConnector().parse(path))
    assert [(d.actor, d.text, d.occurred_at) for d in items if isinstance(d, Draft)] == [
        ("Ana", "Ready?", None),
        ("Ben", "Yes.", None),
    ]


def test_an_explicit_start_dates_the_cues(tmp_path: Path) -> None:
    path = tmp_path / "call.srt"
    path.write_text("1\n00:00:10,500 --> 00:00:12,000\nAna: Hello\n", encoding="utf-8")
    (draft,) = SrtConnector(start="2026-03-04T14:00:00+01:00").parse(path)
    assert isinstance(draft, Draft)
    assert draft.occurred_at == datetime(2026, 3, 4, 13, 0, 10, 500000, tzinfo=UTC)
    with pytest.raises(ConfigError):
        SrtConnector(start="half past ten")


def test_malformed_vtt_cues_are_reported_by_line_and_the_rest_land(
    lore: Lore, tmp_path: Path
) -> None:
    path = tmp_path / "broken.vtt"
    path.write_text(
        "WEBVTT\n"  # 1
        "\n"
        "00:00:01.000 --> 00:00:02.000\n"  # 3
        "<v Ana>Good cue one.\n"
        "\n"
        "00:00:0x.000 --> 00:00:04.000\n"  # 6: garbled timestamp
        "<v Ana>Lost.\n"
        "\n"
        "just some words without timing\n"  # 9: no timing line
        "\n"
        "00:00:09.000 --> 00:00:08.000\n"  # 11: ends before it starts
        "<v Ben>Backwards.\n"
        "\n"
        "00:00:12.000 --> 00:00:13.000\n"  # 14
        "<v Ben>Good cue two.\n"
        "\n"
        "00:00:20.000 --> 00:00:21.000\n",  # 17: truncated, no text
        encoding="utf-8",
    )
    report = lore.ingest(path)
    assert (report.added, report.duplicates, report.failed) == (2, 0, 4)
    assert [r.text for r in stored(lore, report.record_ids)] == ["Good cue one.", "Good cue two."]
    assert [(p.file, p.line) for p in report.problems] == [(str(path), n) for n in (6, 9, 11, 17)]
    reasons = [p.reason for p in report.problems]
    assert "bad cue timing" in reasons[0] and "'00:00:0x.000'" in reasons[0]
    assert "expected a cue timing line" in reasons[1]
    assert "ends before it starts" in reasons[2]
    assert "no text" in reasons[3]


def test_a_vtt_without_header_is_one_problem(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "headless.vtt"
    path.write_text("00:00:01.000 --> 00:00:02.000\n<v Ana>Hi\n", encoding="utf-8")
    report = lore.ingest(path)
    assert (report.added, report.duplicates, report.failed) == (0, 0, 1)
    (problem,) = report.problems
    assert (problem.file, problem.line) == (str(path), 1)
    assert "WEBVTT header" in problem.reason


def test_binary_transcript_is_a_problem_not_a_crash(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "audio.vtt"
    path.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00#TSSE\x00\x00\x00\x0f")
    report = lore.ingest(path)
    assert (report.added, report.failed) == (0, 1)
    assert "binary" in report.problems[0].reason


SUBTITLES = """\
1
00:00:01,000 --> 00:00:03,000
Maya Chen: Let's review INC-42.

2
00:00:03,500 --> 00:00:06,000
- Tomás: The retry used a new key
on every attempt.

3
00:00:06,500 --> 00:00:08,000
<i>[laughter]</i>
"""


def test_srt_cues_with_and_without_speakers(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "review.srt"
    path.write_text(SUBTITLES, encoding="utf-8")
    report = lore.ingest(path)
    assert (report.added, report.duplicates, report.failed) == (3, 0, 0)
    records = stored(lore, report.record_ids)
    assert [(r.actor, r.text) for r in records] == [
        ("Maya Chen", "Let's review INC-42."),
        ("Tomás", "The retry used a new key on every attempt."),
        (None, "[laughter]"),
    ]
    assert [(r.metadata["start"], r.metadata["end"]) for r in records] == [
        (1.0, 3.0), (3.5, 6.0), (6.5, 8.0),
    ]
    assert records[0].metadata["cues"] == ["1"]
    assert all(r.occurred_at is None and r.source.connector == "srt" for r in records)


def test_malformed_srt_cues_are_reported(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "bad.srt"
    path.write_text(
        "1\n00:00:01,000 --> 00:00:02,000\nAna: fine\n\n"  # lines 1-3
        "2\n00:00:03,000 -> 00:00:04,000\nBen: arrow too short\n\n"  # 5: no timing line
        "3\n00:00:05,000 --> soon\nBen: bad end\n\n"  # 10: bad end time
        "4\n00:00:07,000 --> 00:00:08,000\nAna: fine again\n",
        encoding="utf-8",
    )
    report = lore.ingest(path)
    assert (report.added, report.duplicates, report.failed) == (2, 0, 2)
    assert [(p.line, p.reason.split(":")[0]) for p in report.problems] == [(5, "SRT"), (10, "SRT")]
    assert "expected a cue timing line" in report.problems[0].reason
    assert "bad cue timing" in report.problems[1].reason


def test_reingest_adds_nothing(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "sync.vtt"
    path.write_text(MEETING, encoding="utf-8")
    assert lore.ingest(path).added == 4
    again = lore.ingest(path)
    assert (again.added, again.duplicates, again.failed) == (0, 4, 0)


def test_detection_and_timestamps(tmp_path: Path) -> None:
    vtt, srt, disguised = tmp_path / "a.vtt", tmp_path / "b.srt", tmp_path / "c.txt"
    vtt.write_text(MEETING, encoding="utf-8")
    srt.write_text(SUBTITLES, encoding="utf-8")
    disguised.write_text(MEETING, encoding="utf-8")
    assert [detect_format(p) for p in (vtt, srt, disguised)] == ["vtt", "srt", "vtt"]
    assert parse_timestamp("01:02:03.450") == 3723.45
    assert parse_timestamp("00:00:01,5") == 1.5
    assert parse_timestamp("02:03.000") == 123.0
    for bad in ("1:2:3", "00:61.000", "abc", ""):
        with pytest.raises(ValueError):
            parse_timestamp(bad)
