"""The header of a comma-separated column: what a bare value in a CSV row is (an undashed
SSN in the "ssn" column)."""

from __future__ import annotations

_EDGES = (",", "\n", "", "\x00")
_ROWS = 200  # how far up the rows csv_header looks for the header line


def csv_header(text: str, start: int, end: int) -> str | None:
    """The header cell of the CSV column whose field is text[start:end], or None when that
    is not a whole field of a comma-separated row under a header line. The header is the
    first line of the block of lines with as many commas as the value's line, in its text."""
    if text[start - 1 : start] not in _EDGES or text[end : end + 1] not in _EDGES:
        return None
    line = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    row = text[line : line_end if line_end >= 0 else len(text)]
    commas = row.count(",")
    if not commas:
        return None
    column = text.count(",", line, start)
    header = None
    for _ in range(_ROWS):
        if line < 1:
            break
        above = text.rfind("\n", 0, line - 1) + 1
        previous = text[above : line - 1]
        if previous.count(",") != commas or "\x00" in previous:
            break  # (a NUL ends the text before, in a batch: base.SEP)
        header, line = previous, above
    if header is None:
        return None
    return header.split(",")[column]
