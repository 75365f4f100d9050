"""GitHub issues and pull requests with their comments and reviews, as the REST API returns them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..types import Draft, IngestProblem
from .base import Connector, Parsed, parse_time
from .jsondoc import documents, read_text, type_name

_API = re.compile(r"/repos/([^/]+/[^/]+)/(?:issues|pulls)/(\d+)")
_HTML = re.compile(r"github\.com/([^/]+/[^/]+)/(?:issues|pull)/(\d+)")
REVIEW_WORDS = {
    "APPROVED": "approved this pull request",
    "CHANGES_REQUESTED": "requested changes",
    "COMMENTED": "reviewed this pull request",
    "DISMISSED": "had a review dismissed",
}


def _where_from(item: dict[str, Any], *keys: str) -> tuple[str, int] | None:
    """(owner/repo, number) from the first API or web URL among `keys` that names one."""
    for key in keys:
        url = item.get(key)
        if isinstance(url, str) and (match := _API.search(url) or _HTML.search(url)):
            return match.group(1), int(match.group(2))
    return None


def _kind_of(item: dict[str, Any]) -> str | None:
    if "number" in item and "title" in item:
        return "issue"
    if "diff_hunk" in item or "pull_request_review_id" in item:
        return "review_comment"
    if "pull_request_url" in item and ("submitted_at" in item or item.get("state") in REVIEW_WORDS):
        return "review"
    if "issue_url" in item and "body" in item:
        return "comment"
    return None


class GitHubConnector(Connector):
    """A JSON array (or `gh api --paginate` output) of issues, pull requests, issue comments,
    reviews or review comments; or a folder of such files. Each issue or pull request is a
    session (`owner/repo#12`); an edited body or comment supersedes the stored version."""

    name = "github"
    suffixes = ()
    directories = True
    versioned = True

    @classmethod
    def sniff(cls, path: Path, head: str) -> bool:
        if path.suffix.lower() != ".json" or '"html_url"' not in head:
            return False
        shapes = ('"number"', '"issue_url"', '"pull_request_url"')
        return "github.com/" in head and any(shape in head for shape in shapes)

    @classmethod
    def sniff_directory(cls, path: Path) -> bool:
        files = sorted(p for p in path.glob("*.json") if p.is_file())[:3]
        if not files or any(
            p.is_file() and p.suffix != ".json"
            for p in path.iterdir()
            if not p.name.startswith(".")
        ):
            return False
        for file in files:
            with file.open("r", encoding="utf-8", errors="replace") as handle:
                if not cls.sniff(file, handle.read(8192)):
                    return False
        return True

    def parse(self, path: Path) -> Iterator[Parsed]:
        files = sorted(p for p in path.rglob("*.json") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            yield from self._file(file, path)

    def _file(self, file: Path, root: Path) -> Iterator[Parsed]:
        where = str(file)
        text = read_text(file)
        if isinstance(text, IngestProblem):
            yield text
            return
        name = file.relative_to(root).as_posix() if root.is_dir() else file.name
        for document in documents(text, where):
            if isinstance(document, IngestProblem):
                yield document
                continue
            many = isinstance(document.value, list)
            items = document.value if many else [document.value]
            for index, item in enumerate(items):
                line = document.line_of(index) if many else document.line
                place = f"$[{index}]" if many else "$"
                try:
                    drafts = self._item(item)
                except (ValueError, TypeError, OverflowError) as exc:
                    yield IngestProblem(where, line, f"item {index + 1} ({place}): {exc}")
                    continue
                for draft in drafts:
                    draft.metadata.update({"file": name, "line": line})
                    yield draft

    def _item(self, item: Any) -> list[Draft]:
        if not isinstance(item, dict):
            raise ValueError(f"expected an object, got {type_name(item)}")
        kind = _kind_of(item)
        if kind is None:
            raise ValueError("not an issue, pull request, comment or review")
        if kind == "issue":
            return self._issue(item)
        keys = ("issue_url", "html_url") if kind == "comment" else ("pull_request_url", "html_url")
        found = _where_from(item, *keys)
        if found is None:
            raise ValueError(f"cannot tell which issue or pull request from {keys[0]!r}")
        repo, number = found
        session = f"{repo}#{number}"
        author = _login(item)
        body = item.get("body")
        if body is not None and not isinstance(body, str):
            raise ValueError(f"'body' must be a string, got {type_name(body)}")
        metadata: dict[str, Any] = {"url": item.get("html_url"), "repo": repo, "number": number}
        if kind == "review":
            state = str(item.get("state") or "COMMENTED")
            text = (
                body.strip()
                if body and body.strip()
                else f"{author or 'someone'} " + (REVIEW_WORDS.get(state, state.lower()))
            )
            metadata.update(type="review", review_state=state, commit_id=item.get("commit_id"))
            when = item.get("submitted_at") or item.get("created_at")
        else:
            if not body or not body.strip():
                raise ValueError("comment has no body")
            text = body
            metadata["type"] = kind
            when = item.get("created_at")
            if kind == "review_comment":
                metadata.update(
                    path=item.get("path"),
                    diff_line=item.get("line") or item.get("original_line"),
                    in_reply_to=item.get("in_reply_to_id"),
                )
        moment = _time(when, "created_at" if kind != "review" else "submitted_at")
        _edited(item, metadata)
        source = f"{session}:{kind}:{_id(item)}"
        return [
            Draft(
                text=text,
                kind="message",
                session_id=session,
                seq=int(moment.timestamp()),
                actor=author,
                occurred_at=moment,
                metadata=metadata,
                source_id=source,
            )
        ]

    def _issue(self, item: dict[str, Any]) -> list[Draft]:
        number = item.get("number")
        if isinstance(number, bool) or not isinstance(number, int):
            raise ValueError(f"'number' must be an integer, got {type_name(number)}")
        found = _where_from(item, "url", "html_url", "repository_url")
        repo = found[0] if found else _repo_of(item)
        session = f"{repo}#{number}" if repo else f"#{number}"
        title, body = item.get("title"), item.get("body")
        if not isinstance(title, str) or (body is not None and not isinstance(body, str)):
            raise ValueError("'title' must be a string and 'body' a string or null")
        is_pr = "pull_request" in item or "head" in item or "/pull/" in str(item.get("html_url"))
        labels = [
            label.get("name") if isinstance(label, dict) else str(label)
            for label in item.get("labels") or []
        ]
        metadata: dict[str, Any] = {
            "url": item.get("html_url"),
            "repo": repo,
            "number": number,
            "type": "pull_request" if is_pr else "issue",
            "title": title,
            "state": item.get("state"),
            "labels": labels,
        }
        merged = item.get("merged_at") or (item.get("pull_request") or {}).get("merged_at")
        if merged:
            metadata["merged_at"] = merged
        moment = _time(item.get("created_at"), "created_at")
        _edited(item, metadata)
        author = _login(item)
        text = f"{title}\n\n{body.strip()}" if body and body.strip() else title
        drafts = [
            Draft(
                text=text,
                kind="message",
                session_id=session,
                seq=int(moment.timestamp()),
                actor=author,
                occurred_at=moment,
                metadata=metadata,
                source_id=session,
            )
        ]
        what = "pull request" if is_pr else "issue"
        for event, key in (("merged", "merged_at"), ("closed", "closed_at")):
            stamp = merged if key == "merged_at" else item.get(key)
            if not stamp or (event == "closed" and merged):
                continue
            at = _time(stamp, key)
            who = _login(item, "merged_by" if event == "merged" else "closed_by")
            drafts.append(
                Draft(
                    text=f"{what} {session} {event}" + (f" by {who}" if who else ""),
                    kind="event",
                    session_id=session,
                    seq=int(at.timestamp()),
                    actor=who,
                    occurred_at=at,
                    metadata={"url": item.get("html_url"), "type": event, "number": number},
                    source_id=f"{session}:{event}:{stamp}",
                )
            )
        return drafts


def _login(item: dict[str, Any], key: str = "user") -> str | None:
    user = item.get(key)
    if isinstance(user, dict) and isinstance(user.get("login"), str):
        return str(user["login"])
    return None


def _id(item: dict[str, Any]) -> str:
    value = item.get("id")
    if value is None or isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"'id' must be an integer or string, got {type_name(value)}")
    return str(value)


def _repo_of(item: dict[str, Any]) -> str | None:
    url = item.get("repository_url")
    if isinstance(url, str) and "/repos/" in url:
        return "/".join(url.split("/repos/", 1)[1].split("/")[:2])
    return None


def _time(value: Any, key: str) -> Any:
    if value is None:
        raise ValueError(f"no {key!r}")
    try:
        return parse_time(value)
    except (ValueError, OverflowError, OSError) as exc:
        raise ValueError(f"bad {key!r} {value!r}: {exc}") from None


def _edited(item: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Mark a version edited after creation, so the newest version of its source id wins."""
    updated, created = item.get("updated_at"), item.get("created_at")
    if updated and updated != created:
        metadata["edited_at"] = updated
