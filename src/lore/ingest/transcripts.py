"""Meeting transcripts (WebVTT and SRT): one utterance per cue, with speaker and times."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConfigError
from ..types import Draft, IngestProblem
from .base import Connector, Parsed, parse_time
from .documents import read_document

_TIME = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})$")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?[ \t]+([^>]*)>", re.IGNORECASE)
_TAG = re.compile(r"</?[^>]*>|\{\\[^}]*\}")  # HTML-like cue tags and SRT's {\an8} overrides
# "Name: text", the name being one to four capitalised words (optionally after "- " or ">> ").
_NAME = r"[A-ZÀ-ÖØ-Þ][\w.'’-]*"
_SPEAKER = re.compile(rf"^(?:-|>>)?[ \t]*({_NAME}(?: {_NAME}){{0,3}}):[ \t]+(\S.*)$")
_START = re.compile(r"\bstart[ \t]*[:=][ \t]*(\S+)", re.IGNORECASE)
_WEBVTT = re.compile(r"^WEBVTT(?:[ \t].*)?$")
_SENTENCE_END = (".", "!", "?", "…", '"', "”", ")")
MERGE_GAP_SECONDS = 1.5


def parse_timestamp(text: str) -> float:
    """Seconds from `[hh:]mm:ss.ttt` (a comma works too, as in SRT)."""
    match = _TIME.match(text.strip())
    if match is None:
        raise ValueError(f"bad timestamp {text.strip()!r}")
    hours, minutes, seconds, fraction = match.groups()
    if int(minutes) > 59 or int(seconds) > 59:
        raise ValueError(f"bad timestamp {text.strip()!r}")
    whole = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    return whole + int(fraction) / 10 ** len(fraction)


def _clean(text: str) -> str:
    return " ".join(html.unescape(_TAG.sub("", text)).split())


@dataclass
class _Utterance:
    """What one speaker said in one cue (or in several merged cues)."""

    speaker: str | None
    text: str
    start: float
    end: float
    line: int
    cues: list[str] = field(default_factory=list)


def _segments(lines: list[str]) -> list[tuple[str | None, str]]:
    """(speaker, text) runs of a cue: `<v Name>` voice tags first, else `Name: text` lines."""
    out: list[tuple[str | None, str]] = []
    speaker: str | None = None
    for raw in lines:
        pieces = _VOICE.split(raw)
        runs: list[tuple[str | None, str]] = [(speaker, pieces[0])]
        for name, text in zip(pieces[1::2], pieces[2::2], strict=True):
            speaker = _clean(name) or None
            runs.append((speaker, text))
        for who, text in runs:
            clean = _clean(text)
            if len(pieces) == 1 and (match := _SPEAKER.match(clean)):
                speaker = who = match.group(1)
                clean = match.group(2)
            if not clean:
                continue
            if out and out[-1][0] == who:
                out[-1] = (who, f"{out[-1][1]} {clean}")
            else:
                out.append((who, clean))
    return out


def _blocks(lines: list[str], first: int) -> Iterator[tuple[int, list[str]]]:
    """(1-based line of its first line, lines) for each run of non-blank lines."""
    block: list[str] = []
    start = 0
    for index in range(first, len(lines)):
        if lines[index].strip():
            if not block:
                start = index + 1
            block.append(lines[index])
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


class _TranscriptConnector(Connector):
    """Shared cue parsing; subclasses find where the cues begin and the meeting's start."""

    label: ClassVar[str]
    snapshot = True  # a corrected transcript replaces the old one in search

    def __init__(self, start: datetime | str | None = None, merge: bool = True) -> None:
        try:
            self.start = parse_time(start) if start is not None else None
        except (ValueError, OverflowError) as exc:
            raise ConfigError(f"bad meeting start {start!r}: {exc}", hint="use ISO 8601") from None
        self.merge = merge

    def parse(self, path: Path) -> Iterator[Parsed]:
        where = str(path)
        text = read_document(path)
        if isinstance(text, IngestProblem):
            yield text
            return
        lines = text.splitlines()
        found = self._preamble(where, lines)
        if isinstance(found, IngestProblem):
            yield found
            return
        first, meeting_start, problems = found
        yield from problems
        start = self.start or meeting_start
        seq = 0
        for item in self._utterances(where, lines, first):
            if isinstance(item, IngestProblem):
                yield item
                continue
            metadata: dict[str, Any] = {"start": item.start, "end": item.end, "line": item.line}
            if item.cues:
                metadata["cues"] = item.cues
            yield Draft(
                text=item.text,
                kind="utterance",
                session_id=path.stem,
                seq=seq,
                actor=item.speaker,
                occurred_at=start + timedelta(seconds=item.start) if start else None,
                metadata=metadata,
                source_id=f"line:{item.line}:{seq}",
            )
            seq += 1

    def _preamble(
        self, where: str, lines: list[str]
    ) -> tuple[int, datetime | None, list[IngestProblem]] | IngestProblem:
        return 0, None, []

    def _is_skipped(self, block: list[str]) -> bool:
        return False

    def _utterances(
        self, where: str, lines: list[str], first: int
    ) -> Iterator[_Utterance | IngestProblem]:
        pending: _Utterance | None = None
        for line, block in _blocks(lines, first):
            if self._is_skipped(block):
                continue
            for item in self._cue(where, line, block):
                if isinstance(item, IngestProblem):
                    if pending is not None:  # never merge across a broken cue
                        yield pending
                        pending = None
                    yield item
                elif pending is not None and self._continues(pending, item):
                    pending.text = f"{pending.text} {item.text}"
                    pending.end = item.end
                    pending.cues.extend(item.cues)
                else:
                    if pending is not None:
                        yield pending
                    pending = item
        if pending is not None:
            yield pending

    def _continues(self, pending: _Utterance, item: _Utterance) -> bool:
        """Whether `item` is the same speaker finishing `pending`'s sentence right after it."""
        return (
            self.merge
            and pending.speaker is not None
            and pending.speaker == item.speaker
            and not pending.text.endswith(_SENTENCE_END)
            and 0 <= item.start - pending.end <= MERGE_GAP_SECONDS
        )

    def _cue(self, where: str, line: int, block: list[str]) -> Iterator[_Utterance | IngestProblem]:
        if "-->" in block[0]:
            at = 0
        elif len(block) > 1 and "-->" in block[1]:
            at = 1
        else:
            reason = f"{self.label}: expected a cue timing line 'start --> end'"
            yield IngestProblem(where, line, reason)
            return
        timing, number = block[at], line + at
        left, _, right = timing.partition("-->")
        try:
            start = parse_timestamp(left)
            end = parse_timestamp((right.split() or [""])[0])
        except ValueError as exc:
            reason = f"{self.label}: bad cue timing {timing.strip()!r}: {exc}"
            yield IngestProblem(where, number, reason)
            return
        if end < start:
            yield IngestProblem(where, number, f"{self.label}: cue ends before it starts")
            return
        segments = _segments(block[at + 1 :])
        if not segments:
            yield IngestProblem(where, number, f"{self.label}: cue has no text")
            return
        cue = [block[0].strip()] if at == 1 else []
        for speaker, text in segments:
            yield _Utterance(speaker, text, start, end, number, list(cue))


class VttConnector(_TranscriptConnector):
    """WebVTT; the meeting start comes from `start=` or a `NOTE start: <ISO time>` block."""

    name = "vtt"
    suffixes = (".vtt",)
    label = "WebVTT"

    @classmethod
    def sniff(cls, path: Path, head: str) -> bool:
        return path.suffix.lower() in cls.suffixes or head.lstrip("\ufeff").startswith("WEBVTT")

    def _preamble(
        self, where: str, lines: list[str]
    ) -> tuple[int, datetime | None, list[IngestProblem]] | IngestProblem:
        if not lines or not _WEBVTT.match(lines[0].lstrip("\ufeff")):
            return IngestProblem(where, 1, "missing the WEBVTT header: not a WebVTT file")
        first = next((i for i, text in enumerate(lines) if not text.strip()), len(lines))
        problems: list[IngestProblem] = []
        for line, block in _blocks(lines, first):
            if not block[0].startswith("NOTE") or not (match := _START.search("\n".join(block))):
                continue
            try:
                return first, parse_time(match.group(1)), problems
            except (ValueError, OverflowError) as exc:
                reason = f"WebVTT: ignored meeting start {match.group(1)!r}: {exc}"
                problems.append(IngestProblem(where, line, reason))
        return first, None, problems

    def _is_skipped(self, block: list[str]) -> bool:
        word = block[0].split(maxsplit=1)[0]
        return word in ("NOTE", "STYLE", "REGION")


class SrtConnector(_TranscriptConnector):
    """SubRip: numbered cues with `00:00:01,000 --> 00:00:04,000` timings; `start=` dates them."""

    name = "srt"
    suffixes = (".srt",)
    label = "SRT"


# "Maya Chen (00:01:02): text" as meeting tools export it, or "[00:01:02] Maya Chen: text".
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
_MEETING_LINE = re.compile(
    rf"^[ \t]*(?:(?P<name>[^\s(\[][^()\[\]]{{0,60}}?)[ \t]*\((?P<at>{_CLOCK})\)"
    rf"|\[(?P<at2>{_CLOCK})\][ \t]*(?P<name2>[^:]{{1,60}}?))[ \t]*:[ \t]*(?P<text>.*)$"
)
_HEADER = re.compile(r"^[ \t]*(date|start|started|meeting start)[ \t]*:[ \t]*(.+?)[ \t]*$", re.I)


def _clock_seconds(text: str) -> float:
    """Seconds from `h:mm:ss` or `mm:ss`, with or without a fraction."""
    return parse_timestamp(text if re.search(r"[.,]\d+$", text) else f"{text}.0")


class MeetingTextConnector(_TranscriptConnector):
    """Plain-text meeting transcripts: one `Name (00:01:02): text` line per turn; lines
    without that prefix continue the turn above; a `Date:` or `Start:` line before the first
    turn dates the meeting."""

    name = "meeting-text"
    suffixes = ()
    label = "meeting text"

    @classmethod
    def sniff(cls, path: Path, head: str) -> bool:
        if path.suffix.lower() not in (".txt", ".text", ".transcript", ""):
            return False
        lines = [line for line in head.splitlines()[:-1] if line.strip()][:20]
        turns = sum(1 for line in lines if _MEETING_LINE.match(line))
        return turns >= 2 and turns * 3 >= len(lines)

    def _preamble(
        self, where: str, lines: list[str]
    ) -> tuple[int, datetime | None, list[IngestProblem]] | IngestProblem:
        problems: list[IngestProblem] = []
        for index, line in enumerate(lines):
            if _MEETING_LINE.match(line):
                return index, self._start_from(where, lines[:index], problems), problems
        return IngestProblem(where, None, "meeting text: no 'Name (hh:mm:ss): text' line found")

    def _start_from(
        self, where: str, header: list[str], problems: list[IngestProblem]
    ) -> datetime | None:
        for number, line in enumerate(header, start=1):
            if match := _HEADER.match(line):
                try:
                    return parse_time(match.group(2))
                except (ValueError, OverflowError) as exc:
                    reason = f"meeting text: ignored meeting start {match.group(2)!r}: {exc}"
                    problems.append(IngestProblem(where, number, reason))
        return None

    def _utterances(
        self, where: str, lines: list[str], first: int
    ) -> Iterator[_Utterance | IngestProblem]:
        turns: list[_Utterance] = []
        for index in range(first, len(lines)):
            line, number = lines[index], index + 1
            match = _MEETING_LINE.match(line)
            if match is None:
                if line.strip() and turns and turns[-1].line > 0:
                    turns[-1].text = f"{turns[-1].text} {' '.join(line.split())}".strip()
                continue
            clock = match.group("at") or match.group("at2")
            try:
                start = _clock_seconds(clock)
            except ValueError as exc:
                yield from self._flush(where, turns)
                yield IngestProblem(where, number, f"meeting text: bad time {clock!r}: {exc}")
                turns.append(_Utterance(None, "", 0.0, 0.0, 0))  # a broken turn: skip its lines
                continue
            speaker = (match.group("name") or match.group("name2") or "").strip()
            text = " ".join(match.group("text").split())
            turns.append(_Utterance(speaker or None, text, start, start, number))
        yield from self._flush(where, turns)

    @staticmethod
    def _flush(where: str, turns: list[_Utterance]) -> Iterator[_Utterance | IngestProblem]:
        """Turns that have text, each ending where the next one starts."""
        kept = [t for t in turns if t.line > 0]
        for turn, after in zip(kept, [*kept[1:], None], strict=True):
            if after is not None and after.start >= turn.start:
                turn.end = after.start
            if turn.text:
                yield turn
            else:
                yield IngestProblem(where, turn.line, "meeting text: turn has no text")
        turns.clear()
