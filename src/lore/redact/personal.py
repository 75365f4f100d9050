"""Personal-data detectors: email, phone, payment card, IBAN, SSN, NINO and IP (street
addresses are in `addresses.py`)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import ClassVar

from .base import Detector, Scan, Span, ascii_digits, register
from .phones import any_word as _any_word
from .phones import may_hold as _may_hold
from .phones import national_phone, tracking_number
from .phones import words_lower as _words_lower
from .phones import words_pattern as _words
from .policy import Policy


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (payment cards)."""
    if digits.isascii() and digits.isdigit():  # the same sum, by lookups (in C)
        total = sum(map(_DIGIT_VALUE.__getitem__, digits[-1::-2]))
        return (total + sum(map(_DOUBLED_VALUE.__getitem__, digits[-2::-2]))) % 10 == 0
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


_DIGIT_VALUE = {str(d): d for d in range(10)}
_DOUBLED_VALUE = {str(d): d * 2 - 9 if d > 4 else d * 2 for d in range(10)}


# ISO 13616 lengths per country (SWIFT IBAN registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def iban_ok(iban: str) -> bool:
    """Whether `iban` (spaces allowed) has its country's length and passes the mod-97 check."""
    compact = iban.replace(" ", "").upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    if rearranged.isascii():  # A-Z and 0-9: each letter to its two digits, in one pass
        return int(rearranged.translate(_BASE36)) % 97 == 1
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


_BASE36 = {ord(c): str(int(c, 36)) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


_LOCAL_STR = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-"


@register("email")
class EmailDetector(Detector):
    """Email addresses; not SSH remotes (git@host:path) or Message-ID headers."""

    gate = ("@",)
    _PATTERN = re.compile(
        r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
        r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
    )
    _HEADER = re.compile(r"(?i)\s*(?:message-id|in-reply-to|references)\s*:")
    _MESSAGE_ID = re.compile(r"(?i)(?:message[-_ ]?id|msg[-_]?id|in-reply-to)\s*[:=]\s*<$")

    def find(self, scan: Scan) -> Iterator[Span]:
        text = scan.text
        for at in scan.positions("@"):
            floor = max(0, at - 64)  # back over up to 64 local-part characters (rstrip: in C)
            start = floor + len(text[floor:at].rstrip(_LOCAL_STR))
            while start < at and not text[start].isalnum():
                start += 1
            match = self._PATTERN.match(text, start)
            if match is None or not match.start() < at < match.end():
                continue
            start, end = match.span()
            if _SSH_PATH.match(text, end, end + 64):
                continue  # git@github.com:org/repo.git is a login, not a mailbox
            if _ASSET.search(text, start, end):
                continue  # logo@2x.png is an image at twice the resolution
            line_start = text.rfind("\n", 0, start) + 1
            if self._HEADER.match(text, line_start, start):
                continue
            # (a match ends in "<" right before it, or before a newline right before it)
            if text.find("<", max(0, start - 2), start) >= 0 and self._MESSAGE_ID.search(
                text, max(line_start, start - 30), start
            ):
                continue  # message_id=<a81f2c@mail.example.com> names a message
            yield start, end, "email"


_NON_DIGIT = re.compile(r"\D")
_DIGIT_GROUPS = re.compile(r"\d+")
_NANP_PAREN = re.compile(r"\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}")
_NANP = re.compile(r"(?:1[ .-])?\d{3}([ .-])\d{3}\1\d{4}")
_NANP_LOCAL = re.compile(r"[2-9]\d\d-\d{4}")
# The start of a grouped IBAN (country, check digits, groups of four) right before a number.
_CAPITALS_DIGITS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_IBAN_HEAD = re.compile(r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d\d(?: [A-Z0-9]{4})* $")
_DATE_SEPARATORS = frozenset("-./ ")  # PhoneDetector._DATE's
_SSH_PATH = re.compile(r":[\w.~-]+/")
_ASSET = re.compile(r"@\d(?:\.\d)?x\.(?:png|jpe?g|gif|svg|webp|avif|ico|bmp)$", re.IGNORECASE)
_PREFIX_LEN = re.compile(r"/(\d{1,3})(?!\d)")


@register("phone")
class PhoneDetector(Detector):
    """Phone numbers: international (+...), NANP and national trunk-0 formats; others only
    after a cue word."""

    # Not after [\w+/=.#:$€£-]: each branch checks that after its first character, so that
    # `re` can skip ahead to a +, ( or digit.
    _PATTERN = re.compile(
        r"(?:\+(?<![\w+/=.#:$€£-]\+)\d{1,3}(?:[ .-]?\(0\))?[ .-]?\(?\d{1,5}\)?"
        r"(?:[ .-]?\d{2,5}){1,5}"
        r"|\((?<![\w+/=.#:$€£-]\()\d{2,5}\)[ .-]?\d{2,5}(?:[ .-]?\d{2,5}){0,3}"
        # (an area code and a 7-8 digit subscriber number in one group: 06-12345678)
        r"|\d(?<![\w+/=.#:$€£-]\d)(?:\d{0,4}(?:[ .-]\d{2,6}){1,5}|\d{6,14}|\d{0,4}[ .-]\d{7,8}))"
        # not a prefix of a longer number; a comma is a thousands separator only before
        # exactly three digits (a CSV row goes on with ",2024-02-11")
        r"(?![\w/]|[.:-]\d|,\d{1,3}(?!\d))"
    )
    _DATE = re.compile(r"(?:19|20)\d\d[-./ ]\d\d?[-./ ]\d\d?|\d\d?[-./ ]\d\d?[-./ ](?:19|20)\d\d")
    # (the same, for a batch whose digits are all 0-9: Scan.ascii_digits)
    _PATTERN_ASCII = ascii_digits(_PATTERN)

    def __init__(self, policy: Policy) -> None:
        self.cues = _words(policy.phone_cues)
        self.stops = _words(policy.phone_stop_words)
        self._any_cue = _any_word(policy.phone_cues)
        self._any_stop = _any_word(policy.phone_stop_words)
        stops, cues = _words_lower(policy.phone_stop_words), _words_lower(policy.phone_cues)
        # (stops, cues) for lower-cased ASCII text; None: the words are not all ASCII
        self._lower = (stops, cues) if stops and cues else None

    def find(self, scan: Scan) -> Iterator[Span]:
        text, size = scan.text, len(scan.text)
        pattern = self._PATTERN_ASCII if scan.ascii_digits else self._PATTERN
        search, phone = pattern.search, self._phone
        for run_start, run_end, digits in scan.numeric_runs:
            if digits < 7:
                continue
            # finditer, as a loop of searches (cheaper for the one or two matches of a run)
            stop = min(size, run_end + 6)
            match = search(text, run_start, stop)
            while match is not None:
                start, end = match.span()
                if phone(match.group(), scan, start):
                    yield start, end, "phone"
                match = search(text, end, stop)

    def _phone(self, value: str, scan: Scan, start: int) -> bool:
        seps = _DATE_SEPARATORS  # (a date has one at [4], or at [1] or [2]: else no regex)
        if (value[4:5] in seps or value[1:2] in seps or value[2:3] in seps) and self._DATE.match(
            value
        ):
            return False  # a date (with a time after it)
        bare = value.replace("(0)", "") if "(0)" in value else value
        # _NON_DIGIT.sub("", bare), faster: a match holds digits and only these characters
        # (bytes.translate deletes in C; other bytes of a non-ASCII digit are never these)
        digits = bare.encode().translate(None, b" -.()+").decode()
        if not 7 <= len(digits) <= 15:
            return False
        text = scan.text  # before = scan.before(start, 30), inlined
        floor = start - 30 if start > 30 else 0
        cut = text.rfind("\x00", floor, start)
        before = text[cut + 2 if cut >= 0 else floor : start]
        recent = max(0, len(before) - 20)
        # ASCII text before it: the lower-case patterns on it lower-cased (the same spans).
        lower = self._lower if before.isascii() else None
        if lower is not None:
            stops_lower, cues_lower = lower
            low = before.lower()
            if stops_lower.search(low, recent) is not None:
                stop = max(m.end() for m in stops_lower.finditer(low, recent))
                cue = max((m.end() for m in cues_lower.finditer(low)), default=-1)
                if stop > cue:
                    return False  # the nearest word says it is an order, ticket, id... number
        elif _may_hold(self._any_stop, before[recent:]) and (
            self.stops.search(before, recent) is not None
        ):
            stop = max(m.end() for m in self.stops.finditer(before, recent))
            cue = -1
            if _may_hold(self._any_cue, before):
                cue = max((m.end() for m in self.cues.finditer(before)), default=-1)
            if stop > cue:
                return False  # the nearest word says it is an order, ticket, id... number
        if before.rstrip().endswith("#"):
            return False
        if "1Z" in before and tracking_number(before):
            return False
        if value[0] == "+":
            return len(digits) >= 8
        if before[-2:-1] in _CAPITALS_DIGITS and before[-1] == " " and _IBAN_HEAD.search(before):
            return False  # the rest of an account number (a mistyped IBAN's digit groups)
        # NANP area codes never start with 0 or 1; a NANP shape starting with 0 is a
        # national trunk-0 number (082 447 3915), left to the rule below.
        if _NANP_PAREN.fullmatch(value) and digits[0] != "0":
            return True
        if _NANP.fullmatch(value) and digits[-10] != "0":
            return digits[-10] != "1"
        if digits[0] == "0" and 10 <= len(digits) <= 11 and len(_DIGIT_GROUPS.findall(bare)) >= 2:
            return digits[1] != "0"
        if _NANP_LOCAL.fullmatch(value):
            return True  # NANP local number (555-0100)
        if lower is not None:
            if cues_lower.search(low) is not None:
                return True
        elif _may_hold(self._any_cue, before) and self.cues.search(before) is not None:
            return True
        return national_phone(value, digits, before)


@register("card")
class CardDetector(Detector):
    """Payment card numbers: 13-19 digits, one kind of separator, a known issuer prefix, Luhn."""

    # Not after a digit, point or dash; after a comma only when grouped (a CSV field, not
    # a thousands separator).
    _PATTERN = re.compile(
        r"(?<![\d.-])(?:(?<!,)|(?=\d{4}[ -]\d))\d{4}(?:([ -]?)\d{2,6})(?:\1\d{1,6}){0,4}"
        r"(?![\d-]|[.,]\d)"
    )
    _ISSUER = re.compile(
        r"4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|6(?:011|5|4[4-9]|22)|35(?:2[89]|[3-8]\d)"
        r"|3(?:0[0-5]|[689])|5[06-9]|6[0-9]|62"
    )
    _PATTERN_ASCII = ascii_digits(_PATTERN)  # (for Scan.ascii_digits)

    def find(self, scan: Scan) -> Iterator[Span]:
        text, size = scan.text, len(scan.text)
        pattern = self._PATTERN_ASCII if scan.ascii_digits else self._PATTERN
        search, issuer = pattern.search, self._ISSUER.match
        for run_start, run_end, count in scan.numeric_runs:
            if count < 13:
                continue
            stop = min(size, run_end + 2)
            match = search(text, run_start, stop)
            while match is not None:  # (finditer, as a loop of searches)
                # _NON_DIGIT.sub("", ...), faster: a match holds digits, spaces and dashes
                digits = match.group().replace(" ", "").replace("-", "")
                if 13 <= len(digits) <= 19 and issuer(digits) and luhn_ok(digits):
                    yield match.start(), match.end(), "card"
                match = search(text, match.end(), stop)


@register("iban")
class IbanDetector(Detector):
    """IBANs, printed compact or in groups of four, that pass the country length and mod-97."""

    # Per length: the country code, check digits and exactly length - 4 more characters, each
    # after an optional space (an IBAN is followed by no letter or digit; checked in find).
    _EXACT: ClassVar[dict[int, re.Pattern[str]]] = {
        n: re.compile(rf"(?<![A-Za-z0-9])[A-Z]{{2}}\d{{2}}(?: ?[A-Z0-9]){{{n - 4}}}")
        for n in set(IBAN_LENGTHS.values())
    }

    def find(self, scan: Scan) -> Iterator[Span]:
        text = scan.text
        for anchor in scan.upper_digits:
            want = IBAN_LENGTHS.get(text[anchor : anchor + 2])
            if want is None or text[anchor + 2] == " ":
                continue
            match = self._EXACT[want].match(text, anchor)
            if match is None:
                continue
            end = match.end()
            if not text[end : end + 1].isalnum() and iban_ok(match.group()):
                yield anchor, end, "iban"


@register("ssn")
class SsnDetector(Detector):
    """US Social Security numbers (3-2-4 with - or space, SSA validity rules; bare after "SSN"
    or in a CSV column headed so)."""

    _PATTERN = re.compile(
        r"(?<![\w-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w-])"
    )
    _BARE = re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4}(?!\d)")
    _CUE = re.compile(r"(?i)\b(?:ssn|social security(?: number)?|social)\b")
    _PATTERN_ASCII = ascii_digits(_PATTERN)  # (for Scan.ascii_digits)
    _BARE_ASCII = ascii_digits(_BARE)

    def find(self, scan: Scan) -> Iterator[Span]:
        text, size = scan.text, len(scan.text)
        runs = scan.numeric_runs
        flagged = scan.runs_with("ssn")  # (runs without an SSN shape are skipped)
        ascii = scan.ascii_digits
        grouped = (self._PATTERN_ASCII if ascii else self._PATTERN).finditer
        bare = (self._BARE_ASCII if ascii else self._BARE).finditer
        for index in range(len(runs)) if flagged is None else sorted(flagged):
            run_start, run_end, digits = runs[index]
            if digits < 9:
                continue
            end = min(size, run_end + 2)
            for match in grouped(text, run_start, end):
                yield match.start(), match.end(), "ssn"
            for match in bare(text, run_start, end):
                if self._CUE.search(scan.before(match.start(), 30)):
                    yield match.start(), match.end(), "ssn"


@register("nino")
class NinoDetector(Detector):
    """UK National Insurance numbers (HMRC prefix rules, suffix A-D), compact or spaced."""

    _PATTERN = re.compile(
        r"(?<![A-Za-z0-9])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
        r"(?: ?\d{2}){3} ?[A-D](?![A-Za-z0-9])"
    )

    def find(self, scan: Scan) -> Iterator[Span]:
        for anchor in scan.upper_digits:
            if match := self._PATTERN.match(scan.text, anchor):
                yield match.start(), match.end(), "nino"


# A dotted quad pinned to a package (sdk==2.8.0.1, sdk-2.8.0.1, 2.8.0.1-py3) is a version; so
# is a small one (major and last part under 10) going "to" it after an x.y.z version on its
# line ("urllib3 to 2.2.3, protobuf to 5.28.3.0"). Not after @ (ssh user@10.0.0.7), nor after a
# name or words about addresses (ip.src==10.0.0.5, "moved DNS to 8.8.8.8").
_PINNED_BEFORE = re.compile(r"([A-Za-z][\w.-]*)(?:==|~=|>=|<=|!=)\Z")
_PACKAGE_BEFORE = re.compile(r"[A-Za-z][\w.]*[-_]\Z")
_SUFFIX_AFTER = re.compile(r"[-+][A-Za-z]")
# What `before` must end with for _PINNED_BEFORE / _PACKAGE_BEFORE to match (tested first:
# str.endswith is much cheaper than those searches, which try every letter), and what must
# come after a value for _SUFFIX_AFTER.
_PIN_OPERATORS = ("==", "~=", ">=", "<=", "!=")
_PACKAGE_ENDS = ("-", "_")
_SUFFIX_STARTS = ("-", "+")
_TRIPLE = re.compile(r"(?<![\d.])\d+\.\d+\.\d+(?![\d.])")
_MOVED_TO = ("to ", "→ ", "-> ")
_ADDRESS_WORDS = re.compile(
    r"(?i)(?<![a-z])(?:ip|ips|addr|address|host|src|dst|source|dest|destination|peer|server"
    r"|client|remote|gateway|dns|resolver|nameserver|proxy|route|subnet|net)(?![a-z])"
)


def _package_version(text: str, start: int, end: int, value: str) -> bool:
    before = text[max(0, start - 30) : start]
    if before.endswith(_PIN_OPERATORS) and (pinned := _PINNED_BEFORE.search(before)):
        return not _ADDRESS_WORDS.search(pinned.group(1))
    if text.startswith(_SUFFIX_STARTS, end) and _SUFFIX_AFTER.match(text, end):
        return True
    if before.endswith(_PACKAGE_ENDS) and _PACKAGE_BEFORE.search(before[-20:]):
        return True
    if before.endswith(_MOVED_TO) and (  # (a small one)
        len(value.split(".", 1)[0]) == 1 and len(value.rsplit(".", 1)[1]) == 1
    ):
        line = before[before.rfind("\n") + 1 :]
        triples = list(_TRIPLE.finditer(line))
        return bool(triples) and not _ADDRESS_WORDS.search(line, triples[-1].end())
    return False


@register("ip")
class IpDetector(Detector):
    """IPv4 and IPv6 addresses; not versions, OID-like runs, CIDR network addresses or the
    policy's ignored ones."""

    # Not after [\w.-], checked after the first digit (so that `re` can skip to digits).
    _V4 = re.compile(
        r"(?:2(?<![\w.-]2)(?:5[0-5]|[0-4]\d)|1(?<![\w.-]1)\d\d|[1-9](?<![\w.-][1-9])\d"
        r"|\d(?<![\w.-]\d))\."
        r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){2}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
        r"(?![\w-]|\.\d)"
    )
    _V4_ASCII = ascii_digits(_V4)  # (for Scan.ascii_digits)
    # Not ending in one colon, and not followed by a word character or by a colon that goes
    # on ("from 2001:db8::1: icmp_seq=1" holds an address).
    _V6 = re.compile(
        r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:)?"
        r"(?<![0-9A-Fa-f]:)(?!\w|:[\w:])"
    )
    # ("v" only right before the number: "<v Name>" opens a WebVTT speaker's cue.)
    _VERSION = re.compile(
        r"(?i)\bv ?$|\b(?:versions?|ver|releases?|released|rev|revision|builds?|firmware"
        r"|hotfix(?:es)?|changelog|bump(?:s|ed|ing)?)\b"
    )
    # The same on lower-cased ASCII text, without IGNORECASE: the same answer there, faster.
    _VERSION_LOWER = re.compile(_VERSION.pattern.removeprefix("(?i)"))
    # A dotted quad this close after a version is one too ("api 1.2.3.4, web 1.2.3.5").
    _LIST_GAP = 30

    def __init__(self, policy: Policy) -> None:
        self.ignore = policy.ip_ignore

    def find(self, scan: Scan) -> Iterator[Span]:
        text, size = scan.text, len(scan.text)
        version_end = -1_000
        search = (self._V4_ASCII if scan.ascii_digits else self._V4).search
        runs = scan.numeric_runs
        flagged = scan.runs_with("ipv4")  # (runs without a dotted quad are skipped)
        for index in range(len(runs)) if flagged is None else sorted(flagged):
            run_start, run_end, digits = runs[index]
            if digits < 4 or text.find(".", run_start, run_end) < 0:
                continue
            stop = min(size, run_end + 2)
            match = search(text, run_start, stop)
            while match is not None:  # (finditer, as a loop of searches)
                value = match.group()
                start, end = match.span()
                match = search(text, end, stop)  # (the next one: `continue` below)
                # In a Markdown table, its column's header or its cell says (not the cells
                # before it); else the words before it.
                line = text.rfind("\n", 0, start) + 1
                header = None
                if text.find("|", line, start) >= 0:
                    header = self._column_header(text, line, start)
                if header is not None:
                    cell = text[text.rfind("|", 0, start) + 1 : start]
                    version = self._version(header) or self._version(cell)
                else:
                    version = (
                        0 <= start - version_end <= self._LIST_GAP
                        and not any(c in "\n\x00" for c in text[version_end:start])
                    ) or self._version(scan.before(start, 40))
                if version or _package_version(text, start, end, value):
                    version_end = end
                    continue
                if self._keep(value, text, end, 32):
                    yield start, end, "ip"
        seen: set[tuple[int, int]] = set()
        for anchor in scan.v6_anchors:
            for match in self._V6.finditer(text, *self._v6_window(text, anchor)):
                if match.start() > anchor:
                    break  # (and so do all after it: none holds the anchor)
                value = match.group()
                if match.span() in seen or anchor >= match.end():
                    continue
                seen.add(match.span())
                if not any(c.isdigit() for c in value):
                    continue
                if ("::" in value and value.count("::") > 1) or (
                    "::" not in value and value.count(":") != 7
                ):
                    continue  # IPv6Address() would refuse it; this is cheaper
                number = v6_int(value)
                if number is None:
                    continue  # IPv6Address() refuses it
                if self._keep(value, text, match.end(), 128, number):
                    yield match.start(), match.end(), "ip"

    @staticmethod
    def _v6_window(text: str, anchor: int) -> tuple[int, int]:
        """Where to look for an IPv6 address holding `anchor`: anchor - 40 to anchor + 45,
        cut down to the run of hex digits and colons around it (and the two characters after
        it that the look-ahead reads), since a match holds nothing else: the same matches."""
        low, high = max(0, anchor - 40), min(len(text), anchor + 45)
        head, tail = text[low:anchor], text[anchor:high]
        low += len(head.rstrip(_HEX_COLON))
        return low, min(high, anchor + len(tail) - len(tail.lstrip(_HEX_COLON)) + 2)

    def _version(self, before: str) -> bool:
        """Whether a version word (_VERSION) is in `before`."""
        if before.isascii():
            low = before.lower()
            # (every match holds one of these, or ends in a "v": most texts before an address
            # hold none)
            if not (low.endswith(_V_ENDS) or any(map(low.__contains__, _VERSION_PARTS))):
                return False
            return self._VERSION_LOWER.search(low) is not None
        return self._VERSION.search(before) is not None

    @staticmethod
    def _column_header(text: str, line_start: int, start: int) -> str | None:
        """The header of the column `start` (on the line from `line_start`) is in, when it is
        in a Markdown table's body (| Device | Firmware | over | RTM-1 | 5.4.2.118 |), else
        None."""
        column = text.count("|", line_start, start)
        if not column:
            return None
        position = line_start
        for _ in range(_TABLE_ROWS):  # up over the rows to the |---| line under the header
            if position < 2:
                return None
            above = text.rfind("\n", 0, position - 1) + 1
            line = text[above : position - 1]
            if "|" not in line or "\x00" in line:
                return None  # not a table row (or the end of the text before, in a batch)
            if _TABLE_RULE.match(line):
                if above < 2:
                    return None
                header = text[text.rfind("\n", 0, above - 1) + 1 : above - 1]
                cells = header.split("|")
                if "\x00" in header or column >= len(cells):
                    return None
                return cells[column]
            position = above
        return None

    def _keep(self, value: str, text: str, end: int, bits: int, number: int = -1) -> bool:
        """`number`: the IPv6 address `value` as an integer, when bits is 128."""
        if value in self.ignore or value.startswith("127."):
            return False
        if text.startswith("/", end) and (prefix := _PREFIX_LEN.match(text, end, end + 4)):
            length = prefix.group(1)
            if bits == 32 and length.isascii():  # ipaddress, in integers
                size = int(length)
                if size > 32:
                    return True
                a, b, c, d = map(int, value.split("."))
                host = ((a << 24) | (b << 16) | (c << 8) | d) & ((1 << (32 - size)) - 1)
                return host != 0 or size == 32
            if bits == 128 and number >= 0 and length.isascii():  # the same, for IPv6
                size = int(length)
                if size > 128:
                    return True
                return number & ((1 << (128 - size)) - 1) != 0 or size == 128
            try:
                network = ipaddress.ip_network(f"{value}/{prefix.group(1)}", strict=False)
            except ValueError:
                return True
            return str(network.network_address) != str(ipaddress.ip_address(value)) or (
                network.prefixlen == bits
            )
        return True


# Substrings one of which every _VERSION_LOWER match holds, but for "v ?$", which ends the
# text in one of _V_ENDS ($: at the end or before a newline there).
_VERSION_PARTS = ("ver", "rev", "release", "build", "firmware", "hotfix", "changelog", "bump")
_V_ENDS = ("v", "v ", "v\n", "v \n")
_TABLE_ROWS = 100  # how far up a table's rows _column_header looks for its header
_TABLE_RULE = re.compile(r"[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*$")


_HEXTET = frozenset("0123456789abcdefABCDEF")
_HEX_COLON = "0123456789abcdefABCDEF:"


def v6_int(value: str) -> int | None:
    """`value` (hex digits and colons only) as ipaddress.IPv6Address reads it, as an integer,
    or None where IPv6Address raises; the same rules as its parser, without its overhead."""
    parts = value.split(":")
    if not 3 <= len(parts) <= 9:
        return None
    skip = None
    for index in range(1, len(parts) - 1):
        if not parts[index]:
            if skip is not None:
                return None  # a second '::'
            skip = index
    if skip is not None:
        high, low = skip, len(parts) - skip - 1
        if not parts[0]:
            high -= 1
            if high:
                return None  # a leading ':' needs '::'
        if not parts[-1]:
            low -= 1
            if low:
                return None  # a trailing ':' needs '::'
        skipped = 8 - (high + low)
        if skipped < 1:
            return None
    else:
        if len(parts) != 8 or not parts[0] or not parts[-1]:
            return None
        high, low, skipped = 8, 0, 0
    number = 0
    for part in [*parts[:high], *(["0"] * skipped), *parts[len(parts) - low :]]:
        if len(part) > 4 or not _HEXTET.issuperset(part):
            return None
        number = (number << 16) | int(part, 16)
    return number
