"""Sensitive-topic rules: cue phrases that mark a record (or paragraph) as HR material.

Each cue gets triggers, literals one of which every match of it contains (found by parsing
the cue); a cue is only tried on texts holding one of its triggers, so a batch costs one
keyword pass (shared with the detectors) however many rules there are.
"""

from __future__ import annotations

import re
import re._constants as _constants
import re._parser as _parser
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from .base import Scan
from .policy import Policy, TopicRule

_PARAGRAPH = re.compile(r"\n[ \t]*\n")
MIN_TRIGGER = 3


@dataclass(frozen=True, slots=True)
class TopicHit:
    """Which rule matched, and the part of the text it covers."""

    rule: TopicRule
    start: int
    end: int


def triggers(cue: str) -> list[tuple[str, ...]]:
    """Clauses of lower-case literals: every match of `cue` contains one literal of each clause
    (found by parsing the cue). No clauses: the cue is tried on every text."""
    try:
        clauses = _clauses(list(_parser.parse(cue)))
    except Exception:
        return []
    return [tuple(sorted({w.lower() for w in clause})) for clause in clauses]


def trigger(cue: str) -> tuple[str, ...]:
    """The most selective clause of `triggers(cue)` (longest shortest literal), or ()."""
    clauses = triggers(cue)
    return max(clauses, key=lambda c: min(len(w) for w in c)) if clauses else ()


def _usable(literal: str) -> bool:
    return len(literal) >= MIN_TRIGGER and sum(c.isalnum() for c in literal) >= 2


def _clauses(items: list[tuple[object, object]], initial: bool = True) -> list[list[str]]:
    """Required literals of a parsed sequence. Only literals that start a word (at the start,
    after a space or punctuation) are kept, since the keyword pass finds them at word starts;
    `initial` says whether the sequence itself starts one."""
    clauses: list[list[str]] = []
    run: list[str] = []
    start_ok = initial

    def flush() -> None:
        literal = "".join(run)
        if not start_ok:  # the run begins inside a word: keep only what follows a non-letter
            cut = next((i for i, c in enumerate(literal) if not c.isalpha()), len(literal))
            literal = literal[cut:]
        literal = literal.lstrip()
        if _usable(literal):
            clauses.append([literal])
        run.clear()

    previous_ok = initial  # may the next item start a word?
    for op, arg in items:
        if op is _constants.LITERAL:
            if not run:
                start_ok = previous_ok
            char = chr(cast(int, arg))
            run.append(char)
            previous_ok = not char.isalpha()
            continue
        if run:
            flush()
        if op is _constants.SUBPATTERN:
            clauses += _clauses(list(arg[3]), previous_ok)  # type: ignore[index]
        elif op is _constants.BRANCH:
            branches = [_clauses(list(b), previous_ok) for b in arg[1]]  # type: ignore[index]
            if all(branches):
                # each branch offers its most selective clause; the union covers them all
                best = [max(b, key=lambda c: min(len(w) for w in c)) for b in branches]
                clauses.append([w for clause in best for w in clause])
        elif op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT) and arg[0] >= 1:  # type: ignore[index]
            clauses += _clauses(list(arg[2]), previous_ok)  # type: ignore[index]
        previous_ok = False
    if run:
        flush()
    return clauses


def _compile(cue: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w)(?:{cue})(?!\w)", re.IGNORECASE)


class TopicClassifier:
    """A policy's topic rules, tried in file order: strong cues first, then weak ones."""

    def __init__(self, policy: Policy) -> None:
        self.rules = policy.topics
        self.scope = policy.topic_scope
        # cue id (rule, j): j >= 0 is weak cue j, j < 0 is strong cue -1 - j
        self.cues: dict[tuple[int, int], re.Pattern[str]] = {}
        self.by_literal: dict[str, set[tuple[int, int]]] = {}
        self.always: set[tuple[int, int]] = set()
        for i, rule in enumerate(self.rules):
            pairs = [(-1 - k, c) for k, c in enumerate(rule.cues)]
            pairs += list(enumerate(rule.weak_cues))
            for j, cue in pairs:
                key = (i, j)
                self.cues[key] = _compile(cue)
                literals = trigger(cue)
                if not literals:
                    self.always.add(key)
                for literal in literals:
                    self.by_literal.setdefault(literal, set()).add(key)

    @property
    def anchors(self) -> tuple[str, ...]:
        return tuple(self.by_literal)

    def classify(self, text: str, cues: set[tuple[int, int]] | None = None) -> TopicRule | None:
        """The first rule with a matching strong cue, else one whose weak cues reach its
        minimum; `cues`, when given, limits the work to those cue ids."""
        keys = sorted(self.cues if cues is None else cues)
        for key in keys:
            if key[1] < 0 and self.cues[key].search(text):
                return self.rules[key[0]]
        weak: dict[int, list[tuple[int, int]]] = {}
        for key in keys:
            if key[1] >= 0:
                weak.setdefault(key[0], []).append(key)
        for rule, candidates in sorted(weak.items()):
            need = self.rules[rule].min_weak
            if len(candidates) < need:
                continue
            if sum(1 for key in candidates if self.cues[key].search(text)) >= need:
                return self.rules[rule]
        return None

    def hits(self, text: str, cues: set[tuple[int, int]] | None = None) -> list[TopicHit]:
        """The whole text as one hit (scope "record"), or each matching paragraph."""
        rule = self.classify(text, cues)
        if rule is None:
            return []
        if self.scope == "record":
            return [TopicHit(rule, 0, len(text))]
        out, start = [], 0
        for separator in [*_PARAGRAPH.finditer(text), None]:
            end = separator.start() if separator else len(text)
            if part := self.classify(text[start:end]):
                out.append(TopicHit(part, start, end))
            start = separator.end() if separator else end
        return out

    def hits_many(
        self, scan: Scan, texts: list[str], enabled: list[bool]
    ) -> list[Sequence[TopicHit]]:
        """Topic hits for each text of a scanned batch (texts with `enabled` False get none:
        an empty tuple, shared)."""
        out: list[Sequence[TopicHit]] = [()] * len(texts)
        if not self.rules:
            return out
        present: dict[int, set[str]] = {}
        hits, starts, lengths = scan.hits, scan.starts, scan.lengths
        for literal in self.by_literal.keys() & hits.keys():
            size = len(literal)
            for pos in hits[literal]:
                index = bisect_right(starts, pos) - 1  # scan.owner(), inlined
                if pos + size <= starts[index] + lengths[index]:
                    present.setdefault(index, set()).add(literal)
        if self.always:
            for index in range(len(texts)):
                present.setdefault(index, set())
        for index, literals in present.items():
            if not enabled[index]:
                continue
            candidates = set(self.always)
            for literal in literals:
                candidates |= self.by_literal[literal]
            if candidates:
                out[index] = self.hits(texts[index], candidates)
        return out
