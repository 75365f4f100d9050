"""What callers ask for, checked once for every interface: search queries and memory filters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .errors import ConfigError, QueryError
from .ingest.writer import check_namespace
from .types import MEMORY_KINDS, SEARCH_MODES, Filters, Query, to_epoch


def until_as_of(until: datetime | None, as_of: datetime | None) -> datetime | None:
    """Records known at `as_of` are those that had occurred by then."""
    if as_of is None:
        return until
    return as_of if until is None or to_epoch(as_of) < to_epoch(until) else until  # type: ignore[operator]


def query_namespace(namespace: str | None) -> None:
    """A namespace to read from, checked: a bad one is a QueryError (the caller's input)."""
    if namespace is not None:
        try:
            check_namespace(namespace)
        except ConfigError as exc:
            raise QueryError(str(exc), hint=exc.hint) from None


def memory_filters(
    kinds: Sequence[str], namespace: str | None, as_of: datetime | None, superseded: bool
) -> Any:
    """Validated memory filters; kinds may be written `fact` or `memory:fact`."""
    from .memory import MemoryFilters

    names = tuple(k.removeprefix("memory:") for k in kinds)
    if unknown := [k for k in names if k not in MEMORY_KINDS]:
        raise QueryError(
            f"unknown memory kind {unknown[0]!r}", hint=f"use one of {', '.join(MEMORY_KINDS)}"
        )
    query_namespace(namespace)
    return MemoryFilters(namespace, names, as_of, superseded)


def make_query(
    text: str,
    k: int = 10,
    mode: str = "hybrid",
    namespace: str | None = None,
    actors: Sequence[str] = (),
    sessions: Sequence[str] = (),
    kinds: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> Query:
    """A validated `Query`; invalid options are a QueryError, odd text never is."""
    if mode not in SEARCH_MODES:
        raise QueryError(
            f"unknown search mode {mode!r}", hint=f"use one of {', '.join(SEARCH_MODES)}"
        )
    if not isinstance(k, int) or k < 1 or k > 1000:
        raise QueryError(f"k must be between 1 and 1000, got {k!r}")
    query_namespace(namespace)
    if since is not None and until is not None and since >= until:
        raise QueryError("'since' must be before 'until'")
    filters = Filters(namespace, tuple(actors), tuple(sessions), tuple(kinds), since, until)
    return Query(text=text, k=k, mode=mode, filters=filters)  # type: ignore[arg-type]
