"""Append-only line sources: complete lines read from a byte offset, so a grown file resumes."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import Connector, Parsed


@dataclass
class Resume:
    """Where reading stopped: the byte offset and line number after the last complete line,
    and the connector's own state (per-session counters), all JSON-serialisable."""

    offset: int = 0
    line: int = 0
    state: dict[str, Any] = field(default_factory=dict)


class LineConnector(Connector):
    """One item (or a few) per line; subclasses implement `parse_line`."""

    appendable = True

    def parse(self, path: Path) -> Iterator[Parsed]:
        yield from self.parse_from(path, Resume())

    def parse_from(self, path: Path, resume: Resume, *, final: bool = True) -> Iterator[Parsed]:
        """Items of the lines after `resume.offset`, advancing `resume` past each line read.

        An unterminated last line is read only when `final`; otherwise it may still be being
        written, and is left for the next read.
        """
        where = str(path)
        with path.open("rb") as handle:
            handle.seek(resume.offset)
            for raw in handle:
                if not raw.endswith(b"\n") and not final:
                    return
                resume.line += 1
                resume.offset += len(raw)
                text = raw.decode("utf-8", errors="replace")
                if resume.line == 1:
                    text = text.lstrip("\ufeff")
                if text.strip():
                    yield from self.parse_line(where, resume.line, text, resume.state)

    @abstractmethod
    def parse_line(
        self, where: str, number: int, text: str, state: dict[str, Any]
    ) -> Iterator[Parsed]:
        """Items of line `number` (1-based); `state` persists across lines and resumed reads."""


def next_seq(state: dict[str, Any], session: str) -> int:
    """The next position in `session`, counted in `state` so a resumed read continues it."""
    counters: dict[str, int] = state.setdefault("seq", {})
    seq = counters.get(session, 0)
    counters[session] = seq + 1
    return seq
