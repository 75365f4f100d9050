"""ScopedLore: the one place where an access key's namespace and scope confine every call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..context.expand import parse_handle
from ..context.fold import FoldResult
from ..engine import DEFAULT_NAMESPACE, Lore
from ..errors import AccessDenied, NotFound, QueryError
from ..ingest.writer import check_namespace
from ..types import (
    ContextPack,
    Draft,
    Expansion,
    Filters,
    Hit,
    IngestReport,
    Memory,
    Query,
    Record,
)
from .auth import AccessKey, within
from .runtime import Runtime

if TYPE_CHECKING:
    from ..memory import DistillReport

_GONE_HINT = "it may have been forgotten; search again for a fresh handle"
MAX_MEMORIES = 10_000  # how deep a memory listing may page (the engine's largest limit)


def record_id(value: str) -> str:
    """A record id from `ID` or a `record:ID` handle."""
    value = value.strip()
    if value.startswith("record:"):
        value = value[len("record:") :]
    if not value or ".." in value or ":" in value:
        raise QueryError(
            f"{value!r} is not a record id", hint="pass an id or a handle like record:<id>"
        )
    return value


def memory_id(value: str) -> str:
    """A memory id from `ID` or a `memory:ID` handle."""
    value = value.strip().removeprefix("memory:")
    if not value or ".." in value or ":" in value or "/" in value:
        raise QueryError(
            f"{value!r} is not a memory id", hint="pass an id or a handle like memory:<id>"
        )
    return value


def _missing_memory(mid: str) -> NotFound:
    return NotFound(f"no memory {mid!r}", hint=_GONE_HINT)


def _missing(rid: str) -> NotFound:
    # The same error for "no such record" and "not yours": a key never learns what exists
    # outside its namespace.
    return NotFound(f"no record {rid!r}", hint=_GONE_HINT)


class ScopedLore:
    """What one access key may see and do; every HTTP route and MCP tool goes through here.

    Reads: a requested namespace is intersected with the key's prefix. Below the prefix it
    is used as asked; above it (`acme` for an `acme/eng` key) it narrows to the prefix;
    beside it (`acme/sales`) it is AccessDenied (HTTP 403), which reveals nothing about
    the store, only about the key. Ids outside the prefix are NotFound, exactly like ids
    that do not exist. Writes must land at or below the prefix.
    """

    def __init__(self, runtime: Runtime, key: AccessKey) -> None:
        self.runtime = runtime
        self.key = key

    # -- namespace arithmetic --------------------------------------------------
    def visible(self, namespace: str) -> bool:
        prefix = self.key.namespace
        return prefix is None or within(namespace, prefix)

    def read_namespace(self, namespace: str | None) -> str | None:
        """The namespace a read covers: the request's, intersected with the key's prefix."""
        prefix = self.key.namespace
        if namespace is not None:
            check_namespace(namespace)
        if prefix is None:
            return namespace
        if namespace is None or within(prefix, namespace):
            return prefix
        if within(namespace, prefix):
            return namespace
        raise self._outside(namespace)

    def write_namespace(self, namespace: str | None) -> str:
        """The namespace a write lands in: the request's, which must be within the prefix."""
        prefix = self.key.namespace
        if namespace is None:
            return prefix or DEFAULT_NAMESPACE
        check_namespace(namespace)
        if prefix is not None and not within(namespace, prefix):
            raise self._outside(namespace)
        return namespace

    def _outside(self, namespace: str) -> AccessDenied:
        return AccessDenied(
            f"namespace {namespace!r} is outside this key's namespace {self.key.namespace!r}",
            hint=f"use {self.key.namespace!r} or a namespace below it",
        )

    def _visible_record(self, lore: Lore, rid: str) -> Record:
        try:
            record = lore.get(rid)
        except NotFound:
            raise _missing(rid) from None
        if not self.visible(record.namespace):
            raise _missing(rid)
        return record

    def _visible_memory(self, lore: Lore, mid: str) -> Memory:
        try:
            memory = lore.memory(mid)
        except NotFound:
            raise _missing_memory(mid) from None
        if not self.visible(memory.namespace):
            raise _missing_memory(mid)
        return memory

    def _filters(self, filters: Filters) -> Filters:
        return replace(filters, namespace=self.read_namespace(filters.namespace))

    # -- reads -----------------------------------------------------------------
    async def search(self, query: Query) -> list[Hit]:
        self.key.require("read", "search")
        query = replace(query, filters=self._filters(query.filters))
        return await self.runtime.read(lambda lore: lore.search(query))

    async def context(
        self, text: str, budget_tokens: int, filters: Filters, encoding: str | None = None
    ) -> ContextPack:
        self.key.require("read", "context")
        f = self._filters(filters)
        return await self.runtime.read(
            lambda lore: lore.context(
                text, budget_tokens, namespace=f.namespace, actors=f.actors,
                sessions=f.sessions, kinds=f.kinds, since=f.since, until=f.until,
                encoding=encoding,
            )
        )

    async def get(self, rid: str) -> Record:
        self.key.require("read", "reading a record")
        rid = record_id(rid)
        return await self.runtime.read(lambda lore: self._visible_record(lore, rid))

    async def expand(self, handle: str, window: int = 3) -> Expansion:
        self.key.require("read", "expand")

        def job(lore: Lore) -> Expansion:
            kind, first, last = parse_handle(handle)
            if kind == "record":
                for rid in (first, last):
                    if rid is not None:
                        self._visible_record(lore, rid)
            if kind == "memory" and last is None:  # another namespace's memory: as if missing
                self._visible_memory(lore, first)
            expansion = lore.expand(handle, window)
            # A session never spans namespaces, but say so in code rather than trust it.
            kept = tuple(r for r in expansion.records if self.visible(r.namespace))
            if kind == "fold" and len(kept) < len(expansion.records):  # another namespace's
                raise NotFound(f"no fold {first!r}", hint=_GONE_HINT)
            return replace(expansion, records=kept)

        return await self.runtime.read(job)

    async def records(
        self, namespace: str | None, after: str | None, limit: int
    ) -> list[Record]:
        self.key.require("read", "listing records")
        scope = self.read_namespace(namespace)
        return await self.runtime.read(lambda lore: lore.records(scope, after=after, limit=limit))

    async def memories(
        self,
        *,
        kinds: Sequence[str] = (),
        namespace: str | None = None,
        as_of: datetime | None = None,
        include_superseded: bool = False,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[Memory], bool]:
        """A page of memories visible to the key, newest first, and whether more follow."""
        self.key.require("read", "listing memories")
        scope = self.read_namespace(namespace)
        if not 0 <= offset < MAX_MEMORIES or not 1 <= limit <= MAX_MEMORIES:
            raise QueryError(
                f"memory listings reach at most {MAX_MEMORIES} deep",
                hint="narrow by kind, namespace or as_of",
            )
        depth = min(offset + limit, MAX_MEMORIES)
        found = await self.runtime.read(
            lambda lore: lore.memories(
                kinds=kinds, namespace=scope, as_of=as_of,
                include_superseded=include_superseded, limit=min(depth + 1, MAX_MEMORIES),
            )
        )
        found = [m for m in found if self.visible(m.namespace)]  # said in code, not trusted
        return found[offset:depth], len(found) > depth

    async def memory(self, mid: str) -> Memory:
        """One memory by id or `memory:<id>` handle; NotFound when it is not the key's."""
        self.key.require("read", "reading a memory")
        mid = memory_id(mid)
        return await self.runtime.read(lambda lore: self._visible_memory(lore, mid))

    async def stats(self, namespace: str | None = None) -> dict[str, Any]:
        self.key.require("read", "stats")
        scope = self.read_namespace(namespace)
        data = await self.runtime.read(lambda lore: lore.stats(scope))
        data.pop("path", None)  # where the server keeps its file is none of a client's business
        data["namespace"] = scope
        return data

    # -- writes ----------------------------------------------------------------
    async def add(
        self, drafts: Sequence[Draft], namespace: str | None = None, source: str = "api"
    ) -> IngestReport:
        """Add drafts below the key's prefix (a draft's own namespace is relative to it)."""
        self.key.require("write", "adding records")
        target = self.write_namespace(namespace)
        items = list(drafts)
        return await self.runtime.write(
            lambda lore: lore.add_many(items, namespace=target, source=source)
        )

    async def ingest(
        self, path: Path, *, format: str, namespace: str | None, source: str
    ) -> IngestReport:
        self.key.require("write", "ingest")
        target = self.write_namespace(namespace)
        return await self.runtime.write(
            lambda lore: lore.ingest(path, format=format, namespace=target, source=source)
        )

    async def fold(
        self, messages: Sequence[Any], budget_tokens: int, namespace: str | None = None,
        session: str | None = None, encoding: str | None = None,
    ) -> FoldResult:
        """Fold a conversation; its originals are stored below the key's prefix."""
        self.key.require("write", "fold")
        target = self.write_namespace(namespace)
        items = list(messages)
        return await self.runtime.write(
            lambda lore: lore.fold(
                items, budget_tokens, namespace=target, session=session, encoding=encoding
            )
        )

    async def distill(
        self, namespace: str | None = None, retry_failed: bool = False
    ) -> tuple[DistillReport, str | None]:
        """Distil the records below the key's prefix (or a namespace within it) on the writer
        thread; returns the report and the namespace it covered."""
        self.key.require("write", "distill")
        scope = self.key.namespace if namespace is None else self.write_namespace(namespace)
        report = await self.runtime.write(
            lambda lore: lore.distill(scope, retry_failed=retry_failed)
        )
        return report, scope

    async def forget(self, ids: Sequence[str], reason: str = "forget") -> list[str]:
        """Forget records by id or handle: all of them, or none when any is not visible."""
        self.key.require("admin", "forget")
        rids = list(dict.fromkeys(record_id(i) for i in ids))
        if not rids:
            raise QueryError("forget needs at least one record id")

        def job(lore: Lore) -> list[str]:
            for rid in rids:
                self._visible_record(lore, rid)
            return lore.forget(rids, reason=f"{reason} (key {self.key.id})")

        return await self.runtime.write(job)
