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
    r"|((?:[A-Z][a-z]{1,20} ){1,2})[1-8]\d{5}(?![\w-]))"
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
# Street-name parts that say "street" in a Germanic, Nordic, Finnish or Polish language: a
# street name needs one, or an address word shortly before it ("we're at Lilla Bommen 5,
# 411 04 Göteborg"), since "<Word> <number>, <number> <Word>" is as often a count or a date
# ("Lesson 5, 1500 Words", "Jurassic Park 3, 2001 Sequel").
_STREETISH = re.compile(
    r"(?i)(?:kai|kaai|gade|gate|gata|gatan|vej|vei|veien|väg|vägen|tie|katu|kuja|straat|weg"
    r"|dok|laan|plein|damm|gasse|platz|plats|plass|plads|torg|torget|allé|allee|graben|ufer"
    r"|kade|singel|gracht|dijk|ul\.)(?:\W|\Z)"
)
_ADDRESS_CUE = re.compile(
    r"(?i)(?:address|adresse|adres|adresa|anschrift|dirección|indirizzo|endereço|osoite"
    r"|biuro|büro|kontor|kantoor|office is|offices are|office:|we're at|we are at|located at"
    r"|based at|moved to|visit us at|deliver to|delivery to|ship to|post:)[\s:,-]*\Z"
)


def _plausible(text: str, low: int, street: re.Match[str], city: str) -> bool:
    """Whether a matched street and the city after its postcode are an address, not a
    look-alike of one: a street word in the name, or an address word right before it."""
    name = street.group()
    if not _NOT_STREET.isdisjoint(name.replace(".", " ").split()):
        return False
    if city in _NOT_CITY or city.isupper():  # (an all-caps word: a currency, a code)
        return False
    words = [w for w in name.split() if w[:1].isalpha()]
    polish = text[street.start() - 4 : street.start()] in _POLISH  # "ul. Długa 44"
    if polish or _STREETISH.search(" ".join(words)) is not None:
        return True
    return _ADDRESS_CUE.search(text, max(low, street.start() - 40), street.start()) is not None


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
                if street is not None and _plausible(text, low, street, candidate.group(2)):
                    begin = street.start()
                    if text[begin - 4 : begin] in _POLISH and text[begin - 5 : begin - 4] in _SPACE:
                        begin -= 4
                    yield begin, candidate.end(1), "address"
                continue
            place = candidate.group(3).split()
            if any(w in _NOT_STREET or w in _NOT_CITY for w in place):
                continue
            floor = max(0, comma - 90) if cut < 0 else low
            if text.find(",", floor, comma) < 0:
                continue  # (no comma before the place's: no street and place before it)
            start = _INDIAN.search(text, floor, comma)
            # (a street and a place before the city, each before a comma: "12 Passed,
            # Duration 104233" is a log line)
            if start is not None and text.count(",", start.start(), comma) >= 1:
                yield start.start(), candidate.end(), "address"

    @staticmethod
    def _candidates(scan: Scan) -> Iterator[re.Match[str]]:
        """_CANDIDATE's matches in the text, found from the prefilter's shapes when it ran."""
        return scan.shape_matches("continental", _CANDIDATE, _candidate_at)


def _candidate_at(text: str, end: int, last: int) -> re.Match[str] | None:
    """The candidate whose shape ends at `end`: its comma is the last ", " before that (none
    lies inside a shape; a place of two words of at most 21 letters and a PIN are 51
    characters at most)."""
    comma = text.rfind(", ", max(0, last, end - 60), end)
    return _CANDIDATE.match(text, comma) if comma >= 0 else None
