"""Slack workspace exports (a folder or a zip): channels as sessions, threads, edits, deletions."""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ..types import Draft, IngestProblem
from .base import Connector, Parsed
from .jsondoc import decode_bytes, documents, type_name

CHANNEL_LISTS = ("channels.json", "groups.json", "mpims.json", "dms.json")
_TS = re.compile(r"^(\d{1,12})\.(\d{1,6})$")
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
EVENT_SUBTYPES = frozenset(
    (
        "channel_join",
        "channel_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "channel_archive",
        "channel_unarchive",
        "group_join",
        "group_leave",
        "pinned_item",
    )
)


class _Export:
    """The files of an export, from a folder or a zip (optionally under one top folder)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        if path.is_dir():
            names = [p.relative_to(path).as_posix() for p in path.rglob("*.json") if p.is_file()]
        else:
            self.zip = zipfile.ZipFile(path)
            names = [n for n in self.zip.namelist() if n.endswith(".json")]
        tops = {n.split("/", 1)[0] for n in names if "/" in n}
        self.prefix = ""
        if not any(n in names for n in (*CHANNEL_LISTS, "users.json")) and len(tops) == 1:
            self.prefix = f"{next(iter(tops))}/"  # a zip of the export folder itself
        self.members = sorted(n[len(self.prefix) :] for n in names if n.startswith(self.prefix))

    def where(self, member: str) -> str:
        return f"{self.path}/{self.prefix}{member}"

    def read(self, member: str) -> bytes:
        if self.zip is not None:
            return self.zip.read(self.prefix + member)
        return (self.path / member).read_bytes()


def slack_time(ts: Any) -> tuple[datetime, int]:
    """A Slack ts ("1709370000.000100") as a datetime and as integer microseconds (its order)."""
    match = _TS.match(str(ts).strip()) if isinstance(ts, str | int | float) else None
    if match is None:
        raise ValueError(f"not a Slack timestamp: {ts!r}")
    micros = int(match.group(1)) * 1_000_000 + int(match.group(2).ljust(6, "0"))
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC), micros


def _user_name(user: dict[str, Any]) -> str | None:
    profile: dict[str, Any] = user["profile"] if isinstance(user.get("profile"), dict) else {}
    for value in (
        profile.get("real_name"),
        user.get("real_name"),
        profile.get("display_name"),
        user.get("name"),
    ):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


class SlackConnector(Connector):
    """A Slack export: `users.json`, `channels.json` and a folder of daily JSON files per
    channel. Each channel is a session; thread replies keep their thread in metadata; an edit
    is a new version (`edited_from`) that hides the old one; a deletion is a tombstone event."""

    name = "slack"
    suffixes = (".zip",)
    directories = True
    versioned = True

    @classmethod
    def sniff(cls, path: Path, head: str) -> bool:
        if path.suffix.lower() != ".zip" or not zipfile.is_zipfile(path):
            return False
        try:
            with zipfile.ZipFile(path) as archive:
                names = {PurePosixPath(n).name for n in archive.namelist()}
        except (zipfile.BadZipFile, OSError):
            return False
        return bool(names & {"users.json", "channels.json"})

    @classmethod
    def sniff_directory(cls, path: Path) -> bool:
        return (path / "channels.json").is_file() or (path / "users.json").is_file()

    def parse(self, path: Path) -> Iterator[Parsed]:
        try:
            export = _Export(path)
        except (zipfile.BadZipFile, OSError) as exc:
            yield IngestProblem(str(path), None, f"not a readable Slack export: {exc}")
            return
        with export.zip or nullcontext():
            users: dict[str, str] = {}
            for item in self._list(export, "users.json"):
                if isinstance(item, IngestProblem):
                    yield item
                elif isinstance(item.get("id"), str) and (name := _user_name(item)):
                    users[item["id"]] = name
            folders: dict[str, tuple[str, str]] = {}  # folder -> (channel id, session name)
            for listing in CHANNEL_LISTS:
                for item in self._list(export, listing):
                    if isinstance(item, IngestProblem):
                        yield item
                        continue
                    cid = str(item.get("id") or "")
                    name = str(item.get("name") or cid)
                    if listing == "dms.json":
                        members = item.get("members") or []
                        people = [users.get(str(m), str(m)) for m in members]
                        folders[cid] = (cid, "dm: " + ", ".join(people) if people else cid)
                    elif name:
                        folders[name] = (cid or name, name)
            channels: dict[str, str] = {cid: name for cid, name in folders.values()}
            for member in export.members:
                folder = member.rpartition("/")[0]
                if not folder or "/" in folder:
                    continue
                cid, session = folders.get(folder, (folder, folder))
                yield from self._day(export, member, cid, session, users, channels)

    def _list(self, export: _Export, member: str) -> Iterator[dict[str, Any] | IngestProblem]:
        """The objects of a top-level list file (users.json, channels.json, ...), if present."""
        if member not in export.members:
            return
        where = export.where(member)
        for document in self._documents(export, member):
            if isinstance(document, IngestProblem):
                yield document
                continue
            if not isinstance(document.value, list):
                found = type_name(document.value)
                yield IngestProblem(where, document.line, f"expected an array, got {found}")
                continue
            for index, item in enumerate(document.value):
                if isinstance(item, dict):
                    yield item
                else:
                    reason = f"$[{index}]: expected an object, got {type_name(item)}"
                    yield IngestProblem(where, document.line_of(index), reason)

    def _documents(self, export: _Export, member: str) -> Iterator[Any]:
        where = export.where(member)
        try:
            data = export.read(member)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a damaged member
            yield IngestProblem(where, None, f"cannot read: {exc}")
            return
        text = decode_bytes(data, where)
        if isinstance(text, IngestProblem):
            yield text
            return
        yield from documents(text, where)

    def _day(
        self,
        export: _Export,
        member: str,
        cid: str,
        session: str,
        users: dict[str, str],
        channels: dict[str, str],
    ) -> Iterator[Parsed]:
        where = export.where(member)
        for document in self._documents(export, member):
            if isinstance(document, IngestProblem):
                yield document
                continue
            if not isinstance(document.value, list):
                found = type_name(document.value)
                reason = f"expected an array of messages, got {found}"
                yield IngestProblem(where, document.line, reason)
                continue
            for index, message in enumerate(document.value):
                line = document.line_of(index)
                try:
                    draft = self._message(message, cid, session, users, channels)
                except ValueError as exc:
                    yield IngestProblem(where, line, f"message {index + 1} ($[{index}]): {exc}")
                    continue
                if draft is not None:
                    yield replace(draft, metadata={**draft.metadata, "file": member, "line": line})

    def _message(
        self,
        message: Any,
        cid: str,
        session: str,
        users: dict[str, str],
        channels: dict[str, str],
    ) -> Draft | None:
        if not isinstance(message, dict):
            raise ValueError(f"expected an object, got {type_name(message)}")
        subtype = message.get("subtype")
        ts = message.get("ts")
        if ts is None:
            raise ValueError("no 'ts'")
        moment, micros = slack_time(ts)
        source_id = f"{cid}:{ts}"
        user = message.get("user") or (message.get("previous_message") or {}).get("user")
        actor = self._actor(message, user, users)
        metadata: dict[str, Any] = {"channel": session, "ts": str(ts)}
        if user:
            metadata["user_id"] = str(user)
        if subtype in ("message_deleted", "tombstone"):
            gone = message.get("deleted_ts") if subtype == "message_deleted" else ts
            slack_time(gone)  # validates it
            who = actor or "someone"
            return Draft(
                text=f"{who} deleted a message in #{session}",
                kind="event",
                session_id=session,
                seq=micros,
                actor=actor,
                occurred_at=moment,
                metadata={**metadata, "tombstone_of": f"{cid}:{gone}", "subtype": subtype},
                source_id=f"{cid}:{gone}:deleted",
            )
        if subtype == "message_changed":
            new = message.get("message")
            if not isinstance(new, dict):
                raise ValueError("message_changed without a 'message' object")
            earlier: dict[str, Any] = new["edited"] if isinstance(new.get("edited"), dict) else {}
            edited = {"ts": str(ts), **earlier}
            return self._message({**new, "edited": edited}, cid, session, users, channels)
        text = self._text(message, users, channels)
        if not text:
            if subtype in ("bot_message", "huddle_thread", "sh_room_created"):
                return None  # carries no text at all (calls, empty bot posts)
            raise ValueError("no text, files or attachments")
        if message.get("thread_ts") is not None:
            metadata["thread_ts"] = str(message["thread_ts"])
            if str(message["thread_ts"]) != str(ts):
                metadata["thread"] = f"{cid}:{message['thread_ts']}"
        if message.get("reply_count"):
            metadata["reply_count"] = message["reply_count"]
        if subtype:
            metadata["subtype"] = str(subtype)
        change = message.get("edited")
        if isinstance(change, dict) and change.get("ts") is not None:
            metadata["edited_from"] = source_id
            metadata["edited_at"] = slack_time(change["ts"])[0].isoformat()
        return Draft(
            text=text,
            kind="event" if subtype in EVENT_SUBTYPES else "message",
            session_id=session,
            seq=micros,
            actor=actor,
            occurred_at=moment,
            metadata=metadata,
            source_id=source_id,
        )

    @staticmethod
    def _actor(message: dict[str, Any], user: Any, users: dict[str, str]) -> str | None:
        if user and str(user) in users:
            return users[str(user)]
        profile = message.get("user_profile")
        if isinstance(profile, dict) and (name := _user_name(profile)):
            return name
        bot = message.get("bot_profile")
        name = message.get("username") or (bot.get("name") if isinstance(bot, dict) else None)
        return str(name) if name else (str(user) if user else None)

    @staticmethod
    def _text(message: dict[str, Any], users: dict[str, str], channels: dict[str, str]) -> str:
        """Slack's markup as plain text: mentions and channels by name, links, entities."""
        raw = message.get("text") or ""
        if not isinstance(raw, str):
            raise ValueError(f"'text' must be a string, got {type_name(raw)}")
        text = _MENTION.sub(lambda m: "@" + (users.get(m[1]) or m[2] or m[1]), raw)
        text = _CHANNEL.sub(lambda m: "#" + (m[2] or channels.get(m[1], m[1])), text)
        text = _SPECIAL.sub(lambda m: "@" + m[1], text)
        text = _LINK.sub(lambda m: f"{m[2]} ({m[1]})" if m[2] else m[1], text)
        parts = [html.unescape(text).strip()]
        for file in message.get("files") or []:
            if isinstance(file, dict) and (file.get("title") or file.get("name")):
                parts.append(f"[file: {file.get('title') or file.get('name')}]")
        for attachment in message.get("attachments") or []:
            if isinstance(attachment, dict):
                body = attachment.get("text") or attachment.get("fallback")
                if isinstance(body, str) and body.strip():
                    parts.append(f"[attachment: {html.unescape(body.strip())}]")
        return "\n".join(p for p in parts if p)
