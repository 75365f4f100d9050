"""The detector contract (one required method, `find`), the registry, and the shared batch scan.

Speed comes from scanning a batch of texts at once: they are joined with SEP, and the few
passes every detector needs (lower-casing, keyword anchors, runs of digits) are made once per
batch and shared; most of them in one Hyperscan scan when it is available (prefilter.py), with
the same results. A span that crosses SEP is discarded by the Redactor.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from itertools import accumulate, filterfalse, repeat
from operator import add
from typing import ClassVar, TypeVar

from . import prefilter
from .policy import Policy

Span = tuple[int, int, str]  # start, end (exclusive) and kind, in the scanned text
SEP = "\x00\n"  # between texts of a batch; NUL in a text is replaced (same length) first

_REGISTRY: dict[str, list[type[Detector]]] = {}
D = TypeVar("D", bound="type[Detector]")

# Runs of digits and phone/card/IP punctuation, 7+ characters: phone, card, SSN and IPv4
# candidates. One pass shared by those four detectors. `re` scans for a leading character
# class much faster when it is a plain set ([0-9]) than a category (\d), so a batch whose
# texts hold no non-ASCII digit (almost all) uses the ASCII forms; they then find the same.
_NUMERIC_RUN = re.compile(r"[\d(+][\d().\-/ +]{6,}")
_NUMERIC_RUN_ASCII = re.compile(r"[0-9(+][0-9().\-/ +]{6,}")
_NOT_DIGITS = str.maketrans("", "", "().-/ +")
_NOT_DIGITS_BYTES = b"().-/ +"
# Two capitals (and a space) before two digits: IBAN and NINO candidates.
# Not after a letter or digit (both detectors require that); the look-behind comes after the
# first letter so that `re` can skip ahead to capitals.
_UPPER_DIGITS = re.compile(r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z] ?\d\d")
_UPPER_DIGITS_ASCII = re.compile(r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z] ?[0-9][0-9]")
# A decimal digit outside 0-9: [^\D0-9], written so that `re` can skip ahead to characters
# outside ASCII (a plain range) before it tests one for being a digit.
_OTHER_DIGIT = re.compile(r"[\x80-\U0010ffff](?<=\d)")
_V6_FULL = re.compile(r":[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){5}")  # literal first: fast
# Street suffixes (German, Dutch) end a word: found anywhere in the lowered text (no two
# overlap).
_DE_SUFFIX = re.compile("|".join(re.escape(s) for s in prefilter.DE_SUFFIXES))


def ascii_digits(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """`pattern` with \\d as 0-9 (in and out of classes): what it finds in text whose digits
    are all 0-9 (Scan.ascii_digits) is the same, and `re` tests a plain set faster."""
    out: list[str] = []
    source, index, in_class = pattern.pattern, 0, False
    while index < len(source):
        char = source[index]
        if char == "\\":
            pair = source[index : index + 2]
            if pair == "\\D":
                raise ValueError("\\D is not rewritten")
            out.append(("0-9" if in_class else "[0-9]") if pair == "\\d" else pair)
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            if source[index + 1 : index + 2] == "^":
                out.append("^")
                index += 1
            if source[index + 1 : index + 2] == "]":  # (a leading ] is a member)
                out.append("]")
                index += 1
        elif char == "]" and in_class:
            in_class = False
            out.append(char)
        else:
            out.append(char)
        index += 1
    return re.compile("".join(out), pattern.flags)


def word_start_first(words: list[str], before: str) -> str:
    """An alternation of `words` (literals, none empty), each not after a `before` character
    (a class, such as \\w): (?<!before)(?:ab|cd), written as a(?<!before.)b|c(?<!before.)d with
    each look-behind after the word's first character, so that `re` can skip ahead to the
    first characters instead of trying the look-behind everywhere (the same matches)."""
    return "|".join(f"{re.escape(w[0])}(?<!{before}[\\s\\S]){re.escape(w[1:])}" for w in words)


class Detector(ABC):
    """Finds spans of one family of values; `gate` literals (any) must occur in the text, and
    `anchors` (lower-case literals) are found for it in the shared keyword pass."""

    gate: ClassVar[tuple[str, ...]] = ()
    anchors: tuple[str, ...] = ()
    run_length = 0  # the length of token runs it wants from Scan.token_runs (0: none)

    def __init__(self, policy: Policy) -> None:
        self.anchor_set = frozenset(self.anchors)

    @abstractmethod
    def find(self, scan: Scan) -> Iterator[Span]:
        """Every span this detector recognises in `scan.text` (they may overlap)."""


def register(name: str) -> Callable[[D], D]:
    """Class decorator: make a detector available to policies under `name`. Several may
    share a name (they then run together, in the order they were registered)."""

    def add(cls: D) -> D:
        classes = _REGISTRY.setdefault(name, [])
        # (a class registered again, as when its module is reloaded, replaces itself)
        classes[:] = [c for c in classes if c.__qualname__ != cls.__qualname__]
        classes.append(cls)
        return cls

    return add


def build_detectors(policy: Policy) -> list[Detector]:
    """The policy's detectors, in the order the policy lists them."""
    from . import (  # noqa: F401 - registers them
        addresses,
        credentials,
        passwords,
        personal,
        postal,
        streets,
    )

    return [cls(policy) for name in policy.detectors for cls in _REGISTRY[name]]


class Anchors:
    """Finds many lower-case literals where a word starts, in one regex pass (a trie).

    Anchor literals must therefore start where a match can start a word: not after a letter
    (a digit, _ or punctuation before them is fine)."""

    def __init__(self, literals: Iterable[str], run_length: int = 0) -> None:
        self.literals = sorted({w for w in literals if w})
        self.run_length = run_length  # token runs the prefilter finds too (0: none)
        # A literal that contains another also reports it: the pass finds one per position.
        self.implies = {w: [v for v in self.literals if v in w] for w in self.literals}
        # Literals are found where a word starts (not after a letter): 3x fewer attempts.
        body = _trie(self.literals)
        self.regex = re.compile(rf"(?<![a-z])(?:{body})") if self.literals else None
        # Faster, same result: in the lowered text as ASCII bytes (one byte a character)
        # passed through bytes.title(), a letter is upper case exactly where no letter comes
        # before it, so the title-cased literals match only where a word starts and `re` can
        # skip ahead to capitals instead of trying a look-behind at every character.
        self.titled = None
        self.untitle: dict[bytes, str] = {}
        if self.literals and all(w.isascii() and w == w.lower() for w in self.literals):
            self.titled = re.compile(_trie([w.title() for w in self.literals], True).encode())
            self.untitle = {w.title().encode(): w for w in self.literals}
        self._prefilter: prefilter.Prefilter | None = None
        self._prefilter_got = False

    @property
    def prefilter(self) -> prefilter.Prefilter | None:
        """The Hyperscan prefilter for these literals, or None (unavailable, switched off,
        or literals it cannot take): the `re` passes are then used."""
        if not prefilter.ENABLED or self.titled is None:
            return None
        if not self._prefilter_got:
            self._prefilter = prefilter.get(self.literals, self.implies, self.run_length)
            self._prefilter_got = True
        return self._prefilter

    def __getstate__(self) -> dict[str, object]:
        """Copies and pickles leave the compiled database out (each process gets its own)."""
        return {**self.__dict__, "_prefilter": None, "_prefilter_got": False}

    def find(self, lowered: str) -> dict[str, list[int]]:
        hits: dict[str, list[int]] = {}
        if self.regex is None:
            return hits
        implies = self.implies
        if self.titled is not None:
            data = lowered.encode("ascii", "replace").title()
            untitle = self.untitle
            found = [(m.start(), untitle[m.group()]) for m in self.titled.finditer(data)]
        else:
            found = [(m.start(), m.group()) for m in self.regex.finditer(lowered)]
        for start, word in found:
            for literal in implies[word]:
                hits.setdefault(literal, []).append(start + word.index(literal))
        return hits


def _trie(words: list[str], word_start: bool = False) -> str:
    """A regex matching any of `words`, factored by common prefixes (much faster in `re`).
    `word_start`: a word that starts with a non-letter must not follow a letter."""
    root: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict, top: bool = False) -> str:  # type: ignore[type-arg]
        branches = [
            re.escape(c) + (rf"(?<![A-Za-z]{re.escape(c)})" if top and not c.isalpha() else "")
            + emit(child)
            for c, child in sorted(node.items()) if c
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            return f"(?:{body})?"
        return body

    return emit(root, word_start)


class Scan:
    """A batch of texts joined by SEP, with the views detectors share."""

    def __init__(self, texts: list[str], anchors: Anchors) -> None:
        joined = SEP.join(texts)
        clean = texts
        if joined.count("\x00") >= len(texts):  # a text holds a NUL
            clean = [t.replace("\x00", "\ufffd") if "\x00" in t else t for t in texts]
            joined = SEP.join(clean)
        self.text = joined
        self.lengths = lengths = list(map(len, clean))
        # start of text i: the lengths before it and i separators (map/accumulate: in C)
        sep = len(SEP)
        self.starts: list[int] = list(
            map(add, accumulate(lengths[:-1], initial=0), range(0, sep * len(lengths), sep))
        ) if lengths else []
        # True when every digit in the batch is 0-9 (the ASCII patterns then suffice).
        # (map and filterfalse: the loop over the texts runs in C)
        self.ascii_digits = joined.isascii() or not any(
            map(_OTHER_DIGIT.search, filterfalse(str.isascii, clean))
        )
        self._anchors = anchors
        self._anchored: dict[frozenset[str], list[int]] = {}
        self.claimed: list[tuple[int, int]] = []  # spans found so far, by earlier detectors
        self._runs_with: dict[str, set[int] | None] = {}

    @cached_property
    def lower(self) -> str:
        """The text in lower case, with the same length (so offsets agree)."""
        lowered = self.text.lower()
        if len(lowered) != len(self.text):
            lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in self.text)
        return lowered

    @cached_property
    def prefiltered(self) -> prefilter.Matches | None:
        """The shared passes made in one Hyperscan scan, or None (the `re` passes then)."""
        found = self._anchors.prefilter
        return found.scan(self.text, self.ascii_digits) if found is not None else None

    @cached_property
    def hits(self) -> dict[str, list[int]]:
        """Positions of every anchor literal, in the lower-cased text."""
        if (matches := self.prefiltered) is not None:
            return matches.hits
        return self._anchors.find(self.lower)

    def token_runs(self, length: int) -> list[int] | None:
        """Where runs of `length`+ characters [A-Za-z0-9+/_-] start, not after one of them
        or '=' (as EntropyDetector looks for them), or None: that detector's `re` pass then."""
        if length != self._anchors.run_length or (matches := self.prefiltered) is None:
            return None
        return matches.token_runs

    def runs_with(self, kind: str) -> set[int] | None:
        """Indices of the numeric runs that hold a prefilter.NUMERIC[kind] shape (the others
        cannot hold that detector's match), or None: every run may."""
        if kind in self._runs_with:
            return self._runs_with[kind]
        found: set[int] | None = None
        matches = self.prefiltered
        if matches is not None and kind in matches.numeric:
            # A shape is digits and run punctuation starting with a digit: it lies inside one
            # run (from its first digit, + or '(' to the end of its characters).
            runs, starts = self.numeric_runs, self.numeric_run_starts
            found = set()
            for end in matches.numeric[kind]:
                index = bisect_right(starts, end - 1) - 1
                if index >= 0 and end <= runs[index][1]:
                    found.add(index)
        self._runs_with[kind] = found
        return found

    @cached_property
    def german(self) -> list[int]:
        """Positions of the German and Dutch street suffixes (prefilter.DE_SUFFIXES), any
        case."""
        if (matches := self.prefiltered) is not None:
            return matches.german
        return [m.start() for m in _DE_SUFFIX.finditer(self.lower)]

    def anchored(self, literals: frozenset[str]) -> list[int]:
        """Sorted positions where any of `literals` occurs (a list shared by callers: do not
        change it)."""
        found = self._anchored.get(literals)
        if found is None:
            hits = self.hits
            found = sorted({p for w in literals.intersection(hits) for p in hits[w]})
            self._anchored[literals] = found
        return found

    @cached_property
    def numeric_runs(self) -> list[tuple[int, int, int]]:
        """(start, end, digits) of each run of digits and separators of 7+ characters."""
        if self.ascii_digits:  # (map and zip: in C)
            found = list(_NUMERIC_RUN_ASCII.finditer(self.text))
            digits = map(
                len,
                map(
                    bytes.translate,
                    map(str.encode, map(re.Match.group, found)),
                    repeat(None),
                    repeat(_NOT_DIGITS_BYTES),
                ),
            )
            return list(
                zip(map(re.Match.start, found), map(re.Match.end, found), digits, strict=True)
            )
        return [
            (m.start(), m.end(), len(m.group().translate(_NOT_DIGITS)))
            for m in _NUMERIC_RUN.finditer(self.text)
        ]

    @cached_property
    def numeric_run_starts(self) -> list[int]:
        """The start of each numeric run (for bisecting)."""
        return [run[0] for run in self.numeric_runs]

    @cached_property
    def v6_anchors(self) -> list[int]:
        """Where an IPv6 address may be: a '::', or six ':hhhh' groups in a row."""
        found = set(self.positions("::"))
        text = self.text
        if text.count(":") >= 7:  # full form (eight groups, seven colons)
            found.update(m.start() for m in _V6_FULL.finditer(text))
        return sorted(found)

    def shape_ends(self, kind: str) -> list[int] | None:
        """Where matches of prefilter.NUMERIC[kind] end (sorted), or None: no prefilter scan
        (the detector then searches the text itself)."""
        matches = self.prefiltered
        if matches is None or kind not in matches.numeric:
            return None
        return sorted(matches.numeric[kind])

    def shape_matches(
        self,
        kind: str,
        pattern: re.Pattern[str],
        locate: Callable[[str, int, int], re.Match[str] | None],
    ) -> Iterator[re.Match[str]]:
        """`pattern`'s matches in the text, in order: from the prefilter's shapes of `kind`
        when it ran (`locate(text, shape_end, end_of_last_match)` finds the match a shape
        belongs to, or None), else by searching the whole text."""
        ends = self.shape_ends(kind)
        if ends is None:
            yield from pattern.finditer(self.text)
            return
        last = -1
        for end in ends:
            if (found := locate(self.text, end, last)) is not None:
                last = found.end()
                yield found

    @cached_property
    def upper_digits(self) -> list[int]:
        if self.ascii_digits and (matches := self.prefiltered) is not None:
            return matches.upper_digits
        pattern = _UPPER_DIGITS_ASCII if self.ascii_digits else _UPPER_DIGITS
        return [m.start() for m in pattern.finditer(self.text)]

    def positions(self, literal: str) -> list[int]:
        """Every position of a (case-sensitive) literal."""
        out, find, pos = [], self.text.find, 0
        while (pos := find(literal, pos)) >= 0:
            out.append(pos)
            pos += 1
        return out

    def finditer(
        self, pattern: re.Pattern[str], prefixes: tuple[str, ...]
    ) -> Iterator[re.Match[str]]:
        """What pattern.finditer(self.text) finds, for a case-sensitive pattern every match of
        which starts with one of `prefixes` (literals): tried only where they occur, found by
        str.find, which skips ahead much faster than `re` does."""
        if len(prefixes) == 1:
            starts = self.positions(prefixes[0])
        else:
            starts = sorted({p for prefix in prefixes for p in self.positions(prefix)})
        text, match, cursor = self.text, pattern.match, 0
        for start in starts:
            if start >= cursor and (found := match(text, start)) is not None:
                yield found
                cursor = found.end()  # (never empty: it starts with a prefix)

    def before(self, pos: int, size: int) -> str:
        """Up to `size` characters before `pos`, never reaching into the previous text."""
        start = max(0, pos - size)
        cut = self.text.rfind("\x00", start, pos)
        return self.text[(cut + 2 if cut >= 0 else start) : pos]

    def owner(self, start: int, end: int) -> int | None:
        """Which text a span belongs to, or None when it crosses SEP."""
        index = bisect_right(self.starts, start) - 1
        return index if end <= self.starts[index] + self.lengths[index] else None
