"""Distil sessions' new records into memories: incremental (per-session watermarks), idempotent."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ids import new_id
from ..types import Memory, Record, to_epoch
from .episodes import episode, procedure
from .rules import METHOD, entities, find_decisions, find_facts
from .store import MemoryStore, digest, session_records

if TYPE_CHECKING:
    from ..engine import Lore
    from ..llm import ChatClient

SPOKEN = ("message", "utterance", "event", "document_chunk")
PROCEDURE_SIMILARITY = 0.8  # task cosine at or above which runs with one tool sequence merge


@dataclass(frozen=True, slots=True)
class DistillReport:
    """What a distill run made, and what it cost."""

    sessions: int
    records: int
    made: dict[str, int]
    superseded: int
    merged: int
    method: str
    llm_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0
    failures: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions, "records": self.records, "made": dict(self.made),
            "superseded": self.superseded, "merged": self.merged, "method": self.method,
            "llm_calls": self.llm_calls, "tokens": self.tokens, "seconds": self.seconds,
            "failures": self.failures,
        }


@dataclass
class _Tally:
    made: Counter[str] = field(default_factory=Counter)
    superseded: int = 0
    merged: int = 0
    calls: int = 0
    tokens: int = 0
    failures: int = 0


def _known(records: Sequence[Record]) -> datetime:
    """When a memory became knowable: when its latest evidence was said (else stored)."""
    return max(r.occurred_at or r.recorded_at for r in records)


class Distiller:
    """Turns sessions' records into memories: rules by default; with an LLM client, one
    validated call per session batch for its facts and episode (decisions and procedures
    stay rule-based), and the rules again for a batch whose answer never validated."""

    def __init__(self, lore: Lore, llm: ChatClient | None = None) -> None:
        self.lore = lore
        self.llm = llm
        self.memories = MemoryStore(lore.store)

    def run(self, namespace: str | None = None) -> DistillReport:
        started = time.perf_counter()
        tally = _Tally()
        pending = self.memories.pending_sessions(namespace)
        seen = 0
        for space, session, mark, newest in pending:
            rows = session_records(self.lore.store, space, session)
            seen += sum(1 for rowid, _ in rows if rowid > mark)
            drafts = self._drafts(space, session, rows, mark, tally)  # model calls: no lock held
            with self.lore.store.transaction():
                self._save(drafts, tally)
                self.memories.set_watermark(space, session, newest, time.time())
        return self._report(tally, len(pending), seen, started)

    def retry_failed(self, namespace: str | None = None) -> DistillReport:
        """Ask the LLM again for every batch whose answer never validated; a batch that now
        validates is resolved, one that still fails stays recorded."""
        started = time.perf_counter()
        tally = _Tally()
        failures = self.memories.open_failures(namespace)
        if self.llm is None:
            from ..errors import ConfigError

            raise ConfigError(
                f"{len(failures)} failed batches wait for an LLM, and none is configured",
                hint="set LORE_LLM_URL and LORE_LLM_MODEL",
            )
        seen = 0
        for failure_id, space, session in failures:
            rows = session_records(self.lore.store, space, session or "")
            seen += len(rows)
            records = [r for _, r in rows]
            drafts = self._llm_drafts(space, session or "", records, tally, failure_id)
            with self.lore.store.transaction():
                if drafts is not None:
                    self._save(drafts, tally)
                    self.memories.resolve_failure(failure_id, time.time())
        return self._report(tally, len(failures), seen, started)

    def _report(self, tally: _Tally, sessions: int, seen: int, started: float) -> DistillReport:
        return DistillReport(
            sessions=sessions, records=seen, made=dict(sorted(tally.made.items())),
            superseded=tally.superseded, merged=tally.merged,
            method=self.llm.method if self.llm is not None else METHOD,
            llm_calls=tally.calls, tokens=tally.tokens,
            seconds=round(time.perf_counter() - started, 3), failures=tally.failures,
        )

    def _save(self, drafts: list[tuple[Memory, str]], tally: _Tally) -> None:
        if not drafts:
            return
        vectors = self.lore.embedder.embed([m.text for m, _ in drafts])
        for (memory, key), vector in zip(drafts, vectors, strict=True):
            self._store(memory, key, vector, tally)

    # -- one session -------------------------------------------------------------
    def _drafts(
        self, space: str, session: str, rows: list[tuple[int, Record]], mark: int, tally: _Tally
    ) -> list[tuple[Memory, str]]:
        if not rows:
            return []
        records = [r for _, r in rows]
        fresh = [r for rowid, r in rows if rowid > mark]
        drafts: list[tuple[Memory, str]] = []
        learned = self._llm_drafts(space, session, records, tally) if self.llm else None
        if learned is not None:
            drafts += learned
        else:  # no LLM, or its answer never validated (recorded): the no-LLM path
            drafts += self._rule_facts(space, fresh)
            drafts += self._rule_episode(space, session, rows)
        for record in fresh:
            if record.kind not in SPOKEN or record.role in ("assistant", "tool", "system"):
                continue
            for sentence in find_decisions(record.text):
                by = record.actor or "someone"
                key = digest(space, "decision", sentence, record.id)
                drafts.append((self._memory(
                    space, "decision", f"{by} (decision): {sentence}", [record],
                    subject=by, attribute="decision", value=sentence, confidence=0.7,
                ), key))
        if any(r.kind == "tool_call" for r in fresh) and (how := procedure(records)) is not None:
            cited = [r for r in records if r.id in set(how.evidence)]
            key = digest(space, "procedure", how.task, how.tools)
            drafts.append((self._memory(
                space, "procedure", how.text, cited, subject=how.task,
                attribute="tools: " + " > ".join(how.tools), value=how.task, confidence=0.7,
                entities_=list(dict.fromkeys(how.tools)),
            ), key))
        return drafts

    def _rule_facts(self, space: str, fresh: list[Record]) -> list[tuple[Memory, str]]:
        drafts: list[tuple[Memory, str]] = []
        for record in fresh:
            if record.kind not in SPOKEN or record.role in ("assistant", "tool", "system"):
                continue
            for fact in find_facts(record.text, record.actor, space):
                key = digest(space, "fact", fact.subject, fact.attribute, fact.value, record.id)
                drafts.append((self._memory(
                    space, "fact", fact.text, [record], subject=fact.subject,
                    attribute=fact.attribute, value=fact.value, confidence=0.8,
                ), key))
        return drafts

    def _rule_episode(
        self, space: str, session: str, rows: list[tuple[int, Record]]
    ) -> list[tuple[Memory, str]]:
        records = [r for _, r in rows]
        if len(records) < 2:
            return []
        _, vectors = self.lore.store.vectors_of([rowid for rowid, _ in rows])
        if len(vectors) != len(records):  # a record without a vector: embed them all
            vectors = self.lore.embedder.embed([r.text for r in records])
        ep = episode(session, records, np.asarray(vectors))
        cited = [r for r in records if r.id in set(ep.evidence)]
        key = digest(space, "episode", session, ep.evidence, len(records))
        return [(self._memory(
            space, "episode", ep.text, cited, subject=session, attribute="episode",
            entities_=list(ep.participants), valid_from=ep.start,
            known=ep.end or _known(cited), confidence=0.6,
        ), key)]

    def _llm_drafts(
        self, space: str, session: str, records: list[Record], tally: _Tally,
        failure_id: int | None = None,
    ) -> list[tuple[Memory, str]] | None:
        """Facts and the episode from one validated call per batch; None when the answer
        never validated (the failure is recorded with its evidence, error and raw output, or
        updated when this was a retry of failure `failure_id`)."""
        from ..llm.structured import MAX_TURNS, extract_session  # pydantic: only when used

        assert self.llm is not None
        batch = records[-MAX_TURNS:]
        if not batch:
            return []
        got = extract_session(self.llm, batch)
        tally.calls += got.calls
        tally.tokens += got.tokens
        method = self.llm.method
        if got.result is None:
            tally.failures += 1
            with self.lore.store.transaction():
                if failure_id is not None:
                    self.memories.update_failure(failure_id, got.error, got.raw)
                else:
                    self.memories.record_failure(
                        space, session, [r.id for r in batch], method, got.error, got.raw,
                        time.time(),
                    )
            return None
        drafts: list[tuple[Memory, str]] = []
        for fact in got.result.facts:
            cited = [batch[n - 1] for n in dict.fromkeys(fact.evidence)]
            start = datetime.combine(fact.valid_from, datetime.min.time(), UTC) \
                if fact.valid_from else None
            subject, attribute = fact.subject.strip(), fact.attribute.strip().casefold()
            key = digest(space, "fact", subject, attribute, fact.value, [r.id for r in cited])
            drafts.append((self._memory(
                space, "fact", fact.statement, cited, subject=subject, attribute=attribute,
                value=fact.value.strip(), valid_from=start, confidence=0.7, method=method,
            ), key))
        ep = got.result.episode
        cited = [batch[n - 1] for n in sorted(set(ep.key_points))]
        times = [r.occurred_at for r in records if r.occurred_at is not None]
        key = digest(space, "episode", session, ep.summary, len(records))
        drafts.append((self._memory(
            space, "episode", ep.summary, cited, subject=session, attribute="episode",
            entities_=list(dict.fromkeys(r.actor for r in records if r.actor)),
            valid_from=min(times) if times else None,
            known=max(times) if times else _known(cited), confidence=0.6, method=method,
        ), key))
        return drafts

    def _memory(
        self, space: str, kind: str, text: str, evidence: Sequence[Record], *,
        subject: str | None = None, attribute: str | None = None, value: str | None = None,
        entities_: list[str] | None = None, valid_from: datetime | None = None,
        known: datetime | None = None, confidence: float = 1.0, method: str = METHOD,
    ) -> Memory:
        first = min((r.occurred_at for r in evidence if r.occurred_at), default=None)
        return Memory(
            id=new_id("m"), namespace=space, kind=kind, text=text,
            entities=tuple(entities_ if entities_ is not None else entities(text)),
            subject=subject, attribute=attribute, value=value,
            valid_from=valid_from or first, valid_to=None, recorded_at=known or _known(evidence),
            superseded_at=None, superseded_by=None, evidence=tuple(r.id for r in evidence),
            confidence=confidence, method=method,
        )

    # -- consolidation: supersede, merge or add ------------------------------------
    def _store(self, memory: Memory, key: str, vector: np.ndarray, tally: _Tally) -> None:
        ms = self.memories
        twin = self._similar_procedure(memory) if memory.kind == "procedure" else None
        if twin is not None:  # the same task done the same way: one procedure, more evidence
            ms.add_evidence(twin.id, memory.evidence)
            tally.merged += 1
            return
        slot: list[Memory] = []
        if memory.kind in ("fact", "episode") and memory.subject and memory.attribute:
            slot = ms.current_in_slot(
                memory.namespace, memory.kind, memory.subject, memory.attribute
            )
        if memory.kind == "fact":
            value = (memory.value or "").casefold()
            same = [m for m in slot if (m.value or "").casefold() == value]
            if same:  # said again: more evidence for the fact, not a second fact
                ms.add_evidence(same[0].id, memory.evidence)
                tally.merged += 1
                return
        if not ms.insert(memory, key, vector):
            return
        tally.made[memory.kind] += 1
        for old in slot:
            tally.superseded += 1
            new_from, old_from = to_epoch(memory.valid_from), to_epoch(old.valid_from)
            at = max(to_epoch(memory.recorded_at) or 0.0, to_epoch(old.recorded_at) or 0.0)
            if memory.kind == "episode":  # a grown session: the fuller episode replaces it
                ms.supersede(old.id, memory.id, at, None)
            elif new_from is None or old_from is None or old_from <= new_from:
                ms.supersede(old.id, memory.id, at, new_from if new_from is not None else at)
            else:  # stated earlier than the current fact: it had already ended by then
                ms.supersede(memory.id, old.id, at, old_from)

    def _similar_procedure(self, memory: Memory) -> Memory | None:
        rows = self.lore.store.db.execute(
            "SELECT id, subject FROM memories WHERE namespace = ? AND kind = 'procedure'"
            " AND attribute = ? AND superseded_at IS NULL",
            (memory.namespace, memory.attribute),
        ).fetchall()
        if not rows:
            return None
        tasks = self.lore.embedder.embed([memory.subject or "", *(row[1] for row in rows)])
        similarity = tasks[1:] @ tasks[0]
        best = int(np.argmax(similarity))
        if float(similarity[best]) >= PROCEDURE_SIMILARITY:
            return self.memories.get(rows[best][0])
        return None


def distill(
    lore: Lore, namespace: str | None = None, llm: ChatClient | None = None,
    *, retry_failed: bool = False,
) -> DistillReport:
    """Distil every session with records not yet distilled (within `namespace`), or, with
    `retry_failed`, ask the LLM again for the batches whose answers never validated."""
    distiller = Distiller(lore, llm)
    return distiller.retry_failed(namespace) if retry_failed else distiller.run(namespace)


__all__ = ["DistillReport", "Distiller", "distill"]
