"""SQL WHERE fragments for record filters: namespaces as path prefixes, hidden records."""

from __future__ import annotations

from typing import Any

from ..types import Filters, to_epoch


def namespace_clause(column: str, namespace: str) -> tuple[str, list[Any]]:
    """SQL matching `namespace` and everything below it, never above or beside it."""
    # '0' is the character after '/', so the range covers exactly "ns/..." and nothing else.
    return (
        f"({column} = ? OR ({column} >= ? AND {column} < ?))",
        [namespace, namespace + "/", namespace + "0"],
    )


# Superseded (edited), tombstoned (deleted) and removed records stay stored but leave search.
# The `hidden` table is maintained at write time and stays small, so `NOT IN` is one cheap probe.
HIDDEN_CONDITION = "{alias}.rowid NOT IN (SELECT rowid FROM hidden)"


def filter_clause(
    filters: Filters, alias: str = "r", *, include_hidden: bool = False
) -> tuple[str, list[Any]]:
    """A WHERE fragment (without WHERE) for `filters`; "1" when nothing is filtered.

    Hidden records are excluded unless `include_hidden` is set.
    """
    parts: list[str] = [] if include_hidden else [HIDDEN_CONDITION.format(alias=alias)]
    params: list[Any] = []
    if filters.namespace:
        sql, args = namespace_clause(f"{alias}.namespace", filters.namespace)
        parts.append(sql)
        params += args
    for column, values in (
        ("actor", filters.actors),
        ("session_id", filters.sessions),
        ("kind", filters.kinds),
    ):
        if values:
            parts.append(f"{alias}.{column} IN ({','.join('?' * len(values))})")
            params += list(values)
    if filters.since is not None:
        parts.append(f"{alias}.occurred_at >= ?")
        params.append(to_epoch(filters.since))
    if filters.until is not None:
        parts.append(f"{alias}.occurred_at < ?")
        params.append(to_epoch(filters.until))
    return (" AND ".join(parts) or "1"), params


def is_unfiltered(filters: Filters) -> bool:
    """Whether `filters` ask for nothing: the vector index then needs no allowed set, since
    hidden records are kept out of it (see `Lore._apply_visibility`)."""
    return filter_clause(filters, include_hidden=True)[0] == "1"
