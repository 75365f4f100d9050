"""Reading JSON sources: decode errors with line and column, and where each array item starts."""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..types import IngestProblem

_WS = re.compile(r"[ \t\n\r]*")
DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class JsonDocument:
    """One top-level JSON value, the line it starts on, and the line each array item starts on."""

    value: Any
    line: int
    item_lines: tuple[int, ...] = ()

    def line_of(self, index: int) -> int:
        """The line array item `index` (0-based) starts on."""
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def read_text(path: Path) -> str | IngestProblem:
    """A file's text, or the problem that stops it being read (I/O error or bad encoding)."""
    try:
        return decode_bytes(path.read_bytes(), str(path))
    except OSError as exc:
        return IngestProblem(str(path), None, f"cannot read: {exc.strerror or exc}")


def decode_bytes(data: bytes, where: str) -> str | IngestProblem:
    """UTF-8 text (a BOM is dropped), or a problem naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return IngestProblem(where, line, f"not UTF-8 text: byte 0x{data[exc.start]:02x}")


def skip_space(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def documents(text: str, where: str) -> Iterator[JsonDocument | IngestProblem]:
    """Each top-level value in `text`: one, or several back to back (as `gh api --paginate`
    and JSON Lines write them); a decode error ends the stream with a problem."""
    newlines = [m.start() for m in re.finditer("\n", text)]

    def line_of(offset: int) -> int:
        return bisect_right(newlines, offset - 1) + 1

    pos = skip_space(text, 0)
    if pos >= len(text):
        yield IngestProblem(where, 1, "empty file: expected JSON")
        return
    while pos < len(text):
        try:
            value, end = DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield IngestProblem(where, exc.lineno, f"invalid JSON at column {exc.colno}: {exc.msg}")
            return
        lines: tuple[int, ...] = ()
        if isinstance(value, list):
            lines = tuple(line_of(offset) for offset in item_offsets(text, pos))
        yield JsonDocument(value, line_of(pos), lines)
        pos = skip_space(text, end)


def item_offsets(text: str, pos: int) -> list[int]:
    """Start offsets of the elements of the (already decoded) JSON array at `pos`."""
    offsets: list[int] = []
    pos = skip_space(text, pos + 1)
    while text[pos] != "]":
        offsets.append(pos)
        _, pos = DECODER.raw_decode(text, pos)
        pos = skip_space(text, pos)
        if text[pos] == ",":
            pos = skip_space(text, pos + 1)
    return offsets


def type_name(value: Any) -> str:
    """JSON's name for a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
