"""Phone helpers for PhoneDetector (personal.py): the cue-word patterns, and the national
forms that need no "+": a Brazilian "(NN) NNNNN-NNNN", a number right after a national cue
word ("Mobil 412 55 093", "móvil 612 44 90 21", "kom. 501 223 874"), and the UPS tracking
numbers ("1Z 999 AA1 ...") whose digit groups look like a phone number."""

from __future__ import annotations

import re

from .base import word_start_first


def words_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    body = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) or "(?!)"
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def any_word(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """Any of `words` (ASCII) anywhere in lower-cased ASCII text: a quick test that must pass
    wherever words_pattern(words) matches; None when a word is not ASCII (no quick test)."""
    if not all(w.isascii() for w in words):
        return None
    return re.compile("|".join(re.escape(w.lower()) for w in words) or "(?!)")


def words_lower(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """words_pattern(words) for lower-cased ASCII text, without IGNORECASE (there it finds
    the same spans, faster); None when a word is not ASCII."""
    if not all(w.isascii() for w in words):
        return None
    ordered = [w.lower() for w in sorted(words, key=len, reverse=True)]
    if not ordered or not all(ordered):
        body = "|".join(re.escape(w) for w in ordered) or "(?!)"
        return re.compile(rf"(?<!\w)(?:{body})(?!\w)")
    body = word_start_first(ordered, r"\w")  # (the look-behind after the first letter)
    return re.compile(rf"(?:{body})(?!\w)")


def may_hold(quick: re.Pattern[str] | None, segment: str) -> bool:
    """False only when `segment` cannot hold a match of the words_pattern() that `quick`
    stands for: in ASCII text, IGNORECASE matching is matching the lower-cased text."""
    return quick is None or not segment.isascii() or quick.search(segment.lower()) is not None


# Brazil: a two-digit area code in brackets, a 4-5 digit prefix, a dash, four digits.
_BRAZIL = re.compile(r"\(\d{2}\) ?\d{4,5}-\d{4}")
# Right before the number (its last word, without a colon or point after it): a national
# word for a phone, a mobile or a landline. ("on", as in "reach her on 81 ...", is too often
# "based on 2019-2023", "listening on 8080 8443"; "GSM" and "Handy" name bands and things.)
_NATIONAL_CUES = frozenset((
    "tel", "tlf", "tfn", "phone", "mobile", "mobil", "móvil", "movil", "kom", "cell", "cel",
    "celular", "fijo", "telefon", "telefone", "teléfono", "telefono", "puh",
))
# 8 to 11 digits in 2 to 5 groups of 2-5 digits, one kind of separator (no point: an IPv4
# address is no phone).
_NATIONAL = re.compile(r"\d{2,5}([ -])\d{2,5}(?:\1\d{2,5}){0,3}")
# Two years, or two times of day, are a range ("Mobil 2025 2026 Strategie", "0800-1700").
_RANGE = re.compile(r"(?:(?:19|20)\d\d[ -](?:19|20)\d\d|[0-2]\d[0-5]\d[ -][0-2]\d[0-5]\d)")
# A UPS tracking number (1Z, then 16 letters and digits, often grouped): not a phone.
_UPS = re.compile(r"(?<![A-Za-z0-9])1Z(?: ?[0-9A-Z]){1,15} \Z")


def national_phone(value: str, digits: str, before: str) -> bool:
    """Whether `value` (with `digits`, no "+") is a phone number by a national form or the
    cue word right before it, where no cue word in PhoneDetector's window said so."""
    if value[0] == "(":
        return _BRAZIL.fullmatch(value) is not None
    if not 8 <= len(digits) <= 11 or before[-1:] != " " or not _NATIONAL.fullmatch(value):
        return False
    words = before[-14:].split()
    last = words[-1].rstrip(":.").lower() if words else ""
    return last in _NATIONAL_CUES and not _RANGE.fullmatch(value)


def tracking_number(before: str) -> bool:
    """Whether the number goes on a UPS tracking number that ends `before` (which holds
    "1Z": the caller checks)."""
    return _UPS.search(before) is not None
