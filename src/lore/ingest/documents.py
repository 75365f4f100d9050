"""Markdown, text, HTML and PDF documents, split at headings and paragraphs into bounded chunks."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from ..tokens import count_tokens, truncate_to_tokens
from ..types import Draft, IngestProblem
from .base import Connector, Parsed, parse_time

MAX_TOKENS = 256
HEADING_SEPARATOR = " > "
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# A sentence ends at . ! ? or … (plus closing quotes or brackets) before whitespace; a line
# break is also a place to split, so code and lists break at their lines.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”’)\]]*[ \t]+|\n")
_FRONT_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*?)[ \t]*$")


@dataclass
class _Block:
    """A paragraph (or fenced code block) and the lines it spans."""

    text: str
    line: int
    end_line: int


@dataclass
class _Section:
    """The blocks under one heading path."""

    path: tuple[str, ...]
    blocks: list[_Block] = field(default_factory=list)


def read_document(path: Path) -> str | IngestProblem:
    """The file's text, or a problem saying why it is not text."""
    where = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return IngestProblem(where, None, f"cannot read: {exc.strerror or exc}")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            return IngestProblem(where, None, f"not valid UTF-16 text: {exc.reason}")
    if b"\x00" in data[:8192]:
        return IngestProblem(where, None, "binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        reason = f"not UTF-8 text: byte 0x{byte:02x} at offset {exc.start}"
        return IngestProblem(where, line, reason)


def front_matter(lines: list[str]) -> tuple[dict[str, str], int]:
    """YAML front-matter `key: value` pairs (flat only) and the index of the first body line."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    fields: dict[str, str] = {}
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            return fields, index + 1
        if match := _FRONT_KEY.match(line):
            fields[match.group(1).lower()] = match.group(2).strip("\"'")
    return {}, 0  # never closed: not front matter after all


def split_sections(lines: list[str], first: int, markdown: bool) -> list[_Section]:
    """Blocks grouped under their heading path; line numbers are 1-based."""
    sections = [_Section(())]
    headings: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    fence: str | None = None

    def flush(end: int) -> None:
        nonlocal current
        text = "\n".join(current).strip("\n")
        if text.strip():
            sections[-1].blocks.append(_Block(text, start, end))
        current = []

    for index in range(first, len(lines)):
        line, number = lines[index], index + 1
        if markdown and fence is not None:
            current.append(line)
            if line.strip().startswith(fence):
                fence = None
                flush(number)
            continue
        if markdown and (match := _FENCE.match(line)):
            flush(number - 1)
            fence, start, current = match.group(1), number, [line]
            continue
        if markdown and (match := _HEADING.match(line)):
            flush(number - 1)
            level, title = len(match.group(1)), (match.group(2) or "").strip()
            while headings and headings[-1][0] >= level:
                headings.pop()
            if title:
                headings.append((level, title))
            sections.append(_Section(tuple(t for _, t in headings)))
            continue
        if not line.strip():
            flush(number - 1)
            continue
        if not current:
            start = number
        current.append(line)
    flush(len(lines))
    return [s for s in sections if s.blocks]


def _hard_cut(text: str, budget: int) -> list[str]:
    """`text` cut into prefixes of at most `budget` tokens each."""
    pieces: list[str] = []
    rest = text
    while rest:
        cut = truncate_to_tokens(rest, budget)
        if not cut or not rest.startswith(cut):
            cut = rest[: max(1, len(cut))]
        pieces.append(cut)
        rest = rest[len(cut) :]
    return pieces


def split_long(text: str, budget: int) -> list[tuple[int, str]]:
    """(offset, piece) pairs of at most `budget` tokens, cut at sentences, lines, then anywhere."""
    units: list[str] = []
    last = 0
    for match in _BOUNDARY.finditer(text):
        units.append(text[last : match.end()])
        last = match.end()
    units.append(text[last:])
    pieces: list[tuple[int, str]] = []
    offset = 0
    current, current_at = "", 0
    for unit in (piece for u in units for piece in _units_within(u, budget)):
        candidate = current + unit
        if current and count_tokens(candidate.strip()) > budget:
            pieces.append((current_at, current))
            current, current_at = unit, offset
        else:
            current = candidate
        offset += len(unit)
    pieces.append((current_at, current))
    out = []
    for at, piece in pieces:
        stripped = piece.strip()
        if stripped:
            out.append((at + len(piece) - len(piece.lstrip()), stripped))
    return out


def _units_within(unit: str, budget: int) -> list[str]:
    return [unit] if count_tokens(unit.strip()) <= budget else _hard_cut(unit, budget)


def chunk_section(section: _Section, max_tokens: int) -> Iterator[tuple[str, int, int]]:
    """(text, first line, last line) chunks of at most `max_tokens`, heading path first."""
    header = HEADING_SEPARATOR.join(section.path)
    header = f"{header}\n\n" if header else ""
    if count_tokens(header) > max_tokens // 2:
        header = ""  # a path this long is kept in metadata only
    # A small margin: token counts are not exactly additive where two texts meet.
    budget = max(1, max_tokens - count_tokens(header) - 2)
    pieces: list[tuple[str, int, int]] = []
    for block in section.blocks:
        if count_tokens(block.text) <= budget:
            pieces.append((block.text, block.line, block.end_line))
            continue
        for offset, piece in split_long(block.text, budget):
            first = block.line + block.text.count("\n", 0, offset)
            pieces.append((piece, first, first + piece.count("\n")))
    current: tuple[str, int, int] | None = None
    for text, first, last in pieces:
        if current is not None:
            merged = f"{current[0]}\n\n{text}"
            if count_tokens(merged) <= budget:
                current = (merged, current[1], last)
                continue
            yield header + current[0], current[1], current[2]
        current = (text, first, last)
    if current is not None:
        yield header + current[0], current[1], current[2]


class _DocumentConnector(Connector):
    """Shared reading and chunking; subclasses say whether headings and fences mean anything."""

    markdown: ClassVar[bool] = False
    source_lines: ClassVar[bool] = True  # chunk line numbers are the file's own lines
    snapshot = True

    def __init__(self, max_tokens: int = MAX_TOKENS) -> None:
        self.max_tokens = max_tokens

    def read(self, path: Path) -> tuple[str, dict[str, str]] | IngestProblem:
        """The document's text and any fields (title, date) found outside it."""
        text = read_document(path)
        return text if isinstance(text, IngestProblem) else (text, {})

    def parse(self, path: Path) -> Iterator[Parsed]:
        found = self.read(path)
        if isinstance(found, IngestProblem):
            yield found
            return
        text, outside = found
        lines = text.splitlines()
        fields, first = front_matter(lines) if self.markdown else ({}, 0)
        fields = {**outside, **fields}
        occurred: datetime | None = None
        if fields.get("date"):
            try:
                occurred = parse_time(fields["date"])
            except (ValueError, OverflowError) as exc:
                keys = (n for n, t in enumerate(lines[:first], 1) if t.lower().startswith("date"))
                line = next(keys, None)
                yield IngestProblem(str(path), line, f"front matter: ignored bad date: {exc}")
        extra = {"title": fields["title"]} if fields.get("title") else {}
        index = 0
        for section in split_sections(lines, first, self.markdown):
            heading = HEADING_SEPARATOR.join(section.path)
            for chunk, line, end_line in chunk_section(section, self.max_tokens):
                metadata = {"line": line, "end_line": end_line, **extra}
                if not self.source_lines:
                    metadata = {**extra}
                if self.markdown:
                    metadata["heading_path"] = heading
                yield Draft(
                    text=chunk,
                    kind="document_chunk",
                    session_id=path.stem,
                    seq=index,
                    actor=fields.get("author") or None,
                    occurred_at=occurred,
                    metadata=metadata,
                    source_id=f"chunk:{index}",
                )
                index += 1


class MarkdownConnector(_DocumentConnector):
    """Markdown: chunks keep their heading path ("Guide > Install"); front-matter `date` is used."""

    name = "markdown"
    suffixes = (".md", ".markdown", ".mdown", ".mkd")
    markdown = True


class TextConnector(_DocumentConnector):
    """Plain text split at blank lines; also the fallback for any other file that reads as text."""

    name = "text"
    suffixes = (".txt", ".text")

    @classmethod
    def sniff(cls, path: Path, head: str) -> bool:
        if path.suffix.lower() in cls.suffixes:
            return True
        return bool(head.strip()) and "\x00" not in head and "\ufffd" not in head


_SKIPPED_TAGS = frozenset(
    ("script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas", "nav")
)
_BLOCK_TAGS = frozenset(
    (
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "br",
        "caption",
        "summary",
    )
)


def html_to_markdown(html: str) -> tuple[str, str]:
    """Readable text of an HTML page as markdown (headings, lists, code), and its title."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node is not None else ""
    blocks: list[str] = []
    inline: list[str] = []

    def flush(prefix: str = "") -> None:
        text = " ".join("".join(inline).split())
        inline.clear()
        if text:
            blocks.append(prefix + text)

    def walk(node: Any) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag or ""
            if tag == "-text":
                inline.append(child.text(deep=False) or "")
            elif tag.startswith("-") or tag in _SKIPPED_TAGS:
                continue
            elif len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
                flush()
                heading = " ".join(child.text().split())
                if heading:
                    blocks.append(f"{'#' * int(tag[1])} {heading}")
            elif tag == "pre":
                flush()
                blocks.append(f"```\n{child.text().strip(chr(10))}\n```")
            elif tag in ("td", "th"):
                walk(child)
                inline.append(" | ")
            elif tag in _BLOCK_TAGS:
                flush()
                walk(child)
                flush("- " if tag == "li" else "")
            else:
                walk(child)

    walk(tree.body if tree.body is not None else tree.root)
    flush()
    return "\n\n".join(blocks), title


class HtmlConnector(_DocumentConnector):
    """HTML pages: scripts and styles dropped, headings kept as the chunks' heading paths."""

    name = "html"
    suffixes = (".html", ".htm", ".xhtml")
    markdown = True
    source_lines = False

    @classmethod
    def sniff(cls, path: Path, head: str) -> bool:
        start = head.lstrip("\ufeff \t\r\n")[:256].lower()
        return path.suffix.lower() in cls.suffixes or start.startswith(("<!doctype html", "<html"))

    def read(self, path: Path) -> tuple[str, dict[str, str]] | IngestProblem:
        html = read_document(path)
        if isinstance(html, IngestProblem):
            return html
        text, title = html_to_markdown(html)
        return text, ({"title": title} if title else {})


class PdfConnector(_DocumentConnector):
    """PDF text (via pypdf), chunked page by page; each chunk says which page it is on."""

    name = "pdf"
    suffixes = (".pdf",)
    source_lines = False

    @classmethod
    def sniff(cls, path: Path, head: str) -> bool:
        return path.suffix.lower() in cls.suffixes or head.startswith("%PDF-")

    def parse(self, path: Path) -> Iterator[Parsed]:
        from pypdf import PdfReader

        where = str(path)
        # pypdf warns about damage it recovers from; what it cannot recover is reported below.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                reader = PdfReader(path)
                if reader.is_encrypted and not reader.decrypt(""):
                    yield IngestProblem(where, None, "PDF is encrypted; no text extracted")
                    return
                pages = list(reader.pages)
                info = reader.metadata
                title = str(info.title or "").strip() if info is not None else ""
                occurred = info.creation_date if info is not None else None
            except Exception as exc:  # pypdf raises assorted errors on damaged input
                yield IngestProblem(where, None, f"not a readable PDF: {type(exc).__name__}: {exc}")
                return
            index = 0
            for number, page in enumerate(pages, start=1):
                try:
                    text = page.extract_text() or ""
                except Exception as exc:  # one damaged page must not lose the others
                    yield IngestProblem(where, None, f"page {number}: no text extracted: {exc}")
                    continue
                for section in split_sections(text.splitlines(), 0, False):
                    for chunk, _, _ in chunk_section(section, self.max_tokens):
                        metadata: dict[str, Any] = {"page": number}
                        if title:
                            metadata["title"] = title
                        yield Draft(
                            text=chunk,
                            kind="document_chunk",
                            session_id=path.stem,
                            seq=index,
                            occurred_at=occurred,
                            metadata=metadata,
                            source_id=f"chunk:{index}",
                        )
                        index += 1
