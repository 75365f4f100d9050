"""Street addresses written before a postcode with no street-type word to anchor them:
continental European "<Street name> <number>[, <unit>], <postcode> <City>" (DE, AT, CH, the
Nordic countries, NL, BE, PL: "Am Kaiserkai 12, 20457 Hamburg", "Drottninggatan 8 A, 111 51
Stockholm", "ul. Piękna 7/2, 00-549 Warszawa"), where the span ends with the postcode, and
Indian addresses ending in a six-digit PIN ("14 Park Road, Adyar, Chennai 600020").

Candidates come from one cheap pass for ", " before a postcode and a capitalised word (a
literal prefix `re` skips to); the street is then matched back from the postcode."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .base import Detector, Scan, Span, register

_CAP = "A-ZÀ-ÖØ-ÞĀ-Ž"  # (Latin capitals, with Central European ones: Ł, Ś, Ż)
_WORD = rf"[{_CAP}][^\W\d_]*(?:['’.-][^\W\d_]+)*"  # Nørregade, Kattendijkdok-Westkaai
# A postcode (5 or 4 digits, "NNN NN", "NN-NNN") and a capitalised word after it (the
# city), or a capitalised place and an Indian PIN; each after ", ".
_CANDIDATE = re.compile(
    rf", (?:(\d{{4,5}}|\d{{3}} \d{{2}}|\d{{2}}-\d{{3}}) ([{_CAP}][^\W\d_]*)(?![\w-])"
    r"|((?:[A-Z][a-z]+ ){1,2})[1-9]\d{5}(?![\w-]))"
)
# Lower-case words inside a street name: Nordic street types written apart ("Karl Johans
# gate") and the particles of German, Dutch and French names.
_LOWER = (
    r"(?:gate|gata|gatan|vei|veien|veg|vegen|vej|väg|vägen|gade|allé|plass|plads|torg|torget"
    r"|tie|katu|kuja|am|an|der|den|dem|de|van|von|la|le|du|des|del)"
)
_NUMBER = (
    r"\d{1,4}[A-Za-z]?(?:[-–/]\d{1,4}[A-Za-z]?)?"  # 44, 12a, 94-96, 44/3
    r"(?: [A-H](?: \d{1,3})?)?"  # a staircase and flat: 14 B 22
)
# A Danish floor ("2. th.") or an Austrian, Swedish or Belgian unit, after a comma.
_UNIT = (
    r"(?:, (?:\d{1,2}\. ?(?:th|tv|mf|sal)\.?"
    r"|(?:Top|Stiege|Tür|lgh\.?|bus|boîte|Whg\.?|App\.?) ?[\w-]{1,5}))?"
)
# (The look-behind comes after the first character, so that `re` can skip to capitals; a
# Polish "ul. ", "al. ", "pl. " or "os. " before the name is taken in after the match.)
_STREET = re.compile(
    rf"[{_CAP}](?<![\w.,/-][{_CAP}])[^\W\d_]*(?:['’.-][^\W\d_]+)*"
    rf"(?: (?:{_WORD}|{_LOWER})){{0,3}} {_NUMBER}{_UNIT}\Z"
)
_TAIL = re.compile(rf" {_NUMBER}{_UNIT}\Z")  # (a quick test first: the number and unit)
_SPACE = ("", " ", "\n", "\t", "(", ":")  # (what may come before "ul. ")
_POLISH = ("ul. ", "al. ", "pl. ", "os. ")
# Indian: a house, plot or door number, then a street and places, each after a comma.
_PART = rf"{_WORD}(?: (?:{_WORD}|of|the|\d{{1,4}}[A-Za-z]?)){{0,4}}"
_INDIAN = re.compile(
    r"(?<![\w.,/-])(?:(?:Plot|Flat|House|Door|Shop|Block|No\.)(?: No\.)? )?"
    rf"\d{{1,5}}[A-Za-z]?(?:[-/]\d{{1,4}}[A-Za-z]?)?,? {_PART}(?:, {_PART}){{0,5}}\Z"
)


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words that take a number in English and make look-alikes ("Sprint 14, 2026 Planning",
# "Room 12, 1200 Euros"): never in a street name; nor are the words after the postcode.
_NOT_STREET = _word_set("""
    Sprint Version Release Build Room Page Chapter Section Step Level Floor Week Day Part Item
    Issue Table Figure Appendix Volume Vol Episode Season Round Stage Batch Run Test Case
    Ticket Order Invoice Unit Suite Apt No Nr Number Model Lot Gate Terminal Platform Track
    Line Bus Flight Row Seat Box Block Plot Sector Building Zone Area Region District Grade
    Class Group Team Phase Milestone Iteration Quarter Year Month Rule Clause Article Note
    Slide Question Task Story Epic Card Slot Rack Server Node Pod Cluster Port Patch Update
    Windows Python Java Android Game Match Player Score Total Price Cost
    Amount Sum Qty Quantity Size Width Height Weight Limit Max Min Top Bottom Dock Bay Door
    January February March April May June July August September October November December
    Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec Monday Tuesday Wednesday Thursday Friday
    Saturday Sunday Mon Tue Wed Thu Fri Sat Sun The This That These Those And Or But With
    From To For At In On Of By About Over Under Between After Before Since Until Every Each
    Our Your Their His Her Its We You They It He She I
""")
_NOT_CITY = _word_set("""
    Planning Edition Euros Euro Dollars Dollar Pounds Points Users Units Items People Members
    Employees Customers Orders Pieces Boxes Pallets Review Roadmap Budget Report Release
    Summit Conference Season Model Update Plan Survey Annual Spring Summer Autumn Fall Winter
    Results Sales Revenue Total Version Series Final Finals Edition Cup Championship Census
    Tickets Hours Minutes Days Weeks Months Years Times Rows Records Files Lines Words Pages
    Kg Km Miles Meters Tons Tonnes Liters Litres Calories Steps Votes Views Downloads Stars
    The And Or But In On At To For Of With From By Was Were Is Are Will Would Has Have Had
    Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec January February March April June July
    August September October November December Q
""")
# Street-name parts that say "street" in a Germanic, Nordic or Finnish language: a postcode
# that looks like a year ("2000 Antwerpen") needs one, or a hyphen or non-ASCII letter.
_STREETISH = re.compile(
    r"(?i)(?:kai|kaai|gade|gate|gata|gatan|vej|vei|veien|väg|vägen|tie|katu|straat|weg|dok"
    r"|laan|plein|markt|ring|damm|gasse|platz|plats|torg|allé|allee|brook|park|hof|berg"
    r"|graben|ufer|wall|steig|pfad|kade|singel|gracht|dijk|ul\.)(?:\W|\Z)|[-’'\u00c0-\u024f]"
)


def _plausible(street: str, postcode: str, city: str) -> bool:
    """Whether a matched street, postcode and city are an address, not an English look-alike
    of one."""
    if not _NOT_STREET.isdisjoint(street.replace(".", " ").split()):
        return False
    if city in _NOT_CITY or city.isupper():  # (an all-caps word: a currency, a code)
        return False
    if len(postcode) == 4 and postcode[:2] in ("19", "20"):  # a year, maybe
        words = [w for w in street.split() if w[:1].isalpha()]
        return _STREETISH.search(" ".join(words)) is not None
    return True


@register("address")
class ContinentalAddressDetector(Detector):
    """Addresses before a postcode, in the forms the module's docstring names. Runs with the
    other address detectors, under the same policy name."""

    def find(self, scan: Scan) -> Iterator[Span]:
        text = scan.text
        for candidate in self._candidates(scan):
            comma = candidate.start()
            low = max(0, comma - 70)
            cut = text.rfind("\x00", low, comma)  # (not into the text before)
            if cut >= 0:
                low = cut + 1
            postcode = candidate.group(1)
            if postcode is not None:
                if not _TAIL.search(text, max(low, comma - 24), comma):
                    continue  # (no house number right before it: the common case)
                street = _STREET.search(text, low, comma)
                if street is not None and _plausible(
                    street.group(), postcode, candidate.group(2)
                ):
                    begin = street.start()
                    if text[begin - 4 : begin] in _POLISH and text[begin - 5 : begin - 4] in _SPACE:
                        begin -= 4
                    yield begin, candidate.end(1), "address"
                continue
            place = candidate.group(3).split()
            if any(w in _NOT_STREET or w in _NOT_CITY for w in place):
                continue
            start = _INDIAN.search(text, max(0, comma - 90) if cut < 0 else low, comma)
            if start is not None:
                yield start.start(), candidate.end(), "address"

    @staticmethod
    def _candidates(scan: Scan) -> Iterator[re.Match[str]]:
        """_CANDIDATE's matches in the text, found from the prefilter's shapes when it ran."""
        text = scan.text
        ends = scan.shape_ends("continental")
        if ends is None:
            yield from _CANDIDATE.finditer(text)
            return
        last, match = -1, _CANDIDATE.match
        for end in ends:  # a shape ends at the city's capital or the PIN's last digit: its
            # comma is the last ", " before that (none lies inside a shape)
            comma = text.rfind(", ", max(0, last, end - 40), end)
            if comma >= 0 and (found := match(text, comma)) is not None:
                last = found.end()
                yield found
