"""An optional single-pass prefilter: the shared passes over a batch in one Hyperscan scan.

Scan needs, for every batch, the positions of the anchor literals (where a word starts, case
insensitively), of the German street suffixes, of two capitals before two digits (IBAN and
NINO candidates) and of the runs of token characters the entropy detector weighs. With `re`
those are four passes over the text (and a lower-cased copy of it); with Hyperscan (the
`hyperscan` package, when it imports) they are one scan of the text as ASCII bytes (one byte
a character, so offsets agree), after which the raw matches are turned in Python into exactly
the positions the `re` passes give. The same scan also finds shapes that every SSN or IPv4
match contains (NUMERIC), so those detectors skip the runs of digits without one.

It only ever saves work: the findings are the same with it and without it (see
tests/test_redact_prefilter.py). Without Hyperscan, with `ENABLED` False, or for a batch it
cannot take exactly (a Kelvin sign; digits other than 0-9 for the digit shapes), Scan makes
the `re` passes as before.
"""

from __future__ import annotations

import threading
from typing import Any

from .compiled import compile_database

try:  # an optional speed-up: absent (or unsupported platform) means the `re` passes
    import hyperscan as _hs
except Exception:  # pragma: no cover - depends on the platform
    _hs = None  # type: ignore[assignment]

ENABLED = True  # set False to force the `re` passes (tests and the benchmark's A/B do)

# German and Dutch street suffixes (AddressDetector), lower case; each ends a word with a
# space and none ends another, so no two occurrences overlap. 'ß' is one character, one '?'
# in the ASCII bytes scanned. "straße " must stay first (see Prefilter.sharp).
DE_SUFFIXES = (
    "straße ", "strasse ", "str. ", "weg ", "platz ", "allee ", "gasse ", "damm ",
    "straat ", "gracht ", "laan ", "plein ", "kade ", "singel ", "dijk ",
)
# Characters whose lower case is ASCII though they are not (the Kelvin sign is 'k'): a batch
# holding one is left to the `re` passes, which see the lower-cased text.
_LOWER_TO_ASCII = "\u212a"
_SPACE = 0x20


def available() -> bool:
    """Whether the Hyperscan prefilter is importable and switched on."""
    return _hs is not None and ENABLED


def _escape(literal: str) -> bytes:
    """A Hyperscan pattern matching `literal` (ASCII, with '?' for a non-ASCII character)."""
    return "".join(
        c if c.isascii() and c.isalnum() else r"\x3f" if not c.isascii() else f"\\x{ord(c):02x}"
        for c in literal
    ).encode()


class Matches:
    """What one scan found: anchor literal hits, German suffix and capitals-digits positions,
    and where runs of token characters at least `run_length` long start."""

    __slots__ = ("german", "hits", "numeric", "token_runs", "upper_digits")

    def __init__(
        self, hits: dict[str, list[int]], german: list[int], upper_digits: list[int],
        token_runs: list[int], numeric: dict[str, list[int]],
    ) -> None:
        self.hits = hits
        self.german = german
        self.upper_digits = upper_digits
        self.token_runs = token_runs
        self.numeric = numeric  # kind -> where a match of NUMERIC[kind] ends (ASCII digits)


# Shapes every match of a numeric detector contains, with ASCII digits (exact when the batch
# holds no other digit): a numeric run without one cannot hold a match of that detector. Each
# is written to match once per occurrence (one end offset): fewer matches, less to report.
NUMERIC = {
    # SSN grouped 3-2-4, or bare: nine digits not after a digit
    "ssn": (rb"[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}", rb"(?:^|[^0-9])[0-9]{9}"),
    # a dotted quad not after a digit, up to the first digit of its last number
    "ipv4": (rb"(?:^|[^0-9])[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]",),
    # postcodes (postal.py): British, and a state or province code before four digits or a
    # Canadian code, up to its first three characters after the space
    "postcode": (
        rb"(?:^|[^A-Za-z0-9_\-])[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}",
        rb"(?:^|[^A-Za-z0-9_\-])[A-Z]{2,3} (?:[0-9]{4}|[A-Z][0-9][A-Z])",
    ),
    # streets.py: ", " before a postcode and a capital (a non-ASCII one reads as "?"), or
    # six digits after a word (an Indian PIN after its place), in one expression (cheaper)
    "continental": (rb"(?:, [0-9]{2,5}(?:[ -][0-9]{2,3})? [A-Z?]|[a-z] [1-9][0-9]{5})",),
    # a symbol between two letters or digits (passwords.py: a strong password's shape)
    "password_shape": (rb"[A-Za-z0-9][!#$%&*^~?][A-Za-z0-9]",),
}


class Prefilter:
    """One Hyperscan database for a set of anchor literals (lower-case ASCII) and a token-run
    length (0: none), compiled once per process for each (see `get`)."""

    def __init__(
        self, literals: list[str], implies: dict[str, list[str]], run_length: int = 0
    ) -> None:
        assert _hs is not None
        self.literals = literals
        self.run_length = run_length
        self.lengths = [len(w) for w in literals]
        # word -> (literal, offset) for each literal found where `word` is (itself included)
        self.implied = {w: [(v, w.index(v)) for v in implies[w]] for w in literals}
        self.implied_by_id = [self.implied[w] for w in literals]  # (the same, by literal id)
        count = len(literals)
        self.german_sizes = {count + i: len(s) for i, s in enumerate(DE_SUFFIXES)}
        self.sharp = count  # DE_SUFFIXES[0] is "straße ": check its '?' is a sharp s
        self.upper_id = count + len(DE_SUFFIXES)
        # Anchor literals only where a word starts (not after a letter): far fewer matches.
        expressions = [rb"(?:^|[^A-Za-z])" + _escape(w) for w in literals]
        expressions += [_escape(s) for s in DE_SUFFIXES]
        expressions.append(rb"(?:^|[^A-Za-z0-9])[A-Z][A-Z] ?[0-9][0-9]")  # not after [A-Za-z0-9]
        caseless = _hs.HS_FLAG_CASELESS
        flags = [caseless] * (count + len(DE_SUFFIXES)) + [0]
        self.run_id = -1  # no such expression unless token runs are asked for
        if run_length:
            self.run_id = len(expressions)
            # The start of a run of `run_length` token characters (EntropyDetector's): one
            # match a run, `run_length` characters after the gap before it (or the start).
            expressions.append(
                rb"(?:^|[^A-Za-z0-9+/_=\-])[A-Za-z0-9+/_\-]{%d}" % run_length
            )
            flags.append(0)
        self.numeric_ids: dict[int, str] = {}
        for kind, shapes in NUMERIC.items():
            for shape in shapes:
                self.numeric_ids[len(expressions)] = kind
                expressions.append(shape)
                flags.append(0)
        self.database = compile_database(_hs, expressions, flags)  # or loaded from disk
        self._local = threading.local()  # a scratch space per thread (scans release the GIL)

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = _hs.Scratch(self.database)  # type: ignore[union-attr]
        return scratch

    def scan(self, text: str, ascii_digits: bool) -> Matches | None:
        """The matches in `text`, or None when this batch needs the `re` passes. Upper-digit
        positions are exact only when `ascii_digits` (else left empty: the caller runs re)."""
        if _LOWER_TO_ASCII in text:
            return None
        data = text.encode("ascii", "replace")  # one byte a character: offsets agree
        count, lengths = len(self.literals), self.lengths
        found_at: list[tuple[int, int, int]] = []  # (start, -length, id) of each literal
        german: list[int] = []
        upper: list[int] = []
        runs: list[int] = []
        upper_id, run_id, sizes = self.upper_id, self.run_id, self.german_sizes
        run_length, sharp = self.run_length, self.sharp
        numeric_ids = self.numeric_ids
        numeric: dict[str, list[int]] = {kind: [] for kind in NUMERIC}
        add_literal, add_run = found_at.append, runs.append

        # Each match is sorted out as it is reported (no second pass over a list of them).
        def found(ident: int, start: int, end: int, flags: int, context: object) -> None:
            if ident < count:  # (the pattern checked that a word starts there)
                size = lengths[ident]
                add_literal((end - size, -size, ident))
            elif ident == run_id:
                add_run(end - run_length)
            elif ident == upper_id:
                if ascii_digits:
                    upper.append(end - 5 if data[end - 3] == _SPACE else end - 4)
            elif ident in numeric_ids:
                numeric[numeric_ids[ident]].append(end)
            else:
                begin = end - sizes[ident]
                if ident != sharp or text[begin + 4] in "ßẞ":
                    german.append(begin)

        self.database.scan(data, match_event_handler=found, scratch=self._scratch())
        # The `re` pass takes, from left to right, the longest literal at each word start and
        # goes on after it (so literals inside it are not found, except those it contains).
        hits: dict[str, list[int]] = {}
        implied = self.implied_by_id
        cursor = 0
        found_at.sort()  # by start, the longest first
        for start, size, ident in found_at:
            if start < cursor:
                continue  # inside the literal taken before (or a shorter one at its start)
            cursor = start - size
            for literal, offset in implied[ident]:
                if literal in hits:
                    hits[literal].append(start + offset)
                else:
                    hits[literal] = [start + offset]
        german.sort()
        upper.sort()
        runs.sort()
        return Matches(hits, german, upper, runs, numeric if ascii_digits else {})


_CACHE: dict[tuple[tuple[str, ...], int], Prefilter | None] = {}
_LOCK = threading.Lock()


def get(
    literals: list[str], implies: dict[str, list[str]], run_length: int = 0
) -> Prefilter | None:
    """The prefilter for these anchor literals and token-run length (compiled once per
    process), or None when Hyperscan is unavailable, switched off, or cannot handle them
    (non-ASCII literals)."""
    if not available() or not all(w.isascii() and w == w.lower() for w in literals):
        return None
    key = (tuple(literals), run_length)
    with _LOCK:
        if key not in _CACHE:
            try:
                _CACHE[key] = Prefilter(literals, implies, run_length)
            except Exception:  # a pattern Hyperscan refuses: the `re` passes still work
                _CACHE[key] = None
        return _CACHE[key]
