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
from collections.abc import Callable, Sequence
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


_Search = Callable[[str], object]  # truthy when the cue is found
# (candidate cue ids, [(search, rule)] of strong cues, [(rule, minimum, [search])] of weak ones)
_Strong = list[tuple[_Search, TopicRule]]
_Weak = list[tuple[TopicRule, int, list[_Search]]]
_Plan = tuple[set[tuple[int, int]], _Strong, _Weak]
_PLANS = 4096  # plans kept (one per set of trigger literals seen in a text), at most


def _search(cue: str, pattern: re.Pattern[str]) -> _Search:
    """pattern.search (of _compile(cue)) as a test, the same answer: for a cue that starts
    with two literal characters or more, first the cue alone, which `re` skips ahead to (not
    so with the look-behind first), then the whole pattern only from where it is found (a
    match of the pattern is one of the cue there, so none starts before)."""
    try:
        head = list(_parser.parse(cue))[:2]
    except Exception:
        return pattern.search
    if len(head) < 2 or any(op is not _constants.LITERAL for op, _ in head):
        return pattern.search
    return _Gated(re.compile(cue, re.IGNORECASE), pattern)


class _Gated:
    """The search _search makes (an object, not a closure: a Redactor pickles)."""

    __slots__ = ("pattern", "plain")

    def __init__(self, plain: re.Pattern[str], pattern: re.Pattern[str]) -> None:
        self.plain = plain
        self.pattern = pattern

    def __call__(self, text: str) -> bool:
        found = self.plain.search(text)
        return found is not None and self.pattern.search(text, found.start()) is not None


def _classify(text: str, strong: _Strong, weak: _Weak) -> TopicRule | None:
    """TopicClassifier.classify with a plan (see TopicClassifier._plan): the same rule. A rule's
    weak cues are searched only until its minimum is reached, or can no longer be."""
    for search, rule in strong:
        if search(text):
            return rule
    for rule, need, searches in weak:
        found, left = 0, len(searches)
        for search in searches:
            left -= 1
            if search(text):
                found += 1
                if found >= need:
                    return rule
            elif found + left < need:
                break
    return None


class TopicClassifier:
    """A policy's topic rules, tried in file order: strong cues first, then weak ones."""

    def __init__(self, policy: Policy) -> None:
        self.rules = policy.topics
        self.scope = policy.topic_scope
        # cue id (rule, j): j >= 0 is weak cue j, j < 0 is strong cue -1 - j
        self.cues: dict[tuple[int, int], re.Pattern[str]] = {}
        self.by_literal: dict[str, set[tuple[int, int]]] = {}
        self.always: set[tuple[int, int]] = set()
        self._plans: dict[frozenset[str], _Plan] = {}  # see _plan
        self.searches: dict[tuple[int, int], _Search] = {}  # cue id -> its search (_search)
        for i, rule in enumerate(self.rules):
            pairs = [(-1 - k, c) for k, c in enumerate(rule.cues)]
            pairs += list(enumerate(rule.weak_cues))
            for j, cue in pairs:
                key = (i, j)
                self.cues[key] = _compile(cue)
                self.searches[key] = _search(cue, self.cues[key])
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
        plans, record = self._plans, self.scope == "record"
        for index, literals in present.items():
            if not enabled[index]:
                continue
            key = frozenset(literals)
            plan = plans.get(key)
            if plan is None:
                if len(plans) >= _PLANS:
                    plans.clear()
                plan = plans[key] = self._plan(literals)
            candidates, strong, weak = plan
            if not candidates:
                continue
            text = texts[index]
            if not record:
                out[index] = self.hits(text, candidates)
                continue
            rule = _classify(text, strong, weak)  # (as self.hits(text, candidates) finds it)
            out[index] = [TopicHit(rule, 0, len(text))] if rule is not None else []
        return out

    def _plan(self, literals: set[str]) -> _Plan:
        """For a text holding these trigger literals: its candidate cues, and what classify()
        does with them, in its order: the strong cues' searches with their rules, then for
        each rule with enough weak candidates, the rule, its minimum and their searches."""
        candidates = set(self.always)
        for literal in literals:
            candidates |= self.by_literal[literal]
        keys = sorted(candidates)
        strong = [(self.searches[key], self.rules[key[0]]) for key in keys if key[1] < 0]
        groups: dict[int, list[tuple[int, int]]] = {}
        for key in keys:
            if key[1] >= 0:
                groups.setdefault(key[0], []).append(key)
        weak = [
            (self.rules[rule], self.rules[rule].min_weak, [self.searches[key] for key in group])
            for rule, group in sorted(groups.items())
            if len(group) >= self.rules[rule].min_weak
        ]
        return candidates, strong, weak
