"""The detector contract (one required method, `find`), the registry, and the shared batch scan.

Speed comes from scanning a batch of texts at once: they are joined with SEP, and the few
passes every detector needs (lower-casing, keyword anchors, runs of digits) are made once per
batch and shared. A span that crosses SEP is discarded by the Redactor.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from typing import ClassVar, TypeVar

from .policy import Policy

Span = tuple[int, int, str]  # start, end (exclusive) and kind, in the scanned text
SEP = "\x00\n"  # between texts of a batch; NUL in a text is replaced (same length) first

_REGISTRY: dict[str, type[Detector]] = {}
D = TypeVar("D", bound="type[Detector]")

# Runs of digits and phone/card/IP punctuation, 7+ characters: phone, card, SSN and IPv4
# candidates. One pass shared by those four detectors.
_NUMERIC_RUN = re.compile(r"[\d(+][\d().\-/ +]{6,}")
# Two capitals (and a space) before two digits: IBAN and NINO candidates.
_NOT_DIGITS = str.maketrans("", "", "().-/ +")
_UPPER_DIGITS = re.compile(r"[A-Z]{2} ?\d\d")
_V6_FULL = re.compile(r"(?::[0-9A-Fa-f]{1,4}){6}")


class Detector(ABC):
    """Finds spans of one family of values; `gate` literals (any) must occur in the text, and
    `anchors` (lower-case literals) are found for it in the shared keyword pass."""

    gate: ClassVar[tuple[str, ...]] = ()
    anchors: tuple[str, ...] = ()

    def __init__(self, policy: Policy) -> None:
        self.anchor_set = frozenset(self.anchors)

    @abstractmethod
    def find(self, scan: Scan) -> Iterator[Span]:
        """Every span this detector recognises in `scan.text` (they may overlap)."""


def register(name: str) -> Callable[[D], D]:
    """Class decorator: make a detector available to policies under `name`."""

    def add(cls: D) -> D:
        _REGISTRY[name] = cls
        return cls

    return add


def build_detectors(policy: Policy) -> list[Detector]:
    """The policy's detectors, in the order the policy lists them."""
    from . import credentials, personal  # noqa: F401 - importing registers them

    return [_REGISTRY[name](policy) for name in policy.detectors]


class Anchors:
    """Finds many lower-case literals where a word starts, in one regex pass (a trie).

    Anchor literals must therefore start where a match can start a word: not after a letter
    (a digit, _ or punctuation before them is fine)."""

    def __init__(self, literals: Iterable[str]) -> None:
        self.literals = sorted({w for w in literals if w})
        # A literal that contains another also reports it: the pass finds one per position.
        self.implies = {w: [v for v in self.literals if v in w] for w in self.literals}
        # Literals are found where a word starts (not after a letter): 3x fewer attempts.
        body = _trie(self.literals)
        self.regex = re.compile(rf"(?<![a-z])(?:{body})") if self.literals else None

    def find(self, lowered: str) -> dict[str, list[int]]:
        hits: dict[str, list[int]] = {}
        if self.regex is None:
            return hits
        implies = self.implies
        for match in self.regex.finditer(lowered):
            start, word = match.start(), match.group()
            for literal in implies[word]:
                hits.setdefault(literal, []).append(start + word.index(literal))
        return hits


def _trie(words: list[str]) -> str:
    """A regex matching any of `words`, factored by common prefixes (much faster in `re`)."""
    root: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict) -> str:  # type: ignore[type-arg]
        branches = [re.escape(c) + emit(child) for c, child in sorted(node.items()) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            return f"(?:{body})?"
        return body

    return emit(root)


class Scan:
    """A batch of texts joined by SEP, with the views detectors share."""

    def __init__(self, texts: list[str], anchors: Anchors) -> None:
        clean = [t.replace("\x00", "\ufffd") if "\x00" in t else t for t in texts]
        self.text = SEP.join(clean)
        self.starts: list[int] = []
        offset = 0
        for text in clean:
            self.starts.append(offset)
            offset += len(text) + len(SEP)
        self.lengths = [len(t) for t in clean]
        self._anchors = anchors
        self.claimed: list[tuple[int, int]] = []  # spans found so far, by earlier detectors

    @cached_property
    def lower(self) -> str:
        """The text in lower case, with the same length (so offsets agree)."""
        lowered = self.text.lower()
        if len(lowered) != len(self.text):
            lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in self.text)
        return lowered

    @cached_property
    def hits(self) -> dict[str, list[int]]:
        """Positions of every anchor literal, in the lower-cased text."""
        return self._anchors.find(self.lower)

    def anchored(self, literals: frozenset[str]) -> list[int]:
        """Sorted positions where any of `literals` occurs."""
        return sorted({p for w, found in self.hits.items() if w in literals for p in found})

    @cached_property
    def numeric_runs(self) -> list[tuple[int, int, int]]:
        """(start, end, digits) of each run of digits and separators of 7+ characters."""
        return [
            (m.start(), m.end(), len(m.group().translate(_NOT_DIGITS)))
            for m in _NUMERIC_RUN.finditer(self.text)
        ]

    @cached_property
    def v6_anchors(self) -> list[int]:
        """Where an IPv6 address may be: a '::', or six ':hhhh' groups in a row."""
        found = set(self.positions("::"))
        text = self.text
        for index, start in enumerate(self.starts):  # full form: only texts with 7+ colons
            end = start + self.lengths[index]
            if text.count(":", start, end) >= 7:
                found.update(m.start() for m in _V6_FULL.finditer(text, start, end))
        return sorted(found)

    @cached_property
    def upper_digits(self) -> list[int]:
        return [m.start() for m in _UPPER_DIGITS.finditer(self.text)]

    def positions(self, literal: str) -> list[int]:
        """Every position of a (case-sensitive) literal."""
        out, find, pos = [], self.text.find, 0
        while (pos := find(literal, pos)) >= 0:
            out.append(pos)
            pos += 1
        return out

    def before(self, pos: int, size: int) -> str:
        """Up to `size` characters before `pos`, never reaching into the previous text."""
        start = max(0, pos - size)
        cut = self.text.rfind("\x00", start, pos)
        return self.text[(cut + 2 if cut >= 0 else start) : pos]

    def owner(self, start: int, end: int) -> int | None:
        """Which text a span belongs to, or None when it crosses SEP."""
        index = bisect_right(self.starts, start) - 1
        return index if end <= self.starts[index] + self.lengths[index] else None
