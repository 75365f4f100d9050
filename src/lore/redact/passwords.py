"""Passwords said in passing: in prose some words after the keyword ("the password for the
shared drive is ..."), after a login command's `-p`, or shaped like a strong password anywhere.
AssignmentDetector (credentials.py) handles the plain forms (`password=...`, "password: ...",
"password is ...")."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .base import Detector, Scan, Span, register

_SHAPE_SYMBOLS = frozenset("!#$%&*^~?")  # inside a token, these mark a password-shaped one
_NOT_IN_VALUE = frozenset("/\\()[]{}<>\"'`,;")
_TRAILING = ".,;:)!?"
# "password" (or passwd, passphrase, passcode, pwd), up to 60 characters of the same sentence,
# then is / was / to / are or a colon (and "it's": "...log in: it's ..."), then the value.
_LINKED = re.compile(
    r"(?i)(?:password|passwd|passphrase|passcode|pwd)\b([^.!?\n]{0,60}?)"
    r"""(?:\b(?:is|was|to|are)\b[ \t]+|['’]s[ \t]+|:[ \t]+(?:it(?:['’]s| is)[ \t]+)?"""
    r"""|[ \t]+(?=[`"']))["'“`]?"""
    r"""([^\s\x00"'”`]+)"""
)
# `-p VALUE` / `--password VALUE` on a command line that names a user or logs in.
_FLAG = re.compile(r"(-p|-a|--password|--pass|--auth)(?:[ \t]+|=)[\"']?([^\s\x00\"'`]+)")
_USER_FLAG = re.compile(r"(?:^|[ \t])(?:-u|--user(?:name)?)(?:[ \t]|=)|\blogin\b")
_AUTH_FLAG_TOOLS = ("redis-cli", "keydb-cli")  # whose -a is the password
# A symbol followed by a letter or digit, and the token around it: what lies between white
# space, quotes, brackets, separators and `=` or `:` (a name before them is not the value).
# (The look-behind comes after the first character, so that `re` can skip to candidates.)
_SHAPE = re.compile(r"[!#$%&*^~?](?<=[A-Za-z0-9].)(?=[A-Za-z0-9])")
_BOUNDARY = re.compile(r"""[\s\x00"'`()<>\[\]{},;:=]""")
_AFTER = re.compile(r"""[^\s\x00"'`()<>\[\]{},;:=]{0,64}""")
_EMAIL_LIKE = re.compile(r"@[A-Za-z0-9-]+\.")
_WORD_WITH_DIGITS = re.compile(r"[0-9]*[A-Z]?[a-z]+[0-9]*")  # Windows11, 1Password, admin1234
_HEX_OR_ID = re.compile(r"[0-9a-f-]+|[0-9A-F-]+")
_ASCII_DIGITS = b"0123456789"
_DOTTED_DIGITS = re.compile(r"\d\.\d")  # versions and addresses, rarely a password


def strength(value: str) -> int:
    """How many of lower case, upper case, digits and other characters `value` has; 0 when
    it cannot be a password (too short or long, a URL, path, e-mail address, hex string,
    version, or a word with digits at its ends)."""
    if not 8 <= len(value) <= 64 or "://" in value or not _NOT_IN_VALUE.isdisjoint(value):
        return 0
    if _EMAIL_LIKE.search(value) or _DOTTED_DIGITS.search(value):
        return 0
    if _WORD_WITH_DIGITS.fullmatch(value) or _HEX_OR_ID.fullmatch(value):
        return 0
    if value.isascii():  # the same counts, from whole-string methods (in C)
        lower, upper = value.upper() != value, value.lower() != value
        if not (lower or upper):
            return 0  # no letter
        digit = len(value.encode().translate(None, _ASCII_DIGITS)) < len(value)
        return lower + upper + digit + (not value.isalnum())
    if not any(c.isalpha() for c in value):
        return 0
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def _weak_password(value: str) -> bool:
    """Letters with digits or symbols, 6 characters or more: "admin1234"."""
    return (
        6 <= len(value) <= 64
        and "://" not in value
        and _NOT_IN_VALUE.isdisjoint(value)
        and not _EMAIL_LIKE.search(value)
        and not _DOTTED_DIGITS.search(value)
        and any(c.isalpha() for c in value)
        and any(not c.isalpha() for c in value)
        and not _HEX_OR_ID.fullmatch(value)
    )


def _shaped(value: str) -> bool:
    """Lower and upper case, a digit and a symbol, the symbol inside the value."""
    return strength(value) == 4 and not _SHAPE_SYMBOLS.isdisjoint(value[1:-1])


@register("assignments")
class PasswordProseDetector(Detector):
    """Passwords in prose and on command lines, beyond `password: value` (which
    AssignmentDetector finds): linked to the keyword a few words later ("the password for the
    PDF is Q3-Board-Pack-77"), after `-p` of a command that names a user (`docker login -u bot
    -p ...`), or shaped like a strong password (lower, upper, digit and a symbol inside
    it) anywhere. Runs with AssignmentDetector, under the same policy name."""

    anchors = ("pass", "pwd", "-p", "-a", "--pass", "--auth")

    def find(self, scan: Scan) -> Iterator[Span]:
        text = scan.text
        lines: dict[tuple[int, bool], bool] = {}
        for anchor in scan.anchored(self.anchor_set):
            if text[anchor] == "-":
                yield from self._flag(text, anchor, lines)
            elif (match := _LINKED.match(text, anchor)) is not None:
                value = match.group(2).rstrip(_TRAILING)
                if strength(value) < 3:  # "...is Copperkettle42!": the ! may be its own
                    value = match.group(2).rstrip(".,;:)")
                # Right after the keyword ("password to admin1234") a weaker value will do.
                adjacent = not match.group(1).strip()
                if strength(value) >= 3 or (adjacent and _weak_password(value)):
                    yield match.start(2), match.start(2) + len(value), "password"
        for at in self._symbols(scan):
            back = text[max(0, at - 63) : at][::-1]  # the boundary nearest before it, if any
            gap = _BOUNDARY.search(back)
            start = at - (gap.start() if gap is not None else len(back))
            after = _AFTER.match(text, at)  # (always matches: it may be empty)
            end = after.end() if after is not None else at
            value = text[start:end].rstrip(_TRAILING)
            if _shaped(value) and not value.startswith("-"):
                yield start, start + len(value), "password"

    @staticmethod
    def _symbols(scan: Scan) -> Iterator[int]:
        """Where _SHAPE matches: from the prefilter's shapes when it ran (each is checked
        again here: a non-ASCII character reads as "?" there), else by searching."""
        ends = scan.shape_ends("password_shape")
        if ends is None:
            yield from (match.start() for match in _SHAPE.finditer(scan.text))
            return
        match = _SHAPE.match
        for end in ends:
            if match(scan.text, end - 2):
                yield end - 2

    @staticmethod
    def _flag(text: str, anchor: int, lines: dict[tuple[int, bool], bool]) -> Iterator[Span]:
        """A `-p`/`-a` value, when its line names a user or is a tool whose -a is the
        password; `lines` remembers each line's answer (many flags on one long line)."""
        if anchor and not text[anchor - 1].isspace():
            return
        match = _FLAG.match(text, anchor)
        if match is None or strength(match.group(2)) < 2:
            return
        line_start = text.rfind("\n", 0, anchor) + 1
        auth = match.group(1) in ("-a", "--auth")
        wanted = lines.get((line_start, auth))
        if wanted is None:
            line_end = text.find("\n", anchor)
            line = text[line_start : line_end if line_end >= 0 else len(text)]
            if auth:
                wanted = any(tool in line for tool in _AUTH_FLAG_TOOLS)
            else:
                wanted = _USER_FLAG.search(line) is not None
            lines[(line_start, auth)] = wanted
        if wanted:
            yield match.start(2), match.end(2), "password"
