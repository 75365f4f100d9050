"""More street-address forms: Iberian and Latin-American street types ("Rua Augusta 1508,
apto 12, São Paulo, SP, 01304-001"), Japanese block numbers ("1-9-1 Marunouchi, Chiyoda-ku,
Tokyo 100-0005"), and any "<number> <Name>..., <City> <postcode>" before a British, US,
Canadian or Australian postcode, where no street suffix says it is a street."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .base import Detector, Scan, Span, register

_WORD = r"[A-ZÀ-ÖØ-Þ][^\W\d_]*(?:['’.-][^\W\d_]+)*\.?"  # Freire, São, Crédito, Bela-Vista
_PARTICLE = r"(?:de|do|da|dos|das|del|la|las|los|el|y|e|di)"
# (ASCII only: anchor literals must be, for the shared keyword pass to stay fast; so "Praça"
# is found as "Praca" only.)
_TYPES = (
    "rua", "avenida", "av.", "avda.", "calle", "carrera", "cra.", "calzada", "paseo", "praca",
    "travessa", "alameda", "rambla", "camino", "estrada", "rodovia",
)
_TYPE = "|".join(f"[{t[0]}{t[0].upper()}]{re.escape(t[1:])}" for t in _TYPES)
_UNIT = r"(?:apto|apt|piso|dpto|depto|sala|andar|int|interior|bloco|casa|loja|of)\.? ?[\w-]+"
_PLACE = rf"(?:(?:{_PARTICLE} )?{_WORD}(?: (?:{_PARTICLE} )?{_WORD}){{0,3}}|[A-Z]{{2}})"
_IBERIAN = re.compile(
    rf"(?:{_TYPE})(?: (?:{_PARTICLE} )*{_WORD}){{1,6}},? (?:n[º°o]\.? ?|#|No\. ?)?\d{{1,5}}"
    rf"[A-Za-z]?(?:, ?{_UNIT})?(?:, ?{_PLACE}){{0,4}}"
    r"(?:,? (?:C\.?P\.? ?)?\d{5}(?:-\d{3})?|,? \d{4}-\d{3})?"
)
# 1-9-1 Marunouchi, Chiyoda-ku, Tokyo 100-0005: block numbers, district, ward, city (and
# prefecture), postcode.
_JAPANESE = re.compile(
    r"\d{1,2}-\d{1,2}(?:-\d{1,3}){0,2} [A-Z][a-z]+(?:-[A-Za-z][a-z]+)*,"
    r" [A-Z][a-z]+-(?:ku|shi|cho|machi|gun)(?:, [A-Z][a-z]+(?:-[a-z]+)?){0,2}(?:,? \d{3}-\d{4})?"
)
_WARD = ("ku,", "shi,", "cho,", "machi,", "gun,")
# Malaysia: "12 Jalan Sultan Ahmad Shah, 10050", "Plot 88, Lorong Perusahaan Maju 8, ..., 14000":
# a house, plot or lot number, the street type, its name, places, a five-digit postcode.
_MALAY_TYPES = ("jalan", "lorong", "persiaran", "lebuh")
_MALAY = re.compile(
    r"(?:(?:No\.|Plot|Lot) )?\d{1,5}[A-Za-z]?,? (?:Jalan|Lorong|Persiaran|Lebuh)"
    rf"(?: {_WORD}){{1,5}}(?: \d{{1,3}})?(?:, {_WORD}(?: {_WORD}){{0,4}}){{0,3}},? \d{{5}}(?!\d)"
)
# Singapore: "8 Marina View, #31-04, Singapore 018960".
_SINGAPORE = re.compile(
    rf"\d{{1,4}}[A-Za-z]? (?:{_WORD} ){{1,4}}?{_WORD},(?: #\d{{1,3}}-\d{{1,4}},)?"
    r" Singapore \d{6}(?!\d)"
)
_US_STATES = frozenset((
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ",
    "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT",
    "VA", "WA", "WV", "WI", "WY", "DC",
))
_PROVINCES = frozenset((  # Canada
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
))
_AU_STATES = frozenset(("NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"))
# Candidates, one pass: British (SE1 2RE, EC3R 6AF), or a state or province code and a US ZIP,
# an Australian postcode or a Canadian one, checked in `_postcode_ok`. The look-behind comes
# after the first character, so that `re` can skip to capitals.
_POSTCODE = re.compile(
    r"[A-Z](?<![\w-][A-Z])(?:[A-Z]?\d[A-Z\d]? \d[A-Z]{2}"
    r"|([A-Z]{1,2}) (?:(\d{5})(?:-\d{4})?|(\d{4})|([A-Z]\d[A-Z] ?\d[A-Z]\d)))(?![\w-])"
)


def _postcode_ok(match: re.Match[str]) -> bool:
    if match.group(1) is None:
        return True  # British
    code = match.group()[0] + match.group(1)
    if match.group(2) is not None:
        return code in _US_STATES
    if match.group(3) is not None:
        return code in _AU_STATES
    return code in _PROVINCES


# Back from a postcode: a house number, up to six words of the street, then up to three parts
# (a unit, a district, a city), each after a comma, ending right before the postcode.
# (The look-behind comes after the first digit, so that `re` can skip to digits.)
_BEFORE_POSTCODE = re.compile(
    rf"\d(?<![\w.,-]\d)\d{{0,4}}[A-Za-z]?(?:[-/]\d{{1,5}})?,? (?:{_WORD}|of|the|and|&)"
    rf"(?: (?:{_WORD}|of|the|and|&)){{0,5}}"
    rf"(?:, ?(?:(?:Suite|Unit|Apt\.?|Flat|Floor|Level) [\w-]+|{_WORD}(?: {_WORD}){{0,2}})){{0,3}}"
    r",? \Z"
)


@register("address")
class PostalAddressDetector(Detector):
    """Addresses in forms AddressDetector and PostcodeAddressDetector do not know (see the
    module's docstring). Runs with them, under the same policy name."""

    anchors = (
        *(t if len(t) > 3 else f"{t} " for t in _TYPES), *_WARD, *_MALAY_TYPES, "singapore "
    )

    def find(self, scan: Scan) -> Iterator[Span]:
        text = scan.text
        for anchor in scan.anchored(self.anchor_set):
            word = text[anchor : anchor + 10].lower()
            if word.startswith(_MALAY_TYPES) or word.startswith("singapore "):
                # (back from the street type, or the city, to the house number)
                pattern = _SINGAPORE if word.startswith("singapore") else _MALAY
                low = max(0, anchor - (80 if pattern is _SINGAPORE else 16))
                for match in pattern.finditer(text, low, min(len(text), anchor + 160)):
                    if match.start() <= anchor < match.end():
                        yield match.start(), match.end(), "address"
                        break
            elif text[anchor - 1 : anchor] == "-":  # a Japanese ward: back to the block number
                low = max(0, anchor - 60)
                for match in _JAPANESE.finditer(text, low, min(len(text), anchor + 40)):
                    if match.start() < anchor < match.end():
                        yield match.start(), match.end(), "address"
                        break
            elif not (anchor and text[anchor - 1].isalnum()):
                street = _IBERIAN.match(text, anchor)
                if street is not None:
                    yield street.start(), street.end(), "address"
        for postcode in self._postcodes(scan):
            if _postcode_ok(postcode):
                low = max(0, postcode.start() - 110)
                before = _BEFORE_POSTCODE.search(text, low, postcode.start())
                if before is not None:
                    yield before.start(), postcode.end(), "address"

    @staticmethod
    def _postcodes(scan: Scan) -> Iterator[re.Match[str]]:
        """_POSTCODE's matches in the text, found from the prefilter's shapes when it ran."""
        return scan.shape_matches("postcode", _POSTCODE, _postcode_at)


def _postcode_at(text: str, end: int, last: int) -> re.Match[str] | None:
    """The postcode whose shape ends at `end`: a shape ends 3 characters after a postcode's
    space, 8-10 after it starts (room after it, so the look-ahead sees what follows as
    without the prefilter)."""
    match = _POSTCODE.search(text, max(last, end - 12), min(len(text), end + 16))
    return match if match is not None and match.start() >= last else None

