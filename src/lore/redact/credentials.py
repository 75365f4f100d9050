"""Secret detectors: known key formats, JWTs, private keys, URL and assigned passwords, entropy."""

from __future__ import annotations

import math
import re
import re._constants as _constants
import re._parser as _parser
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import cast

from .base import Detector, Scan, Span, register, word_start_first
from .policy import KeyPattern, Policy


def shannon_entropy(text: str) -> float:
    """Bits per character of `text`'s own character distribution."""
    if not text:
        return 0.0
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in Counter(text).values())


def _placeholder_like(value: str) -> bool:
    """Values that stand for a secret without being one: $VAR, <your-key>, ***, code."""
    if not value or value[0] in "$<{%*[(#" or not _BRACKETS.isdisjoint(value):
        return True
    lowered = value.lower()
    return (
        lowered.startswith(("os.", "process.env", "env.", "xxx", "...", "your-", "your_"))
        or lowered in _STAND_INS
        or set(value) <= _FILLER
    )


_BRACKETS = frozenset("()[]{}<>")
_STAND_INS = frozenset((
    "none", "null", "true", "false", "nil", "undefined", "redacted",
    "changeme", "password", "secret", "example", "placeholder",
))
_FILLER = frozenset("*x.-_")
_DIRECTORY_VARS = frozenset(("PWD", "OLDPWD"))


@register("known_keys")
class KnownKeyDetector(Detector):
    """API keys and tokens with a recognisable format, from the policy's [[secrets.patterns]]."""

    def __init__(self, policy: Policy) -> None:
        # A pattern whose matches start with literals of 3+ characters is tried only where
        # the shared keyword pass found one; any other pattern scans the whole text.
        self.patterns: list[tuple[KeyPattern, tuple[str, ...]]] = []
        # Any other pattern whose matches start with literals (and that is case-sensitive) is
        # tried only where str.find finds them (Scan.finditer).
        self.prefixed: dict[KeyPattern, tuple[str, ...]] = {}
        for pattern in policy.patterns:
            prefixes = literal_prefixes(pattern.regex.pattern)
            usable = prefixes and all(len(p) >= 3 for p in prefixes)
            self.patterns.append((pattern, tuple({p.lower() for p in prefixes}) if usable else ()))
            if prefixes and not usable and not pattern.regex.flags & re.IGNORECASE:
                self.prefixed[pattern] = prefixes
        self.anchors = tuple({a for _, anchors in self.patterns for a in anchors})
        self.by_anchor: dict[str, list[KeyPattern]] = {}
        for pattern, anchors in self.patterns:
            for anchor in anchors:
                self.by_anchor.setdefault(anchor, []).append(pattern)

    def find(self, scan: Scan) -> Iterator[Span]:
        text = scan.text
        for literal, positions in scan.hits.items():
            for pattern in self.by_anchor.get(literal, ()):
                matches = (pattern.regex.match(text, p) for p in positions)
                yield from self._spans(text, pattern, matches)
        for pattern, anchors in self.patterns:
            if not anchors:
                prefixes = self.prefixed.get(pattern)
                found = (
                    pattern.regex.finditer(text) if prefixes is None
                    else scan.finditer(pattern.regex, prefixes)
                )
                yield from self._spans(text, pattern, found)

    @staticmethod
    def _spans(
        text: str, pattern: KeyPattern, matches: Iterable[re.Match[str] | None]
    ) -> Iterator[Span]:
        for match in matches:
            if match is None or (match.start() and text[match.start() - 1] in _WORD_CHARS):
                continue  # no match there, or it starts inside a longer word
            if "\x00" in match.group():
                continue  # it runs across two texts of a batch (base.SEP)
            start, end = match.span(pattern.group)
            if start < end and len(set(text[max(start, end - 16) : end])) > 2:
                yield start, end, pattern.kind  # (ghp_xxxx...xxxx is a documentation stand-in)


@register("jwt")
class JwtDetector(Detector):
    """JSON Web Tokens: base64url header and payload that both start with '{"'."""

    gate = ("eyJ",)
    _PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")

    def find(self, scan: Scan) -> Iterator[Span]:
        text = scan.text
        for match in scan.finditer(self._PATTERN, self.gate):  # (_PATTERN.finditer(text))
            if not (match.start() and text[match.start() - 1] in _TOKEN_CHARS):
                yield match.start(), match.end(), "jwt"


@register("private_key")
class PrivateKeyDetector(Detector):
    """PEM/OpenSSH/PGP private key blocks, BEGIN to END; an unterminated one runs to the end."""

    gate = ("PRIVATE KEY",)
    _PATTERN = re.compile(
        r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY((?: BLOCK)?)-----"
        r"(?:[^\x00]*?-----END \1PRIVATE KEY\2-----|[^\x00]*)"
    )

    def find(self, scan: Scan) -> Iterator[Span]:
        for match in scan.finditer(self._PATTERN, ("-----BEGIN ",)):  # (_PATTERN.finditer)
            yield match.start(), match.end(), "private_key"


@register("url_password")
class UrlPasswordDetector(Detector):
    """The password in scheme://user:password@host (the user name is kept)."""

    gate = ("://",)
    _PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,20}://[^\s\x00:/@]*:([^\s\x00/@]+)@")

    def find(self, scan: Scan) -> Iterator[Span]:
        text = scan.text
        for at in scan.positions("://"):
            floor = max(0, at - 21)  # back over up to 21 scheme characters (rstrip: in C)
            start = floor + len(text[floor:at].rstrip(_SCHEME_STR))
            match = self._PATTERN.match(text, start)
            if match and not _placeholder_like(match.group(1)):
                yield match.start(1), match.end(1), "password"


def _may_assign(text: str, anchor: int) -> bool:
    """False only when no _ASSIGNED match can hold the name at `anchor`: its name (name
    characters, as far as they go) must be followed by an optional quote, blanks and = or :.
    (A non-ASCII character ends the quick test: IGNORECASE classes match some of them.)"""
    rest = text[anchor : anchor + 80].lstrip(_NAME_STR)
    if not rest or not rest[0].isascii():
        return True
    if rest[0] in "\"'":
        rest = rest[1:]
    rest = rest.lstrip(" \t")
    return not rest or rest[0] in "=:"


_PASSWORD_NAME = re.compile(r"(?i)pass|pwd")
# A log field (name=value): what follows a keyword in prose is then the next field.
_FIELD = re.compile(r"[a-z_][a-z0-9_.-]*=")
# (\x00 is never part of a value: it separates the texts of a batch, see base.SEP.)
_VALUE = r"""(?:"([^"\s\x00]*)"|'([^'\s\x00]*)'|([^\s\x00,;'"`]+))"""


@register("assignments")
class AssignmentDetector(Detector):
    """Values assigned to secret-sounding names (password=, "api_key": "...", token: ...),
    and passwords given in prose ("with password Tr0ub4dor&3x")."""

    anchors = (
        "pass", "pwd", "secret", "token", "apikey", "api_key", "api-key", "access_key",
        "access-key", "private_key", "private-key", "auth", "credential",
    )
    _ASSIGNED = re.compile(
        r"(?i)([A-Za-z0-9_.-]*?(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key|"
        r"apikey|access[_-]?key|private[_-]?key|auth|credentials?)(?:[_.-][A-Za-z0-9_]*)?)"
        r"""["']?[ \t]*(?:=|:|=>)[ \t]*""" + _VALUE
    )
    _PROSE = re.compile(
        r"(?i)(?:password|passwd|pwd|pass|passphrase)(?:[ \t]+(?:is|was))?[ \t]*[ \t:=][ \t]*"
        r"""["']?([^\s\x00"'`]{6,})"""
    )

    def find(self, scan: Scan) -> Iterator[Span]:
        text = scan.text
        for anchor in scan.anchored(self.anchor_set):
            if anchor and text[anchor - 1].isalpha():
                continue  # "monkey", "author": the keyword must start a name segment
            floor = max(0, anchor - 40)  # back over up to 40 name characters (rstrip: in C)
            start = floor + len(text[floor:anchor].rstrip(_NAME_STR))
            if _may_assign(text, anchor) and (match := self._ASSIGNED.match(text, start)):
                group = match.lastindex or 4  # the value's group (2, 3 or 4): the last to match
                value = match.group(group)
                name = match.group(1)
                password = bool(_PASSWORD_NAME.search(name))
                # (the shell's working directory, PWD=/srv/app, is no password)
                directory = name.upper() in _DIRECTORY_VARS and (
                    name.isupper() or value[:1] in "/~"
                )
                if not directory and self._secret_value(value, password):
                    yield match.start(group), match.end(group), "password" if password else "secret"
            # (_PROSE starts with pass/pwd: only a p or P can begin it). Not when the word is
            # itself a value (reason=bad_password), nor before another field (attempts=3).
            if (
                text[anchor] in "pP"
                and not (start and text[start - 1] == "=")
                and (match := self._PROSE.match(text, anchor))
            ):
                value = match.group(1).rstrip(".,;:)")
                if self._password_like(value) and not _FIELD.match(value):
                    yield match.start(1), match.start(1) + len(value), "password"

    @staticmethod
    def _secret_value(value: str, password: bool) -> bool:
        if _placeholder_like(value) or value.lstrip("-").replace(".", "").isdigit():
            return False
        if value.lower() in ("bearer", "basic", "token", "required", "optional"):
            return False
        if "://" in value:
            return False
        if password:
            return len(value) >= 4
        mixed = any(map(str.isdigit, value)) or not (value.islower() or value.isupper())
        return len(value) >= 8 and mixed

    @staticmethod
    def _password_like(value: str) -> bool:
        if len(value) < 6 or _placeholder_like(value) or "://" in value or "@" in value:
            return False
        has_letter = any(c.isalpha() for c in value)
        has_other = any(c.isdigit() or not c.isalnum() for c in value)
        return has_letter and has_other and not value.startswith(("-", "/"))


@register("bearer")
class BearerDetector(Detector):
    """The credential after Authorization: Bearer / Basic / Token."""

    anchors = ("bearer", "basic", "token")
    _PATTERN = re.compile(r"(?:Bearer|Basic|Token)[ \t]+([A-Za-z0-9._~+/=-]{16,})")

    def find(self, scan: Scan) -> Iterator[Span]:
        for anchor in scan.anchored(self.anchor_set):
            match = self._PATTERN.match(scan.text, anchor)
            if match is None:
                continue
            value = match.group(1)
            kind = "jwt" if value.startswith("eyJ") and value.count(".") == 2 else "secret"
            yield match.start(1), match.end(1), kind


_HEX_CHARS = frozenset("0123456789abcdefABCDEF-")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_DIGITS = frozenset("0123456789")
_HASH_BEFORE = re.compile(
    r"(?i)(?:sha\d*|md5|integrity|checksum|digest|fingerprint|etag|hash|base64|"
    r"public[ _-]?key|ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-\S+)[\s:=,\"'@-]{0,3}$"
)
# The same on lower-cased ASCII text, without IGNORECASE: the same answer there, faster.
_HASH_BEFORE_LOWER = re.compile(_HASH_BEFORE.pattern.removeprefix("(?i)"))
_HASH_PREFIX = re.compile(r"(?i)^(?:sha\d+|md5)[-:]")
_LOWER_WORD = re.compile(r"[a-z][a-z_.-]*")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# A UUID is an id (idempotency_key, request id) unless a credential word comes before it on
# its line ("token 3f2a…", "X-Api-Key: 3f2a…", "the secret is 3f2a…").
_CREDENTIAL_WORD = re.compile(
    r"api[_-]?key|apikey|access[_-]?key|private[_-]?key|secret|token|passw|pwd|auth|credential"
)
# After a URL's "://", up to a token in its path: host and path characters only (no query,
# fragment, user, or a separator such as , ; | that ends the URL before the token).
_URL_REST = re.compile(r"[A-Za-z0-9._~%/+-]*")
# ...whose words may still say the path holds a credential (webhooks, bot tokens, signatures).
_URL_SECRET_WORDS = re.compile(r"hook|bot|token|key|secret|auth|sig|cred|pass")
_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----[^\x00]*?(?:-----END \1-----|\x00|\Z)")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_WORD_CHARS = frozenset(_ALNUM + "_")
_TOKEN_CHARS = frozenset(_ALNUM + "_-")
_SCHEME_STR = _ALNUM + "+.-"
_NAME_STR = _ALNUM + "_.-"


def literal_prefixes(pattern: str, limit: int = 64) -> tuple[str, ...]:
    """Literals one of which starts every match of `pattern` (alternations and small character
    classes expanded, at most `limit` of them); empty when there are none."""
    try:
        items = list(_parser.parse(pattern))
    except Exception:
        return ()
    prefixes = [""]
    for op, arg in items:
        options: list[str] | None = None
        last = False
        if op is _constants.AT and prefixes == [""]:
            continue  # a leading \b
        if op is _constants.LITERAL:
            options = [chr(cast(int, arg))]
        elif op is _constants.IN and all(o is _constants.LITERAL for o, _ in arg):  # type: ignore[attr-defined]
            options = [chr(a) for _, a in arg]  # type: ignore[attr-defined]
        elif op is _constants.BRANCH:
            runs = [_literal_run(list(b)) for b in arg[1]]  # type: ignore[index]
            if all(r for r, _ in runs):
                options = [r for r, _ in runs]
                last = not all(whole for _, whole in runs)  # a branch goes on past its literal
        if options is None or len(prefixes) * len(options) > limit:
            break
        prefixes = [p + o for p in prefixes for o in options]
        if last:
            break
    return tuple(p for p in prefixes if p)


def _literal_run(items: list[tuple[object, object]]) -> tuple[str, bool]:
    """The literal a sequence starts with (after any \\b), and whether that is all of it."""
    while items and items[0][0] is _constants.AT:
        items = items[1:]
    out: list[str] = []
    for op, arg in items:
        if op is not _constants.LITERAL:
            return "".join(out), False
        out.append(chr(cast(int, arg)))
    return "".join(out), True


@register("entropy")
class EntropyDetector(Detector):
    """Long random-looking strings; hex strings and UUIDs (hashes, ids) only after a cue word."""


    def __init__(self, policy: Policy) -> None:
        words = "|".join(re.escape(w) for w in policy.cue_words) or "(?!)"
        self.cues = re.compile(rf"(?i)(?<![a-z])(?:{words})(?![a-z])")
        # The same for lower-cased ASCII text, without IGNORECASE (None: a word is not ASCII).
        self._cues_lower: re.Pattern[str] | None = None
        if all(w.isascii() for w in policy.cue_words):
            cue_words = [w.lower() for w in policy.cue_words]
            if cue_words and all(cue_words):  # (the look-behind after the first letter: base)
                lowered = word_start_first(cue_words, "[a-z]")
                self._cues_lower = re.compile(rf"(?:{lowered})(?![a-z])")
            else:
                lowered = "|".join(re.escape(w) for w in cue_words) or "(?!)"
                self._cues_lower = re.compile(rf"(?<![a-z])(?:{lowered})(?![a-z])")
        self.public = policy.public_prefixes
        self.min_length = policy.entropy_min_length
        self.min_length_cued = policy.entropy_min_length_cued
        shortest = max(8, min(self.min_length, self.min_length_cued))
        run = rf"[A-Za-z0-9+/_-]{{{shortest},}}={{0,2}}"
        self._candidate = re.compile(r"(?<![A-Za-z0-9+/_=-])" + run)
        # The same runs (group 1), found from the character before them: `re` then tries
        # each word once, from its start, instead of from every one of its characters.
        self._after_gap = re.compile(rf"[^A-Za-z0-9+/_=-]({run})")
        self._run = re.compile(run)  # one of those runs, from where Scan.token_runs says
        self.run_length = shortest
        self.ratio = policy.entropy_ratio

    def find(self, scan: Scan) -> Iterator[Span]:
        text = scan.text
        # Certificates and public keys are public; what a more specific detector already
        # found (a JWT, a known key) needs no second look.
        skip = [m.span() for m in scan.finditer(_BLOCK, ("-----BEGIN ",))]  # (_BLOCK.finditer)
        skip = sorted(skip + scan.claimed)
        skip_starts = [a for a, _ in skip]
        starts = scan.token_runs(self.run_length)
        if starts is not None:
            match = self._run.match
            spans = [match(text, start).span() for start in starts]  # type: ignore[union-attr]
        else:
            first = self._candidate.match(text)
            spans = [first.span()] if first else []
            spans += [m.span(1) for m in self._after_gap.finditer(text)]
        for start, end in spans:
            i = bisect_right(skip_starts, start) - 1
            if i >= 0 and start < skip[i][1]:
                continue
            value = text[start:end]
            if "/" in value and self._path_like(value):
                offset = start
                for part in value.split("/"):
                    if self._secret(scan, offset, part):
                        yield offset, offset + len(part), "secret"
                    offset += len(part) + 1
            elif self._secret(scan, start, value):
                yield start, end, "secret"

    @staticmethod
    def _path_like(value: str) -> bool:
        words = [p for p in value.split("/") if _LOWER_WORD.fullmatch(p)]
        return len(words) >= 2 or any(len(w) >= 5 for w in words)

    def _secret(self, scan: Scan, start: int, value: str) -> bool:
        core = value.rstrip("=")
        if len(core) < self.min_length_cued or core.startswith(self.public):
            return False
        chars = set(core)
        hexish = chars <= _HEX_CHARS or (
            len(chars - _HEX_CHARS) <= 2
            and sum(map(_HEX_CHARS.__contains__, core)) >= 0.9 * len(core)
        )
        mixed = not (
            chars.isdisjoint(_UPPER) or chars.isdisjoint(_LOWER) or chars.isdisjoint(_DIGITS)
        )
        if not (hexish or mixed) or _HASH_PREFIX.match(core):
            return False
        before = scan.before(start, 40)
        before = before[before.rfind("\n") + 1 :]
        if before.isascii() and self._cues_lower is not None:  # (the same answers, faster)
            low = before.lower()
            if _HASH_BEFORE_LOWER.search(low, max(0, len(low) - 24)):
                return False
            cued = self._cues_lower.search(low) is not None
        else:
            if _HASH_BEFORE.search(before, max(0, len(before) - 24)):
                return False
            cued = bool(self.cues.search(before))
        if hexish and _UUID.fullmatch(core):
            return _CREDENTIAL_WORD.search(before.lower()) is not None
        if hexish:
            return cued
        # A segment of a URL's path (a document id, a tracking link) is not a credential,
        # unless the URL's words say otherwise.
        url = before.rfind("://")
        if url < 0 and "://" in (wider := scan.before(start, 300)):
            before, url = wider, wider.rfind("://")
        if (
            url >= 0
            and _URL_REST.fullmatch(before, url + 3)
            and not _URL_SECRET_WORDS.search(before[max(0, url - 24) :].lower())
        ):
            return False
        if len(core) < (self.min_length_cued if cued else self.min_length):
            return False
        if shannon_entropy(core) < self.ratio * min(math.log2(len(core)), 6.0):
            return False
        return not _wordlike(core)  # an algorithm's name (sha256WithRSAEncryption) is no secret


# Camel case made of words, acronyms and a few numbers: sha256WithRSAEncryption,
# ecdsaWithSHA384, id-aes256-GCM. (findall, then a check that the parts make up the value:
# no backtracking over the ways to split a run of letters.)
_CAMEL_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+|-")
_VOWELS = frozenset("aeiouyAEIOUY")


def _wordlike(value: str) -> bool:
    """Whether `value` is made of camel-case parts that read as words: few of them, at most
    two short numbers, acronyms of two to five capitals, and every lower-case part of three
    letters or more with a vowel."""
    if len(value) > 48:
        return False  # (names are short; long random strings need no closer look)
    parts = _CAMEL_PART.findall(value)
    if len(parts) > max(3, len(value) // 4) or "".join(parts) != value:
        return False
    numbers = 0
    for part in parts:
        if part.isdigit():
            numbers += 1
            if numbers > 2 or len(part) > 4:
                return False
        elif part.isupper():
            if not 2 <= len(part) <= 5:
                return False
        elif part != "-" and (len(part) < 3 or _VOWELS.isdisjoint(part)):
            return False
    return True
