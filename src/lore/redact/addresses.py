"""Street-address detectors: US/UK and German forms, and postcode-anchored French, Italian
and Dutch forms."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from itertools import chain

from .base import Detector, Scan, Span, ascii_digits, register
from .policy import Policy

_SUFFIX = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Close|Crescent|Square|Sq|Parkway|Pkwy|Highway|Hwy|Grove|Gardens|Row|Mews|"
    r"Circle|Cir|Walk|Hill|Quay|Wharf|Broadway|Loop|Plaza|Trail|Alley|Pike"
)
_NAME = r"(?:[A-Z][A-Za-z'.-]*|\d{1,3}(?:st|nd|rd|th))"  # Baker, 6th
_CITY = r"[A-Z][A-Za-z'.-]*(?!\w)(?: [A-Z][A-Za-z'.-]*(?!\w)){0,2}"
_UNIT = r"(?:,? (?:Suite|Ste\.?|Apt\.?|Apartment|Unit|Floor|Fl\.?|Flat|#) ?[\w-]+)"
_POSTCODE = r"(?:[A-Z]{2} \d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2})"
# With a postcode (US state + ZIP or UK) when one follows, else the unit and up to two places.
_TAIL = rf"(?:{_UNIT}?(?:, ?{_CITY}){{0,2}},? {_POSTCODE}|{_UNIT}?(?:, ?{_CITY}){{0,2}})"


# Where an _EN match can start: its first character and the look-behind after it.
_EN_START = re.compile(r"\d(?<![\w.,-]\d)")
# The same where every digit is 0-9 (Scan.ascii_digits): a plain set, which `re` skips to faster.
_EN_START_ASCII = re.compile(r"[0-9](?<![\w.,-][0-9])")


@register("address")
class AddressDetector(Detector):
    """Street addresses: "<number> <Name> <Street|Road|...>" (US/UK) and "<Name>straße <number>"
    (DE), with a following unit, city, state and ZIP or UK postcode when present."""

    # Look-behinds come after the first character, so that `re` can skip to candidates.
    _EN = re.compile(
        rf"\d(?<![\w.,-]\d)\d{{0,4}}[A-Za-z]?(?:-\d{{1,5}})? (?:{_NAME} ){{1,4}}"
        rf"(?:{_SUFFIX})\b\.?(?: (?:NW|NE|SW|SE|N|S|E|W)\b)?{_TAIL}"
    )
    _EN_ASCII = ascii_digits(_EN)  # (for Scan.ascii_digits)
    # Hyphenated names too: Karl-Marx-Allee, Graf-Adolf-Straße.
    _DE = re.compile(
        r"[A-ZÄÖÜ](?<![\w-][A-ZÄÖÜ])[a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)*"
        r"(?:straße|strasse|str\.|weg|platz|allee|gasse|damm"
        r"|-(?:Straße|Strasse|Str\.|Weg|Platz|Allee|Gasse|Damm))"
        r" \d{1,4}[a-z]?(?:, ?\d{5} [A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)*)?"
    )

    anchors = (
        *(s.lower() for s in _SUFFIX.split("|") if len(s) > 3),
        *(f"{s.lower()}{c}" for s in _SUFFIX.split("|") if len(s) <= 3 for c in " ,.\n"),
    )

    def find(self, scan: Scan) -> Iterator[Span]:
        text, size = scan.text, len(scan.text)
        seen: set[tuple[int, int]] = set()
        # German suffixes end a word: found anywhere (no two occurrences can overlap)
        german = scan.german
        anchors = scan.anchored(self.anchor_set) + german  # (a new list: that one is shared)
        ascii = scan.ascii_digits
        starts = _EN_START_ASCII if ascii else _EN_START
        english = self._EN_ASCII if ascii else self._EN
        for anchor in anchors:
            low, high = max(0, anchor - 80), min(size, anchor + 120)
            matches = self._english(text, low, high, anchor, starts, english)
            # A German match holds a suffix (one of `german`) inside the window: else skip it.
            index = bisect_left(german, low)
            if index < len(german) and german[index] < high:
                matches = chain(matches, self._DE.finditer(text, low, high))
            for match in matches:
                if match.start() > anchor:
                    break  # (and so do all after it: none holds the anchor; _DE comes last)
                if anchor >= match.end() or match.span() in seen:
                    continue
                seen.add(match.span())
                end = match.end()
                while end > match.start() and text[end - 1] in ",. ":
                    end -= 1
                yield match.start(), end, "address"

    def _english(
        self,
        text: str,
        low: int,
        high: int,
        anchor: int,
        starts: re.Pattern[str] = _EN_START,
        english: re.Pattern[str] | None = None,
    ) -> Iterator[re.Match[str]]:
        """What _EN.finditer(text, low, high) finds, up to the first match that starts after
        `anchor`: tried only where a match can start (_EN_START) up to the anchor, not at every
        position of the window."""
        cursor = low
        match = (english or self._EN).match
        for candidate in starts.finditer(text, low, anchor + 1):
            start = candidate.start()
            if start >= cursor and (found := match(text, start, high)) is not None:
                yield found
                cursor = found.end()


# French and Italian: a street type starting the street name, words of the name (capitalised,
# or the lower-case particles between them), and a five-digit postcode with its city, which
# is required (a street type alone is too common a word). Dutch: a one-word street name
# ending in a street suffix, and an NNNN AA postcode with its city, required as well.
_WORD = r"[A-ZÀ-ÖØ-Þ][^\W\d_]*(?:['’-][^\W\d_]+)*"  # Saint-Antoine, Champs-Élysées
_FR_TYPES = ("rue", "avenue", "boulevard", "bd", "place", "chemin", "quai", "impasse", "cours")
_IT_TYPES = ("via", "viale", "piazza", "piazzale", "corso", "largo", "vicolo")
_FR_PARTICLE = r"(?:de|du|des|la|le|les|aux|au|sur|en|et|à)"
_IT_PARTICLE = r"(?:di|del|della|dei|degli|delle|dello|da|dal|dalla|de|in)"
_DUTCH = ("straat", "gracht", "weg", "laan", "plein", "kade", "singel", "dijk")


def _any_case_initial(words: tuple[str, ...]) -> str:
    """An alternation of `words` (lower case), each also with a capital first letter."""
    return "|".join(f"[{w[0]}{w[0].upper()}]{w[1:]}" for w in words)


def _word_anchors(words: tuple[str, ...]) -> tuple[str, ...]:
    """Anchor literals for street-type words (short ones with the space after them)."""
    return tuple(w if len(w) > 3 else f"{w} " for w in words)


@register("address")
class PostcodeAddressDetector(Detector):
    """Street addresses written with their postcode and city: "<number> rue <name>, <NNNNN>
    <City>" (FR), "Via <name> <number>, <NNNNN> <City>" (IT), "<Name>gracht <number>, <NNNN
    AA> <City>" (NL). Runs with AddressDetector, under the same policy name."""

    # The house number before a French street type ("27 ", "27 bis ", "27, "), up to it.
    _FR_NUMBER = re.compile(r"\d(?<![\w.,-]\d)\d{0,3}(?: ?(?:bis|ter|[A-Da-d]))?,? $")
    _FR = re.compile(
        rf"\d{{1,4}}(?: ?(?:bis|ter|[A-Da-d]))?,? (?:{_any_case_initial(_FR_TYPES)})"
        rf"(?: (?:{_FR_PARTICLE} )*(?:[dlDL]['’])?{_WORD}){{1,5}},? \d{{5}} {_WORD}"
    )
    _IT = re.compile(
        rf"(?:{_any_case_initial(_IT_TYPES)})"
        rf"(?: (?:{_IT_PARTICLE} )*(?:[dD]['’])?{_WORD}){{1,5}},? \d{{1,4}}[A-Za-z]?"
        rf"(?:/[A-Za-z0-9]{{1,3}})?,? \d{{5}} {_WORD}(?: \([A-Z]{{2}}\))?"
    )
    # Postcode: four digits (the first not 0), two letters other than SA, SD and SS.
    _NL = re.compile(
        rf"[A-Z][a-z]+(?:{'|'.join(_DUTCH)}) \d{{1,4}}(?: ?[a-zA-Z]\b|-\d{{1,4}})?,"
        r" ?[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2} [A-Z][a-z]+(?:-[A-Za-z][a-z]+)*"
    )
    _FRENCH_ANCHORS = _word_anchors(_FR_TYPES)
    _ITALIAN_ANCHORS = _word_anchors(_IT_TYPES)
    anchors = (*_FRENCH_ANCHORS, *_ITALIAN_ANCHORS)

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self.french = frozenset(self._FRENCH_ANCHORS)
        self.italian = frozenset(self._ITALIAN_ANCHORS)

    def find(self, scan: Scan) -> Iterator[Span]:
        text = scan.text
        seen: set[tuple[int, int]] = set()
        for anchor in scan.anchored(self.french):  # from the house number before the type
            if text[anchor - 1 : anchor] != " ":
                continue
            number = self._FR_NUMBER.search(text, max(0, anchor - 10), anchor)
            match = self._FR.match(text, number.start()) if number else None
            if match and match.span() not in seen:
                seen.add(match.span())
                yield match.start(), match.end(), "address"
        for anchor in scan.anchored(self.italian):
            if anchor and text[anchor - 1].isalnum():
                continue  # (a digit before it: "3via")
            match = self._IT.match(text, anchor)
            if match and match.span() not in seen:
                seen.add(match.span())
                yield match.start(), match.end(), "address"
        # Dutch suffixes are among the German ones (Scan.german): the street name is the
        # word that ends in one.
        for suffix in scan.german:
            floor = max(0, suffix - 40)
            word = floor + len(text[floor:suffix].rstrip(_LETTERS))
            if word < suffix and not (word and text[word - 1] in _NOT_BEFORE_NL):
                match = self._NL.match(text, word)
                if match and match.span() not in seen:
                    seen.add(match.span())
                    yield match.start(), match.end(), "address"


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NOT_BEFORE_NL = frozenset("0123456789_-" + _LETTERS)
