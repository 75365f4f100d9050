"""Expand a fragment handle back to its original records and their neighbours in the session."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import NotFound, QueryError
from ..types import Expansion, Record

if TYPE_CHECKING:
    from ..engine import Lore

HANDLE_KINDS = ("record", "memory", "fold")
MAX_WINDOW = 500
_ID = r"[A-Za-z0-9_-]+"
_HANDLE = re.compile(rf"(?P<kind>[a-z]+):(?P<first>{_ID})(?:\.\.(?P<last>{_ID}))?")
_HINT = "handles look like record:<id> or record:<first id>..<last id> (see `lore context`)"


def parse_handle(handle: str) -> tuple[str, str, str | None]:
    """(kind, first id, last id or None) of a handle such as `record:ID` or `record:A..B`."""
    match = _HANDLE.fullmatch(handle.strip()) if isinstance(handle, str) else None
    if match is None or match.group("kind") not in HANDLE_KINDS:
        raise QueryError(f"malformed handle {handle!r}", hint=_HINT)
    return match.group("kind"), match.group("first"), match.group("last")


def expand(lore: Lore, handle: str, window: int = 3) -> Expansion:
    """The records behind `handle` (its focus) with `window` session neighbours on each side."""
    if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= MAX_WINDOW:
        raise QueryError(f"window must be between 0 and {MAX_WINDOW}, got {window!r}")
    kind, first_id, last_id = parse_handle(handle)
    if kind == "fold" and last_id is None:  # a whole folded block, exactly; no neighbours
        from .fold import expand_fold

        return expand_fold(lore, first_id)
    if kind == "memory" and last_id is None:  # a memory expands to its evidence records
        from ..memory.fragments import expand_memory

        return expand_memory(lore, handle, first_id)
    if kind != "record":
        raise NotFound(f"no {kind} {first_id!r}: this store holds no {kind}s yet", hint=_HINT)
    first = _record(lore, first_id)
    last = _record(lore, last_id) if last_id is not None else first
    focus = _focus(lore, first, last, handle)
    if first.session_id is None or first.seq is None or window == 0:
        return Expansion(handle.strip(), tuple(focus), tuple(r.id for r in focus))
    lo = min(r.seq for r in focus if r.seq is not None)
    hi = max(r.seq for r in focus if r.seq is not None)
    store = lore.store
    before = store.session_neighbours(first.namespace, first.session_id, lo, window, before=True)
    after = store.session_neighbours(first.namespace, first.session_id, hi, window, before=False)
    return Expansion(handle.strip(), (*before, *focus, *after), tuple(r.id for r in focus))


def _record(lore: Lore, record_id: str) -> Record:
    try:
        return lore.get(record_id)
    except NotFound:
        raise NotFound(
            f"no record {record_id!r}",
            hint="it may have been forgotten; search again for a fresh handle",
        ) from None


def _focus(lore: Lore, first: Record, last: Record, handle: str) -> list[Record]:
    if first.id == last.id:
        return [first]
    same = (first.namespace, first.session_id) == (last.namespace, last.session_id)
    if not same or first.session_id is None or first.seq is None or last.seq is None:
        raise QueryError(f"handle {handle!r} spans records of different sessions", hint=_HINT)
    lo, hi = sorted((first.seq, last.seq))
    return lore.store.session_records(first.namespace, first.session_id, lo, hi)
