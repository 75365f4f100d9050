"""HTML and PDF documents, and a folder of mixed documents, chunked like markdown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pdfbuild import build_pdf

from lore import Lore, Record
from lore.ingest import detect_format
from lore.ingest.documents import html_to_markdown

DOCS = Path(__file__).parent / "data" / "documents"


def records(lore: Lore, ids: tuple[str, ...]) -> list[Record]:
    return [lore.get(i) for i in ids]


def test_html_keeps_headings_lists_and_drops_scripts(lore: Lore) -> None:
    path = DOCS / "status-page.html"
    assert detect_format(path) == "html"
    report = lore.ingest(path)
    assert (report.added, report.failed) == (3, 0)
    chunks = records(lore, report.record_ids)
    assert [c.metadata["heading_path"] for c in chunks] == [
        "Payments incident", "Payments incident > What happened", "Payments incident > What we did",
    ]
    assert chunks[1].text.endswith("sent the charge again with a new idempotency key.")
    assert "- Refunded all 14 duplicate charges." in chunks[2].text
    assert "Affected | 14 payments" in chunks[2].text and "retry_v2 = on" in chunks[2].text
    assert chunks[0].metadata["title"] == "Northwind Status: Payments incident 2026-03-02"
    everything = " ".join(c.text for c in chunks)
    assert "analytics" not in everything and "font-family" not in everything
    assert "Status home" not in everything and "tracking pixel" not in everything


def test_html_to_markdown_copes_with_fragments_and_garbage() -> None:
    assert html_to_markdown("<p>Just a <em>fragment")[0] == "Just a fragment"
    assert html_to_markdown("")[0] == ""
    text, title = html_to_markdown("<h2>A</h2><div>b<br>c</div><h3></h3>\x00<<<>>>")
    assert text.startswith("## A\n\nb\n\nc") and title == ""


def test_pdf_text_is_chunked_per_page(lore: Lore) -> None:
    path = DOCS / "refund-runbook.pdf"
    assert detect_format(path) == "pdf"
    report = lore.ingest(path)
    assert (report.added, report.failed) == (2, 0)
    first, second = records(lore, report.record_ids)
    assert first.text.startswith("Refund runbook\n1. Find the payment in the admin console.")
    assert (first.metadata["page"], second.metadata["page"]) == (1, 2)
    assert first.metadata["title"] == "Refund runbook"
    assert first.occurred_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert lore.search("second approver finance", k=1)[0].record.id == second.id


def test_broken_pdfs_are_one_problem_each(lore: Lore, tmp_path: Path) -> None:
    data = build_pdf([["page one"], ["page two"]])
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(data[: len(data) // 2])
    garbled = tmp_path / "garbled.pdf"
    garbled.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    not_pdf = tmp_path / "notes.pdf"
    not_pdf.write_text("just text, not a PDF")
    for path in (truncated, garbled, not_pdf):
        report = lore.ingest(path, format="pdf")
        assert (report.added, report.failed) == (0, 1), path
        assert report.problems[0].file == str(path)
        assert report.problems[0].reason.startswith("not a readable PDF")


def test_a_folder_of_mixed_documents(lore: Lore) -> None:
    report = lore.ingest(DOCS)
    assert report.failed == 0 and report.unsupported == ()
    formats = {Path(s.uri).name: s.format for s in report.sources}
    assert formats == {
        "deploy-guide.md": "markdown", "oncall-notes.txt": "text",
        "refund-runbook.pdf": "pdf", "status-page.html": "html",
    }
    assert report.added == 3 + 1 + 2 + 3
    hits = lore.search("who approves large refunds", k=3, kinds=["document_chunk"])
    assert any(h.record.metadata.get("page") == 2 for h in hits)
    assert lore.ingest(DOCS).unchanged == 4
