"""Find explicit time expressions in query text ("on 8th December, 2023", "in May 2023")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_PATTERNS = [
    # Most precise first; each match removes its span so a year is not matched twice.
    ("day", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s*{_YEAR}\b", re.I)),
    ("day", re.compile(rf"\b{_MONTH}\s+{_DAY},?\s*{_YEAR}\b", re.I)),
    ("day", re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>\d\d)-(?P<day>\d\d)\b")),
    ("month", re.compile(rf"\b{_MONTH},?\s+(?:of\s+)?{_YEAR}\b", re.I)),
    ("year", re.compile(rf"\b(?:in|during|of|since|by)\s+{_YEAR}\b", re.I)),
]


@dataclass(frozen=True, slots=True)
class TimeSpan:
    """A half-open interval of world time named by a query, and the text that named it."""

    start: datetime
    end: datetime
    text: str
    precision: str


def _span(precision: str, match: re.Match[str]) -> TimeSpan | None:
    year = int(match.group("year"))
    try:
        month_text = match.groupdict().get("month")
        month = 1
        if month_text:
            month = (
                int(month_text) if month_text.isdigit() else _MONTHS[month_text.lower().rstrip(".")]
            )
        if precision == "day":
            start = datetime(year, month, int(match.group("day")), tzinfo=UTC)
            end = start + timedelta(days=1)
        elif precision == "month":
            start = datetime(year, month, 1, tzinfo=UTC)
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        else:
            start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    except (ValueError, KeyError):
        return None
    return TimeSpan(start, end, match.group(0), precision)


def find_time_spans(text: str) -> tuple[list[TimeSpan], str]:
    """Time spans named in `text`, and the text with those expressions removed."""
    spans: list[TimeSpan] = []
    rest = text
    for precision, pattern in _PATTERNS:
        for match in list(pattern.finditer(rest)):
            span = _span(precision, match)
            if span is not None:
                spans.append(span)
        rest = pattern.sub(" ", rest)
    return spans, rest
