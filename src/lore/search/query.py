"""Turn any user text into a safe FTS5 expression: it never raises a syntax error."""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 48

# A short English stop list: these words match nearly every record and only slow OR queries.
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    s t d ll m re ve y don doesn didn isn aren wasn weren won wouldn shouldn couldn
    """.split()  # noqa: SIM905
)


def query_terms(text: str) -> list[str]:
    """Distinct lower-cased words of `text` in order; stop words go unless nothing else is left."""
    words = [w.lower() for w in _WORD.findall(text)]
    seen: dict[str, None] = {}
    for word in words:
        if word not in STOPWORDS:
            seen.setdefault(word, None)
    if not seen:
        for word in words:
            seen.setdefault(word, None)
    return list(seen)[:MAX_TERMS]


def fts_match(text: str) -> str | None:
    """An FTS5 MATCH expression OR-ing the quoted terms of `text`; None when it has no words."""
    terms = query_terms(text)
    return match_terms(terms) if terms else None


def match_terms(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression OR-ing `terms`."""
    # Each term is a quoted string, so FTS5 operators and punctuation in the input are inert.
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def affordable_terms(counts: dict[str, int], budget: int) -> list[str]:
    """The rarest terms whose match counts add up to at most `budget`, and always the rarest one.

    BM25 costs about a microsecond per matching record, so an OR query with a word found in
    most records is slow on a big store, while such a word adds little to the ranking (its
    inverse document frequency is near zero). Terms keep their order in the query.
    """
    kept: set[str] = set()
    total = 0
    for term in sorted(counts, key=lambda t: counts[t]):
        if kept and total + counts[term] > budget:
            break
        kept.add(term)
        total += counts[term]
    return [term for term in counts if term in kept]
