"""Personal-data detectors: email, phone, payment card, IBAN, SSN, NINO, IP and street address."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from .base import Detector, Scan, Span, register
from .policy import Policy


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (payment cards)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


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
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")


def _words(words: tuple[str, ...]) -> re.Pattern[str]:
    body = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) or "(?!)"
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


@register("email")
class EmailDetector(Detector):
    """Email addresses; not SSH remotes (git@host:path) or Message-ID headers."""

    gate = ("@",)
    _PATTERN = re.compile(
        r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
        r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
    )
    _HEADER = re.compile(r"(?i)\s*(?:message-id|in-reply-to|references)\s*:")

    def find(self, scan: Scan) -> Iterator[Span]:
        text = scan.text
        for at in scan.positions("@"):
            start = at
            while start > max(0, at - 64) and text[start - 1] in _LOCAL:
                start -= 1
            while start < at and not text[start].isalnum():
                start += 1
            match = self._PATTERN.match(text, start)
            if match is None or not match.start() < at < match.end():
                continue
            start, end = match.span()
            if re.match(r":[\w.~-]+/", text[end : end + 64]):
                continue  # git@github.com:org/repo.git is a login, not a mailbox
            line_start = text.rfind("\n", 0, start) + 1
            if self._HEADER.match(text, line_start, start):
                continue
            yield start, end, "email"


@register("phone")
class PhoneDetector(Detector):
    """Phone numbers: international (+...), NANP and national trunk-0 formats; others only
    after a cue word."""

    _PATTERN = re.compile(
        r"(?<![\w+/=.#:$€£-])"
        r"(?:\+\d{1,3}(?:[ .-]?\(0\))?[ .-]?\(?\d{1,5}\)?(?:[ .-]?\d{2,5}){1,5}"
        r"|\(\d{2,5}\)[ .-]?\d{2,5}(?:[ .-]?\d{2,5}){0,3}"
        r"|\d{1,5}(?:[ .-]\d{2,6}){1,5}"
        r"|\d{7,15})"
        r"(?![\w/]|[.,:-]\d)"
    )
    _DATE = re.compile(r"(?:19|20)\d\d[-./ ]\d\d?[-./ ]\d\d?|\d\d?[-./ ]\d\d?[-./ ](?:19|20)\d\d")

    def __init__(self, policy: Policy) -> None:
        self.cues = _words(policy.phone_cues)
        self.stops = _words(policy.phone_stop_words)

    def find(self, scan: Scan) -> Iterator[Span]:
        text, size = scan.text, len(scan.text)
        for run_start, run_end, digits in scan.numeric_runs:
            if digits < 7:
                continue
            for match in self._PATTERN.finditer(text, run_start, min(size, run_end + 2)):
                start, end = match.span()
                if self._phone(match.group(), scan.before(start, 30)):
                    yield start, end, "phone"

    def _phone(self, value: str, before: str) -> bool:
        if self._DATE.match(value):
            return False  # a date (with a time after it)
        digits = re.sub(r"\D", "", value.replace("(0)", ""))
        if not 7 <= len(digits) <= 15:
            return False
        cue = max((m.end() for m in self.cues.finditer(before)), default=-1)
        recent = max(0, len(before) - 20)
        stop = max((m.end() for m in self.stops.finditer(before, recent)), default=-1)
        if stop > cue or before.rstrip().endswith("#"):
            return False  # the nearest word says it is an order, ticket, id... number
        cued = cue >= 0
        if value.startswith("+"):
            return len(digits) >= 8
        groups = [len(g) for g in re.findall(r"\d+", value.replace("(0)", ""))]
        if re.fullmatch(r"\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}", value):
            return digits[0] != "0"
        if re.fullmatch(r"(?:1[ .-])?\d{3}([ .-])\d{3}\1\d{4}", value):
            return digits[-10] not in "01"
        if digits[0] == "0" and 10 <= len(digits) <= 11 and len(groups) >= 2:
            return digits[1] != "0"
        return cued and len(digits) >= 7


@register("card")
class CardDetector(Detector):
    """Payment card numbers: 13-19 digits, one kind of separator, a known issuer prefix, Luhn."""

    _PATTERN = re.compile(r"(?<![\d.,-])\d{4}(?:([ -]?)\d{2,6})(?:\1\d{1,6}){0,4}(?![\d-]|[.,]\d)")
    _ISSUER = re.compile(
        r"4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|6(?:011|5|4[4-9]|22)|35(?:2[89]|[3-8]\d)"
        r"|3(?:0[0-5]|[689])|5[06-9]|6[0-9]|62"
    )

    def find(self, scan: Scan) -> Iterator[Span]:
        text, size = scan.text, len(scan.text)
        for run_start, run_end, count in scan.numeric_runs:
            if count < 13:
                continue
            for match in self._PATTERN.finditer(text, run_start, min(size, run_end + 2)):
                digits = re.sub(r"\D", "", match.group())
                if 13 <= len(digits) <= 19 and self._ISSUER.match(digits) and luhn_ok(digits):
                    yield match.start(), match.end(), "card"


@register("iban")
class IbanDetector(Detector):
    """IBANs, printed compact or in groups of four, that pass the country length and mod-97."""

    _PATTERN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,32}")

    def find(self, scan: Scan) -> Iterator[Span]:
        text = scan.text
        for anchor in scan.upper_digits:
            want = IBAN_LENGTHS.get(text[anchor : anchor + 2])
            if want is None or text[anchor + 2] == " ":
                continue
            match = self._PATTERN.match(text, anchor)
            if match is None:
                continue
            count, end = 0, match.start()
            for end in range(match.start(), match.end()):
                count += text[end] != " "
                if count == want:
                    break
            value = text[match.start() : end + 1]
            tail = text[end + 1 : end + 2]
            if count == want and not tail.isalnum() and iban_ok(value):
                yield match.start(), end + 1, "iban"


@register("ssn")
class SsnDetector(Detector):
    """US Social Security numbers (3-2-4 with - or space, SSA validity rules; bare after "SSN")."""

    _PATTERN = re.compile(
        r"(?<![\w-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w-])"
    )
    _BARE = re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4}(?!\d)")
    _CUE = re.compile(r"(?i)\b(?:ssn|social security(?: number)?|social)\b")

    def find(self, scan: Scan) -> Iterator[Span]:
        text, size = scan.text, len(scan.text)
        for run_start, run_end, digits in scan.numeric_runs:
            if digits < 9:
                continue
            end = min(size, run_end + 2)
            for match in self._PATTERN.finditer(text, run_start, end):
                yield match.start(), match.end(), "ssn"
            for match in self._BARE.finditer(text, run_start, end):
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


@register("ip")
class IpDetector(Detector):
    """IPv4 and IPv6 addresses; not versions, OID-like runs, CIDR network addresses or the
    policy's ignored ones."""

    _V4 = re.compile(
        r"(?<![\w.-])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
        r"(?![\w-]|\.\d)"
    )
    _V6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:)?(?![\w:])")
    _VERSION = re.compile(r"(?i)\b(?:v|version|ver|release|rev|revision|build|firmware)\b")

    def __init__(self, policy: Policy) -> None:
        self.ignore = policy.ip_ignore

    def find(self, scan: Scan) -> Iterator[Span]:
        text, size = scan.text, len(scan.text)
        for run_start, run_end, digits in scan.numeric_runs:
            if digits < 4 or "." not in text[run_start:run_end]:
                continue
            for match in self._V4.finditer(text, run_start, min(size, run_end + 2)):
                value = match.group()
                if self._VERSION.search(scan.before(match.start(), 40)):
                    continue
                if self._keep(value, text, match.end(), 32):
                    yield match.start(), match.end(), "ip"
        seen: set[tuple[int, int]] = set()
        for anchor in scan.v6_anchors:
            for match in self._V6.finditer(text, max(0, anchor - 40), min(size, anchor + 45)):
                value = match.group()
                if match.span() in seen or not match.start() <= anchor < match.end():
                    continue
                seen.add(match.span())
                if not any(c.isdigit() for c in value):
                    continue
                try:
                    ipaddress.IPv6Address(value)
                except ValueError:
                    continue
                if self._keep(value, text, match.end(), 128):
                    yield match.start(), match.end(), "ip"

    def _keep(self, value: str, text: str, end: int, bits: int) -> bool:
        if value in self.ignore or value.startswith("127."):
            return False
        if prefix := re.match(r"/(\d{1,3})(?!\d)", text[end : end + 4]):
            try:
                network = ipaddress.ip_network(f"{value}/{prefix.group(1)}", strict=False)
            except ValueError:
                return True
            return str(network.network_address) != str(ipaddress.ip_address(value)) or (
                network.prefixlen == bits
            )
        return True


_SUFFIX = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Close|Crescent|Square|Sq|Parkway|Pkwy|Highway|Hwy|Grove|Gardens|Row|Mews|"
    r"Circle|Cir|Walk|Hill|Quay|Wharf|Broadway|Loop|Plaza|Trail|Alley|Pike"
)
_DE_SUFFIXES = ("straße ", "strasse ", "str. ", "weg ", "platz ", "allee ", "gasse ", "damm ")
_NAME = r"[A-Z][A-Za-z'.-]*"
_CITY = r"[A-Z][A-Za-z'.-]*(?!\w)(?: [A-Z][A-Za-z'.-]*(?!\w)){0,2}"
_UNIT = r"(?:,? (?:Suite|Ste\.?|Apt\.?|Apartment|Unit|Floor|Fl\.?|Flat|#) ?[\w-]+)"
_POSTCODE = r"(?:[A-Z]{2} \d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2})"
# With a postcode (US state + ZIP or UK) when one follows, else the unit and up to two places.
_TAIL = rf"(?:{_UNIT}?(?:, ?{_CITY}){{0,2}},? {_POSTCODE}|{_UNIT}?(?:, ?{_CITY}){{0,2}})"


@register("address")
class AddressDetector(Detector):
    """Street addresses: "<number> <Name> <Street|Road|...>" (US/UK) and "<Name>straße <number>"
    (DE), with a following unit, city, state and ZIP or UK postcode when present."""

    _EN = re.compile(
        rf"(?<![\w.,-])\d{{1,5}}[A-Za-z]?(?:-\d{{1,5}})? (?:{_NAME} ){{1,4}}"
        rf"(?:{_SUFFIX})\b\.?(?: (?:NW|NE|SW|SE|N|S|E|W)\b)?{_TAIL}"
    )
    _DE = re.compile(
        r"\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|platz|allee|gasse|damm)"
        r" \d{1,4}[a-z]?(?:, ?\d{5} [A-ZÄÖÜ][a-zäöüß]+)?"
    )

    anchors = (
        *(s.lower() for s in _SUFFIX.split("|") if len(s) > 3),
        *(f"{s.lower()}{c}" for s in _SUFFIX.split("|") if len(s) <= 3 for c in " ,.\n"),
    )

    def find(self, scan: Scan) -> Iterator[Span]:
        text, size = scan.text, len(scan.text)
        seen: set[tuple[int, int]] = set()
        anchors = scan.anchored(self.anchor_set)
        lower = scan.lower
        for suffix in _DE_SUFFIXES:  # German suffixes end a word: found by substring search
            pos = lower.find(suffix)
            while pos >= 0:
                anchors.append(pos)
                pos = lower.find(suffix, pos + 1)
        for anchor in anchors:
            for pattern in (self._EN, self._DE):
                for match in pattern.finditer(text, max(0, anchor - 80), min(size, anchor + 120)):
                    if not match.start() <= anchor < match.end() or match.span() in seen:
                        continue
                    seen.add(match.span())
                    end = match.end()
                    while end > match.start() and text[end - 1] in ",. ":
                        end -= 1
                    yield match.start(), end, "address"
