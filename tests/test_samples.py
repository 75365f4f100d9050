"""The bundled Northwind Labs workspace: ingests cleanly, idempotently, and answers questions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from lore import IngestReport, Lore, Record
from lore.ingest import detect_format
from lore.samples import ingest_workspace, workspace_files, workspace_path
from lore.tokens import count_tokens

EXPECTED_FORMATS = {
    "agents/run-fix-retry-bug.json": "openai",
    "chat/general.jsonl": "jsonl",
    "chat/payments.jsonl": "jsonl",
    "docs/architecture.md": "markdown",
    "docs/onboarding.md": "markdown",
    "docs/runbook-deploys.md": "markdown",
    "meetings/2026-03-02-planning.vtt": "vtt",
    "meetings/2026-03-04-incident-review.vtt": "vtt",
}
TEAM = {"Maya Chen", "Tomás Silva", "Priya Raman", "Jonas Weber", "Aisha Okafor"}


Workspace = tuple[Lore, dict[str, IngestReport]]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    path = tmp_path_factory.mktemp("samples") / "lore.db"
    with Lore.open(path, embedder="hash") as lore:
        yield lore, ingest_workspace(lore)


def records_of(lore: Lore, report: IngestReport) -> list[Record]:
    return [lore.get(record_id) for record_id in report.record_ids]


def test_the_workspace_ships_the_expected_files() -> None:
    root = workspace_path()
    assert root.is_dir()
    assert {p.relative_to(root).as_posix() for p in workspace_files()} == set(EXPECTED_FORMATS)


def test_detection_picks_the_right_format_for_each_file() -> None:
    root = workspace_path()
    assert {p.relative_to(root).as_posix(): detect_format(p) for p in workspace_files()} == (
        EXPECTED_FORMATS
    )


def test_everything_ingests_with_no_problems(workspace: Workspace) -> None:
    lore, reports = workspace
    assert set(reports) == set(EXPECTED_FORMATS)
    for name, report in reports.items():
        assert report.problems == (), (name, [str(p) for p in report.problems])
        assert (report.failed, report.duplicates) == (0, 0), name
        assert report.added > 0, name
    root = workspace_path()
    # One record per chat line and per cue (no cue in the samples is a sentence fragment).
    for name in ("chat/general.jsonl", "chat/payments.jsonl"):
        lines = (root / name).read_text(encoding="utf-8").splitlines()
        assert reports[name].added == len([line for line in lines if line.strip()])
    for name in ("meetings/2026-03-02-planning.vtt", "meetings/2026-03-04-incident-review.vtt"):
        assert reports[name].added == (root / name).read_text(encoding="utf-8").count(" --> ")
    run = json.loads((root / "agents/run-fix-retry-bug.json").read_text(encoding="utf-8"))
    expected = sum(
        bool(m.get("content")) + len(m.get("tool_calls") or []) for m in run["messages"]
    )
    assert reports["agents/run-fix-retry-bug.json"].added == expected
    assert lore.stats()["records"] == sum(r.added for r in reports.values())


def test_reingest_adds_nothing(workspace: Workspace) -> None:
    lore, first = workspace
    before = lore.stats()["records"]
    again = ingest_workspace(lore)
    for name, report in again.items():
        assert (report.added, report.duplicates, report.failed) == (0, first[name].added, 0), name
    assert lore.stats()["records"] == before


def test_records_are_consistent(workspace: Workspace) -> None:
    lore, reports = workspace
    march = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    for name, report in reports.items():
        for record in records_of(lore, report):
            assert record.namespace == "northwind"
            assert record.occurred_at is not None, (name, record.text)
            assert march[0] <= record.occurred_at < march[1], (name, record.occurred_at)
            if name.startswith(("chat/", "meetings/")):
                assert record.actor in TEAM, (name, record.actor)
            if name.startswith("docs/"):
                assert count_tokens(record.text) <= 256
    run = records_of(lore, reports["agents/run-fix-retry-bug.json"])
    assert [r.kind for r in run].count("tool_call") == [r.kind for r in run].count("tool_result")
    assert "PR #418" in run[-1].text


def test_search_finds_sensible_evidence(workspace: Workspace) -> None:
    lore, _ = workspace
    freeze = lore.search("Friday deploy freeze", namespace="northwind", k=5)
    assert freeze and all("Friday" in hit.record.text for hit in freeze[:3])

    upgrade = lore.search(
        "Postgres 16 upgrade", kinds=["utterance"], actors=["Priya Raman"], k=3
    )
    assert upgrade and all("Postgres 16" in hit.record.text for hit in upgrade[:2])
    assert "2026-03-02-planning" in {hit.record.session_id for hit in upgrade[:2]}

    fix = lore.search("idempotency key uuid4 retry", kinds=["tool_call", "tool_result", "message"])
    assert any(hit.record.session_id == "run-fix-retry-bug" for hit in fix[:5])

    runbook = lore.search("how do I roll back a deploy", kinds=["document_chunk"], k=3)
    headings = [hit.record.metadata["heading_path"] for hit in runbook]
    assert "Deploy runbook > Rolling back" in headings[:2]

    moved = lore.search("Brightcart customer sync moved Thursday", sessions=["general"], k=3)
    assert "Moving the Brightcart customer sync" in moved[0].record.text
