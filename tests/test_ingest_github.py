"""GitHub issues and pull requests from the REST API: sessions, reviews, edits, bad items."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from lore import Lore, Record
from lore.ingest import detect_format

REPO = Path(__file__).parent / "data" / "github" / "payments-api"
ISSUE = "northwind/payments-api#481"
PULL = "northwind/payments-api#482"


def records(lore: Lore, ids: tuple[str, ...]) -> list[Record]:
    return [lore.get(i) for i in ids]


def test_a_folder_of_api_files_becomes_one_session_per_issue(lore: Lore) -> None:
    assert detect_format(REPO) == "github"
    report = lore.ingest(REPO)
    assert (report.added, report.failed, len(report.sources)) == (11, 0, 1), report.problems
    by_source = {r.source.source_id: r for r in records(lore, report.record_ids)}
    issue = by_source[ISSUE]
    assert issue.text.startswith("Customers charged twice when the card network times out\n\n")
    assert (issue.actor, issue.session_id, issue.kind) == ("priya-r", ISSUE, "message")
    assert issue.occurred_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert issue.metadata["url"] == "https://github.com/northwind/payments-api/issues/481"
    assert (issue.metadata["state"], issue.metadata["labels"]) == ("closed", ["bug", "incident"])
    assert (issue.metadata["type"], issue.metadata["file"]) == ("issue", "issues.json")
    pull = by_source[PULL]
    assert pull.metadata["type"] == "pull_request" and pull.metadata["merged_at"]
    assert by_source[f"{PULL}:merged:2026-03-03T15:58:00Z"].kind == "event"
    assert by_source[f"{ISSUE}:closed:2026-03-03T16:00:00Z"].actor == "tsilva"
    comment = by_source[f"{ISSUE}:comment:9001"]
    assert (comment.session_id, comment.actor) == (ISSUE, "tsilva")
    assert comment.metadata["url"].endswith("#issuecomment-9001")
    review = by_source[f"{PULL}:review:7002"]
    assert review.text == "mayachen approved this pull request"
    assert review.metadata["review_state"] == "APPROVED"
    inline = by_source[f"{PULL}:review_comment:8001"]
    assert (inline.metadata["path"], inline.metadata["diff_line"]) == ("workers/retry.py", 41)
    untitled = by_source["northwind/payments-api#490"]  # a null body: the title alone
    assert untitled.text == "Refund export should include partial refunds"
    session = sorted(
        (r for r in by_source.values() if r.session_id == PULL), key=lambda r: (r.seq, r.id)
    )
    assert [r.actor for r in session][:3] == ["tsilva", "mayachen", "mayachen"]
    assert lore.search("backfill keys queue", sessions=[PULL], k=1)[0].record.actor == "priya-r"


def test_one_file_and_paginated_output_read_alike(lore: Lore, tmp_path: Path) -> None:
    issues = json.loads((REPO / "issues.json").read_text())
    pages = tmp_path / "issues.json"
    pages.write_text(json.dumps(issues[:2]) + json.dumps(issues[2:]))  # gh api --paginate
    assert detect_format(pages) == "github"
    report = lore.ingest(pages)
    assert (report.added, report.failed) == (5, 0)
    single = tmp_path / "one.json"
    single.write_text(json.dumps(issues[2]))  # gh api repos/o/r/issues/490
    assert lore.ingest(single, format="github").added == 1


def test_an_edited_body_supersedes_the_stored_one(lore: Lore, tmp_path: Path) -> None:
    repo = Path(shutil.copytree(REPO, tmp_path / "repo"))
    lore.ingest(repo)
    comments = json.loads((repo / "comments.json").read_text())
    comments[1]["body"] = "Deploy freeze on payments until 2.15 ships on Thursday."
    comments[1]["updated_at"] = "2026-03-02T12:00:00Z"
    (repo / "comments.json").write_text(json.dumps(comments, indent=2))
    again = lore.ingest(repo)
    assert (again.added, again.hidden) == (1, 1)
    texts = {h.record.text for h in lore.search("deploy freeze payments ships", k=50)}
    assert "Deploy freeze on payments until 2.15 ships on Thursday." in texts
    assert "Deploy freeze on payments until the fix ships." not in texts


def test_bad_items_name_their_file_line_and_index(lore: Lore, tmp_path: Path) -> None:
    repo = Path(shutil.copytree(REPO, tmp_path / "repo"))
    comments = json.loads((repo / "comments.json").read_text())
    comments[0]["created_at"] = "last week"
    comments[1]["issue_url"] = comments[1]["html_url"] = "https://example.com/nowhere"
    comments.append({"issue_url": comments[2]["issue_url"], "body": 12, "id": 1})
    comments.append(["not", "an", "object"])
    comments.append({"some": "thing else"})
    (repo / "comments.json").write_text(json.dumps(comments, indent=2))
    (repo / "reviews.json").write_text('[{"id": 7001, "user": {"login": "mayachen"}, "bo')
    report = lore.ingest(repo)
    found = {(Path(p.file).name, p.line): p.reason for p in report.problems}
    assert found[("comments.json", 2)] == "item 1 ($[0]): bad 'created_at' 'last week': Invalid " \
        "isoformat string: 'last week'"
    assert "cannot tell which issue" in found[("comments.json", 22)], found
    assert any(r.startswith("item 4 ($[3]): 'body' must be a string") for r in found.values())
    assert any(r == "item 5 ($[4]): expected an object, got array" for r in found.values())
    assert any(r.startswith("item 6 ($[5]): not an issue") for r in found.values())
    assert found[("reviews.json", 1)].startswith("invalid JSON at column")
    assert (report.added, report.failed) == (7, 6)
