"""Context packs: exact budgets, near-duplicates, merged turns, reading order, citations, JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lore import ConfigError, ContextPack, Hit, Lore, QueryError, RetrieverHit
from lore.context.pack import (
    MIN_TRUNCATED_TOKENS,
    jaccard,
    merge_runs,
    remove_near_duplicates,
    shingles,
)
from lore.context.render import (
    citation_line,
    pack_from_json,
    render_fragment,
    render_json,
    render_markdown,
)
from lore.tokens import count_tokens

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TOPICS = ["payments webhook", "invoice export", "database migration", "oncall rota", "pricing page"]
QUERIES = ["why did the payments webhook retry twice", "invoice export failed", "pricing", "zzz"]


def _fill(lore: Lore) -> None:
    """Sessions of varied turns (some long, some repeated), plus loose documents."""
    for s, topic in enumerate(TOPICS):
        for seq in range(12):
            words = " ".join(f"{topic} detail {seq} step {i}" for i in range(1 + (seq * 7) % 40))
            lore.add(
                f"{['alice', 'bob', 'carol'][seq % 3]} on {topic}: {words}",
                session=f"chan-{s}",
                seq=seq,
                actor=["alice", "bob", "carol"][seq % 3],
                occurred_at=T0 + timedelta(days=s, minutes=seq),
                source=f"slack/chan-{s}.jsonl",
            )
        lore.add(f"Retro notes on the {topic}. " * 30, kind="document_chunk", source=f"docs/{s}.md")
    lore.add("The payments webhook retried twice because Stripe timed out.", session="dup-a", seq=0)
    lore.add("the payments webhook retried twice because stripe timed out!", session="dup-b", seq=0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lore]:
    lore = Lore.open(tmp_path_factory.mktemp("ctx") / "lore.db", embedder="hash")
    _fill(lore)
    yield lore
    lore.close()


@pytest.fixture
def lore(tmp_path: Path) -> Iterator[Lore]:
    with Lore.open(tmp_path / "lore.db", embedder="hash") as store:
        yield store


def _check_exact(pack: ContextPack, budget: int) -> None:
    markdown = render_markdown(pack)
    assert pack.tokens == count_tokens(markdown, pack.encoding)
    assert pack.tokens <= budget
    for number, fragment in enumerate(pack.fragments, start=1):
        assert fragment.tokens == count_tokens(render_fragment(number, fragment), pack.encoding)
    cited = [rid for f in pack.fragments for rid in f.citation.record_ids]
    assert len(cited) == len(set(cited))  # no record is packed twice


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(budget=st.integers(min_value=20, max_value=4000), query=st.sampled_from(QUERIES))
def test_budget_is_never_exceeded(corpus: Lore, budget: int, query: str) -> None:
    pack = corpus.context(query, budget)
    _check_exact(pack, budget)
    assert pack.budget_tokens == budget


@pytest.mark.parametrize("budget", [20, 31, 64, 65, 100, 257, 1000, 4000])
def test_budget_edges_and_other_encoding(corpus: Lore, budget: int) -> None:
    for encoding in ("cl100k_base", "o200k_base"):
        pack = corpus.context("payments webhook detail", budget, encoding=encoding)
        assert pack.encoding == encoding
        _check_exact(pack, budget)


def test_large_budget_is_mostly_used(corpus: Lore) -> None:
    pack = corpus.context("payments webhook detail step", 4000)
    assert len(pack.fragments) > 3
    assert pack.tokens > 3000


def test_invalid_budget_and_encoding(corpus: Lore) -> None:
    with pytest.raises(QueryError):
        corpus.context("x", 0)
    with pytest.raises(ConfigError):
        corpus.context("x", 100, encoding="gpt2")


def test_empty_store_gives_an_empty_pack(lore: Lore) -> None:
    pack = lore.context("anything", 500)
    assert pack.fragments == () and pack.tokens == 0 and render_markdown(pack) == ""


def test_long_fragment_is_cut_only_when_a_meaningful_part_fits(lore: Lore) -> None:
    lore.add("webhook " + "lorem ipsum dolor sit amet " * 200, session="s", seq=0, actor="alice")
    whole = lore.context("webhook lorem", 4000)
    (fragment,) = whole.fragments
    header = count_tokens(citation_line(1, fragment) + "\n")

    roomy = lore.context("webhook lorem", header + 100)
    (cut,) = roomy.fragments
    assert cut.text.endswith("…") and len(cut.text) < len(fragment.text)
    assert count_tokens(cut.text) >= MIN_TRUNCATED_TOKENS
    assert fragment.text.startswith(cut.text[:-2].rstrip())
    _check_exact(roomy, header + 100)
    assert roomy.tokens >= header + 90  # the cut fills the budget, not just 32 tokens of it

    tight = lore.context("webhook lorem", header + MIN_TRUNCATED_TOKENS - 8)
    assert tight.fragments == ()


def test_near_duplicates_are_removed_keeping_the_better(corpus: Lore) -> None:
    pack = corpus.context("payments webhook retried twice stripe timed out", 4000)
    texts = [f.text.casefold() for f in pack.fragments]
    assert sum("retried twice because stripe" in t for t in texts) == 1


def _record(lore: Lore, text: str, **kwargs: object) -> Hit:
    report = lore.add(text, **kwargs)  # type: ignore[arg-type]
    return Hit(lore.get(report.record_ids[0]), 0.0, {"fts": RetrieverHit(1, 1.0)})


def test_remove_near_duplicates_unit(lore: Lore) -> None:
    a = _record(
        lore, "Deploy the billing service on Friday after the freeze ends", seq=0, session="a"
    )
    b = _record(
        lore, "deploy the billing service on friday, after the freeze ends.", seq=0, session="b"
    )
    c = _record(lore, "Something else entirely about lunch plans", seq=1, session="b")
    low, high = Hit(a.record, 0.1, a.why), Hit(b.record, 0.9, b.why)
    kept = remove_near_duplicates([low, high, c])
    assert [h.record.id for h in kept] == [b.record.id, c.record.id]
    assert jaccard(shingles("a b c d"), shingles("A, b; c d!")) == 1.0
    assert jaccard(shingles("one two three four"), shingles("five six seven eight")) == 0.0


def test_merging_adjacent_turns(lore: Lore) -> None:
    hits = [
        _record(lore, f"turn {n} of the call", session="call", seq=n, actor="al") for n in range(8)
    ]
    lore.add("turn 20 of the call", session="call", seq=20)
    lore.add("turn 22 of the call", session="call", seq=22)
    late = [lore.search(f"turn {n}", k=50, sessions=["call"]) for n in (20, 22)]
    far = [next(h for h in got if h.record.seq == n) for got, n in zip(late, (20, 22), strict=True)]

    runs = merge_runs(lore.store, [hits[1], hits[2], hits[4], hits[7], *far])
    spans = sorted([r.seq for r in run.records] for run in runs)
    # 1-2 adjacent, 2-4 joined through the existing gap 3, 7 alone (gap of 3),
    # 20-22 apart because record 21 does not exist.
    assert spans == [[1, 2, 3, 4], [7], [20], [22]]
    merged = next(run for run in runs if len(run.records) == 4)
    assert len(merged.hits) == 3 and merged.records[2].text == "turn 3 of the call"


def test_merged_fragment_reads_contiguously_and_is_cited(lore: Lore) -> None:
    for n, (actor, text) in enumerate(
        [
            ("alice", "the payments webhook fired"),
            ("bob", "it retried twice"),
            ("alice", "stripe timed out"),
        ]
    ):
        lore.add(
            text, session="payments", seq=n, actor=actor, occurred_at=T0 + timedelta(minutes=n)
        )
    pack = lore.context("payments webhook retried twice stripe timed out", 1000)
    (fragment,) = pack.fragments
    assert fragment.text.splitlines() == [
        "alice: the payments webhook fired",
        "bob: it retried twice",
        "alice: stripe timed out",
    ]
    first, last = fragment.citation.record_ids[0], fragment.citation.record_ids[-1]
    assert fragment.id == f"record:{first}..{last}"
    assert fragment.citation.actor == "alice, bob"
    assert fragment.citation.session_id == "payments"
    assert fragment.citation.occurred_at == T0
    assert render_markdown(pack).startswith(
        f"[1] 2026-03-02 10:00 · #payments · alice, bob · api · {fragment.id}\n"
    )


def test_reading_order_and_citations(corpus: Lore) -> None:
    pack = corpus.context("payments webhook detail step invoice export", 3000)
    assert pack.fragments
    markdown = render_markdown(pack)
    groups: list[tuple[str | None, float]] = []
    last_seq: dict[str, int] = {}
    for number, fragment in enumerate(pack.fragments, start=1):
        cite = fragment.citation
        assert (
            fragment.id.startswith("record:") and fragment.why and cite.source and cite.record_ids
        )
        assert f"[{number}] " in markdown and fragment.id in markdown
        first = corpus.get(cite.record_ids[0])
        assert first.text in fragment.text or fragment.text.endswith("…")
        key = cite.session_id or fragment.id
        if cite.session_id is not None and first.seq is not None:
            assert first.seq > last_seq.get(cite.session_id, -1)  # by time inside a session
            last_seq[cite.session_id] = first.seq
        if not groups or groups[-1][0] != key:
            assert key not in [g for g, _ in groups]  # a session's fragments stay together
            groups.append((key, fragment.score))
        else:
            groups[-1] = (key, max(groups[-1][1], fragment.score))
    best = [score for _, score in groups]
    assert best == sorted(best, reverse=True)  # sessions by their best score


def test_filters_reach_the_pack(corpus: Lore) -> None:
    pack = corpus.context("detail step", 2000, sessions=["chan-2"])
    assert pack.fragments
    assert {f.citation.session_id for f in pack.fragments} == {"chan-2"}


def test_json_round_trips(corpus: Lore) -> None:
    pack = corpus.context("payments webhook", 1500)
    text = render_json(pack)
    assert json.loads(text) == pack.to_dict()
    assert pack_from_json(text) == pack
    assert render_markdown(pack_from_json(text)) == render_markdown(pack)


def test_a_run_too_big_for_the_budget_packs_its_best_turns(lore: Lore) -> None:
    lore.add("webhook log dump " + "retry attempt failed; " * 300, session="s", seq=0, actor="bot")
    lore.add("the webhook retried twice", session="s", seq=1, actor="alice")
    lore.add("because the webhook timed out", session="s", seq=2, actor="bob")
    assert len(lore.context("webhook", 4000).fragments) == 1  # one run when it fits

    pack = lore.context("webhook", 120)
    _check_exact(pack, 120)
    texts = "\n".join(f.text for f in pack.fragments)
    assert "alice: the webhook retried twice\nbob: because the webhook timed out" in texts
    short = next(f for f in pack.fragments if "alice" in f.text)
    assert short.id.count("..") == 1 and len(short.citation.record_ids) == 2  # re-merged
