"""Email from mbox files and .eml folders: threads as sessions, quotes and signatures kept apart."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

from ..types import Draft, IngestProblem
from .base import Connector, Parsed

_HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*:[ \t]")
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
# "On Tue, 3 Mar 2026 at 10:02, Maya Chen <maya@x.io> wrote:" (it may wrap onto a second line)
_ATTRIBUTION = re.compile(r"^(On\b.{0,200}\bwrote:|.{0,120}\bschrieb:|Le .{0,160}a écrit ?:)\s*$")
_ORIGINAL = re.compile(r"^-{2,}\s*(Original Message|Forwarded message)\s*-{2,}\s*$", re.I)
_SIGN_OFF = re.compile(
    r"^(thanks|thank you|many thanks|thx|cheers|best|best regards|regards|kind regards|"
    r"warm regards|all the best|sincerely|br)[,.!]?$",
    re.I,
)
MAX_SIGNATURE_CHARS = 500


@dataclass
class _Mail:
    """One parsed message and where it came from."""

    message: EmailMessage
    where: str
    line: int | None
    number: int
    file: str | None = None


def split_body(body: str) -> tuple[str, str, int]:
    """(new text, signature, quoted lines dropped): replies quote the whole thread, so only
    what this message adds is kept; the signature goes to metadata."""
    lines = body.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    quoted = 0
    signature: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if line in ("-- ", "--"):
            signature = lines[index + 1 :]
            break
        if _ORIGINAL.match(stripped) and "Forwarded" not in stripped:
            quoted += len(lines) - index
            break
        if stripped.startswith(">"):
            if not (index and lines[index - 1].strip().startswith(">")):
                _drop_attribution(kept)
            quoted += 1
            continue
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    # A short sign-off ("Thanks,\nMaya") at the very end joins the signature.
    content = [i for i, line in enumerate(kept) if line.strip()]
    for i in content[-4:]:
        after = [line for line in kept[i + 1 :] if line.strip()]
        if _SIGN_OFF.match(kept[i].strip()) and all(len(line) <= 40 for line in after):
            signature = [*kept[i:], *signature]
            del kept[i:]
            break
    text = "\n".join(kept).strip()
    return text, "\n".join(signature).strip()[:MAX_SIGNATURE_CHARS], quoted


def _drop_attribution(kept: list[str]) -> None:
    """Drop the "On ... wrote:" line (possibly wrapped onto two) that introduces a quote."""
    end = len(kept)
    while end and not kept[end - 1].strip():
        end -= 1
    if end and _ATTRIBUTION.match(kept[end - 1].strip()):
        del kept[end - 1 :]
    elif end > 1 and _ATTRIBUTION.match(f"{kept[end - 2].strip()} {kept[end - 1].strip()}"):
        del kept[end - 2 :]


def _ids(value: Any) -> list[str]:
    return _MESSAGE_ID.findall(str(value or ""))


def _body(message: EmailMessage) -> tuple[str, list[str]]:
    """The message's text (plain preferred, else HTML as text) and its attachment names."""
    attachments = [
        str(part.get_filename())
        for part in message.walk()
        if part.get_content_disposition() == "attachment" and part.get_filename()
    ]
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "", attachments
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown charset or broken encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return "", attachments
    if part.get_content_subtype() == "html":
        from .documents import html_to_markdown

        content = html_to_markdown(content)[0]
    return content, attachments


def mbox_messages(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(line of its `From ` separator, raw message) for each message of an mbox file."""
    start: int | None = None
    chunk: list[bytes] = []
    previous_blank = True
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        if line.startswith(b"From ") and previous_blank:
            if start is not None:
                yield start, b"".join(chunk)
            start, chunk = number, []
        elif start is not None:
            # mboxrd quoting: ">From " in a body was "From " before it was stored
            chunk.append(line[1:] if re.match(rb"^>+From ", line) else line)
        previous_blank = not line.strip()
    if start is not None:
        yield start, b"".join(chunk)


class EmailConnector(Connector):
    """Mbox files, single .eml files and folders of .eml files. A thread (found from
    Message-ID, In-Reply-To and References) is a session; each message's record holds only
    what it adds: quoted lines and "On ... wrote:" lines are dropped (they are the earlier
    messages, stored as their own records) and the signature is kept in metadata."""

    name = "email"
    suffixes = (".mbox", ".mbx", ".eml")
    directories = True

    @classmethod
    def sniff(cls, path: Path, head: str) -> bool:
        if path.suffix.lower() in cls.suffixes:
            return True
        lines = head.lstrip("\ufeff").splitlines()[:30]
        if lines and lines[0].startswith("From ") and len(lines) > 1 and _HEADER.match(lines[1]):
            return True
        block = lines[: next((i for i, line in enumerate(lines) if not line.strip()), len(lines))]
        names = {line.split(":", 1)[0].lower() for line in block if _HEADER.match(line)}
        return (
            bool(block)
            and _HEADER.match(block[0]) is not None
            and {"from", "date"} <= names
            and bool(names & {"message-id", "subject"})
        )

    @classmethod
    def sniff_directory(cls, path: Path) -> bool:
        files = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
        return bool(files) and all(p.suffix.lower() == ".eml" for p in files)

    def parse(self, path: Path) -> Iterator[Parsed]:
        mails: list[_Mail] = []
        parser = BytesParser(policy=policy.default)
        files = sorted(p for p in path.rglob("*.eml") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            where = str(file)
            try:
                data = file.read_bytes()
            except OSError as exc:
                yield IngestProblem(where, None, f"cannot read: {exc.strerror or exc}")
                continue
            name = file.relative_to(path).as_posix() if path.is_dir() else None
            is_mbox = data.startswith(b"From ") or file.suffix.lower() in (".mbox", ".mbx")
            if is_mbox and not data.startswith(b"From "):
                yield IngestProblem(where, 1, "not an mbox file: expected a 'From ' line first")
                continue
            chunks = mbox_messages(data) if is_mbox else iter([(1, data)])
            for number, (line, raw) in enumerate(chunks, start=1):
                message = parser.parsebytes(raw)
                assert isinstance(message, EmailMessage)
                mails.append(_Mail(message, where, line, number, name))
        roots = self._threads(mails)
        for mail in mails:
            yield from self._draft(mail, roots)

    def _threads(self, mails: list[_Mail]) -> dict[str, str]:
        """Each message id's thread root: the first References id, else the In-Reply-To chain."""
        parent: dict[str, str] = {}
        root: dict[str, str] = {}
        for mail in mails:
            own = _ids(mail.message.get("Message-ID"))
            if not own:
                continue
            references = _ids(mail.message.get("References"))
            replied = _ids(mail.message.get("In-Reply-To"))
            if references:
                root[own[0]] = references[0]
            elif replied:
                parent[own[0]] = replied[0]
        for mid, up in parent.items():
            seen = {mid}
            while up in parent and up not in seen:
                seen.add(up)
                up = parent[up]
            root[mid] = root.get(up, up)
        return root

    def _draft(self, mail: _Mail, roots: dict[str, str]) -> Iterator[Parsed]:
        message = mail.message
        label = f"message {mail.number}" if mail.file is None else f"message in {mail.file}"
        defects = [type(d).__name__ for d in message.defects]
        headers = [key.lower() for key in message]
        if not headers or "from" not in headers:
            reason = f"{label}: not an email (no From header)"
            if defects:
                reason += f"; defects: {', '.join(sorted(set(defects)))}"
            yield IngestProblem(mail.where, mail.line, reason)
            return
        try:
            body, attachments = _body(message)
        except (LookupError, ValueError, TypeError) as exc:
            yield IngestProblem(mail.where, mail.line, f"{label}: unreadable body: {exc}")
            return
        text, signature, quoted = split_body(body)
        if not text:
            text = body.strip()  # a message that only quotes: keep what it is
        subject = " ".join(str(message.get("Subject") or "").split())
        own = _ids(message.get("Message-ID"))
        mid = (
            own[0]
            if own
            else "no-id:"
            + hashlib.sha256(
                f"{message.get('From')}|{message.get('Date')}|{subject}|{body}".encode()
            ).hexdigest()[:16]
        )
        moment: datetime | None = None
        if message.get("Date"):
            try:
                moment = parsedate_to_datetime(str(message["Date"]))
                moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            except (TypeError, ValueError, IndexError):
                reason = f"{label}: ignored bad Date {str(message['Date'])!r}"
                yield IngestProblem(mail.where, mail.line, reason)
        if not text:
            yield IngestProblem(mail.where, mail.line, f"{label}: no text in the body")
            return
        replied = _ids(message.get("In-Reply-To"))
        references = _ids(message.get("References"))
        if not replied and not references and subject:
            text = f"{subject}\n\n{text}"
        name, address = parseaddr(str(message.get("From")))
        metadata: dict[str, Any] = {
            "message_id": mid,
            "subject": subject,
            "from": address or None,
            "to": [a for _, a in getaddresses([str(message.get("To") or "")]) if a],
            "in_reply_to": replied[0] if replied else None,
            "references": references,
            "line": mail.line,
        }
        if mail.file:
            metadata["file"] = mail.file
        if message.get("Cc"):
            metadata["cc"] = [a for _, a in getaddresses([str(message["Cc"])]) if a]
        if signature:
            metadata["signature"] = signature
        if quoted:
            metadata["quoted_lines"] = quoted
        if attachments:
            metadata["attachments"] = attachments
        yield Draft(
            text=text,
            kind="message",
            session_id=roots.get(mid, mid),
            seq=int(moment.timestamp()) if moment else None,
            actor=name or address or None,
            role=None,
            occurred_at=moment,
            metadata=metadata,
            source_id=mid,
        )
