"""The detectors' and the Redactor's quick paths (gates that skip a regex, narrower windows,
literal-prefix scans, the one-loop assembly) give exactly what the plain ways give: each is
compared with the plain way (the gate off, or a reference written out here) on the benchmark
texts and on random and adversarial strings."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
from test_redact_prefilter import ADVERSARIAL, address_reference, phone_texts, texts

from lore.redact import Redactor, credentials, load_policy, personal
from lore.redact.addresses import AddressDetector
from lore.redact.base import Scan
from lore.redact.credentials import (
    _BLOCK,
    AssignmentDetector,
    JwtDetector,
    KnownKeyDetector,
    PrivateKeyDetector,
)
from lore.redact.personal import CardDetector, IpDetector, PhoneDetector, luhn_ok
from lore.redact.redactor import Finding, Redacted


def detector(redactor: Redactor, cls: type) -> Any:
    return next(d for d in redactor.detectors if isinstance(d, cls))


def scans(redactor: Redactor, items: list[str]) -> Iterator[Scan]:
    """Each text alone, then the whole list as one batch and in batches of 50."""
    for text in items:
        yield Scan([text], redactor.anchors)
    for size in (len(items), 50):
        for start in range(0, len(items), size):
            yield Scan(items[start : start + size], redactor.anchors)


def random_texts(seed: int, pieces: list[str], count: int, longest: int) -> list[str]:
    rng = random.Random(seed)
    return [
        "".join(rng.choice(pieces) for _ in range(rng.randint(0, longest))) for _ in range(count)
    ]


class _Everything:
    """A set that holds everything: turns a `x in SET` quick test off."""

    def __contains__(self, item: object) -> bool:
        return True


# -- Scan.finditer: literal prefixes found by str.find ------------------------------------


PREFIX_PIECES = [
    "eyJ",
    "eyJhbGciOiJIUzI1NiJ9",
    ".",
    "eyJzdWIiOiIxMjMifQ",
    "abcDEF_-12",
    "x",
    " ",
    "\n",
    "-----BEGIN ",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "PRIVATE KEY-----",
    "-----END ",
    "CERTIFICATE-----",
    "\x00",
    "SK",
    "0123456789abcdef",
    "ASK",
    "-",
    "--",
    "=",
]


def test_scan_finditer_finds_what_re_finditer_finds(redactor: Redactor) -> None:
    items = random_texts(31, PREFIX_PIECES, 3000, 30) + texts() + ADVERSARIAL
    twilio = next(p for p in redactor.policy.patterns if p.name == "twilio-api-key")
    cases = [
        (JwtDetector._PATTERN, ("eyJ",)),
        (PrivateKeyDetector._PATTERN, ("-----BEGIN ",)),
        (_BLOCK, ("-----BEGIN ",)),
        (twilio.regex, ("SK",)),
        (re.compile(r"(?:ab|a)b+"), ("ab", "a")),  # overlapping prefixes
        (re.compile(r"-----BEGIN [A-Z ]+-----"), ("-----BEGIN ",)),
    ]
    checked = 0
    for scan in scans(redactor, items):
        for pattern, prefixes in cases:
            want = [m.span() for m in pattern.finditer(scan.text)]
            assert [m.span() for m in scan.finditer(pattern, prefixes)] == want
            checked += bool(want)
    assert checked > 100  # the strings do hold matches


def test_known_keys_without_anchors_use_their_literal_prefix(redactor: Redactor) -> None:
    found = detector(redactor, KnownKeyDetector)
    assert found.prefixed  # (the twilio key: "SK", too short for an anchor)
    items = random_texts(37, PREFIX_PIECES, 2000, 20) + texts()
    plain = KnownKeyDetector(redactor.policy)
    plain.prefixed = {}
    for scan in scans(redactor, items):
        assert list(found.find(scan)) == list(plain.find(scan))


def test_entropy_words_on_lowered_ascii_text_change_nothing(
    redactor: Redactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cue words and hash markers before a token: the lower-case patterns on lower-cased
    ASCII text decide as the IGNORECASE ones do."""
    from lore.redact.credentials import EntropyDetector

    found = detector(redactor, EntropyDetector)
    assert found._cues_lower is not None
    rng = random.Random(73)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"
    words = [
        "Key:",
        "TOKEN",
        "secret=",
        "SHA256:",
        "sha512-",
        "Integrity ",
        "the",
        "id",
        "ETag: ",
        "monkey ",
        "\u212aey:",
        "\u017fecret ",
        "x",
        "\n",
        "Bearer",
        "hash=",
    ]
    items = [
        " ".join(rng.choice(words) for _ in range(rng.randint(0, 3)))
        + rng.choice(["", " "])
        + "".join(rng.choice(alphabet) for _ in range(rng.randint(16, 48)))
        for _ in range(4000)
    ] + texts()
    fast = [list(found.find(scan)) for scan in scans(redactor, items)]
    monkeypatch.setattr(found, "_cues_lower", None)
    assert [list(found.find(scan)) for scan in scans(redactor, items)] == fast
    assert sum(map(len, fast)) > 1000


# -- Phone and card: searches in a loop, the date test, digits by str.replace -------------


NUMERIC_PIECES = [
    "1",
    "2",
    "5",
    "9",
    "0",
    "12",
    "123",
    "2024",
    "19",
    "20",
    "555",
    "0100",
    "(0)",
    "(",
    ")",
    "+",
    "+44 ",
    " ",
    "-",
    ".",
    "/",
    ",",
    ":",
    "x",
    "\n",
    "tel ",
    "order ",
    "#",
    "GB29 ",
    "٣",
    "4111 1111 1111 1111",
    "2024-01-15",
    "15/01/2024",
    "10:00",
]


def phone_reference(found: PhoneDetector, scan: Scan) -> list[tuple[int, int, str]]:
    """PhoneDetector.find as finditer over each run (the date regex is always tried)."""
    text, size, out = scan.text, len(scan.text), []
    for run_start, run_end, digits in scan.numeric_runs:
        if digits < 7:
            continue
        for match in found._PATTERN.finditer(text, run_start, min(size, run_end + 6)):
            if found._phone(match.group(), scan, match.start()):
                out.append((match.start(), match.end(), "phone"))
    return out


def test_phone_search_loop_and_date_test_change_nothing(
    redactor: Redactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = detector(redactor, PhoneDetector)
    items = random_texts(41, NUMERIC_PIECES, 3000, 14) + texts()
    fast = [list(found.find(scan)) for scan in scans(redactor, items)]
    monkeypatch.setattr(personal, "_DATE_SEPARATORS", _Everything())
    plain = [phone_reference(found, scan) for scan in scans(redactor, items)]
    assert fast == plain
    assert sum(map(len, fast)) > 500


def test_phone_words_on_lowered_ascii_text_change_nothing(
    redactor: Redactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cue and stop words before a number: the lower-case patterns on lower-cased ASCII text
    find what the IGNORECASE ones find (the words include non-ASCII look-alikes)."""
    found = detector(redactor, PhoneDetector)
    assert found._lower is not None
    words = [
        "order",
        "ORDER",
        "Id",
        "id:",
        "Ref",
        "call",
        "CALL",
        "phone",
        "Tel",
        "mob",
        "dial-in",
        "ticket#",
        "po",
        "\u017fms",
        "\u0130d",
        "\u212aey",
        "case",
        "x",
        "video",
    ]
    numbers = [
        "555 0100 222",
        "020 7946 0958",
        "(415) 555-0132",
        "+44 20 7946 0958",
        "12345678",
        "0800 123 4567",
        "555-0100",
        "082 447 3915",
        "4111111111111111",
    ]
    rng = random.Random(71)
    items = (
        [
            " ".join(rng.choice(words) for _ in range(rng.randint(0, 5)))
            + rng.choice([" ", ": ", "_"])
            + rng.choice(numbers)
            for _ in range(4000)
        ]
        + phone_texts()
        + texts()
    )
    fast = [list(found.find(scan)) for scan in scans(redactor, items)]
    monkeypatch.setattr(found, "_lower", None)
    assert [list(found.find(scan)) for scan in scans(redactor, items)] == fast
    assert 1000 < sum(map(len, fast)) < sum(1 for _ in items) * 3


def test_card_digits_and_search_loop_change_nothing(redactor: Redactor) -> None:
    found = detector(redactor, CardDetector)
    items = random_texts(43, NUMERIC_PIECES, 3000, 14) + texts()
    issuers = 0
    for scan in scans(redactor, items):
        text, size, want = scan.text, len(scan.text), []
        for run_start, run_end, count in scan.numeric_runs:
            if count < 13:
                continue
            for match in found._PATTERN.finditer(text, run_start, min(size, run_end + 2)):
                digits = re.sub(r"\D", "", match.group())
                if 13 <= len(digits) <= 19 and found._ISSUER.match(digits) and luhn_ok(digits):
                    want.append((match.start(), match.end(), "card"))
        assert list(found.find(scan)) == want
        issuers += len(want)
    assert issuers > 50


# -- IP: the narrower IPv6 window ---------------------------------------------------------


def test_ipv6_window_changes_nothing(redactor: Redactor, monkeypatch: pytest.MonkeyPatch) -> None:
    found = detector(redactor, IpDetector)
    pieces = [
        "::",
        ":",
        "1",
        "a",
        "fe80",
        "2001",
        "db8",
        "ffff",
        "0",
        "g",
        "x",
        " ",
        ".",
        "/",
        "64",
        "\n",
        "1.2.3.4",
        "z:",
        "::1",
        "12345",
        "_",
        "-",
    ]
    items = random_texts(47, pieces, 3000, 24) + texts() + ADVERSARIAL
    every = list(scans(redactor, items))
    fast = [list(found.find(scan)) for scan in every]

    def whole_window(text: str, anchor: int) -> tuple[int, int]:
        return max(0, anchor - 40), min(len(text), anchor + 45)

    monkeypatch.setattr(IpDetector, "_v6_window", staticmethod(whole_window))
    assert [list(found.find(scan)) for scan in every] == fast
    pairs = zip(every, fast, strict=True)
    v6 = sum(":" in scan.text[a:b] for scan, spans in pairs for a, b, _ in spans)
    assert v6 > 100


# -- Addresses: _EN tried only where a match can start, up to the anchor -----------------


def test_address_candidate_starts_change_nothing(redactor: Redactor) -> None:
    found = detector(redactor, AddressDetector)
    pieces = [
        "12 ",
        "221B ",
        "4-6 ",
        "Baker ",
        "Main ",
        "Street",
        "St",
        " St.",
        "Road",
        ", ",
        "London ",
        "NW1 6XE",
        "NY 10118",
        "Suite 4 ",
        "x",
        "1",
        ".",
        "-",
        "\n",
        "Hill ",
        "Close",
        "Hauptstraße 5",
        "Am Wall weg 3",
        "Elm ",
        "Ave",
        "Way ",
        "Place",
        "Karl-Marx-Allee 12, 10117 Berlin",
    ]
    items = random_texts(53, pieces, 3000, 12) + texts() + ADVERSARIAL
    every = list(scans(redactor, items))
    fast = [list(found.find(scan)) for scan in every]
    assert fast == [address_reference(found, scan) for scan in every]
    assert sum(map(len, fast)) > 200


# -- Assignments: the quick test before _ASSIGNED ----------------------------------------


def test_assignment_quick_test_changes_nothing(
    redactor: Redactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = detector(redactor, AssignmentDetector)
    pieces = [
        "password",
        "PASSWORD",
        "pass",
        "token",
        "api_key",
        "Api-Key",
        "secret",
        "auth",
        "_x",
        ".y",
        "=",
        ":",
        "=>",
        " ",
        "\t",
        '"',
        "'",
        "hunter22x",
        "S3cr3tValue99",
        "\u212a",
        "\u017f",
        "\u0130",
        "\u0131",
        "é",
        "\n",
        ",",
        "my",
        "is",
        "x" * 70,
    ]
    items = random_texts(59, pieces, 4000, 10) + texts() + ADVERSARIAL
    fast = [list(found.find(scan)) for scan in scans(redactor, items)]
    monkeypatch.setattr(credentials, "_may_assign", lambda text, anchor: True)
    assert [list(found.find(scan)) for scan in scans(redactor, items)] == fast
    assert sum(map(len, fast)) > 300


def test_assignment_quick_test_never_refuses_a_match() -> None:
    pieces = [
        "password",
        "token",
        "secret",
        "x",
        "_",
        ".",
        "-",
        "=",
        ":",
        " ",
        "\t",
        '"',
        "'",
        "\u212a",
        "\u017f",
        "é",
        "v4lue",
        ">",
    ]
    for text in random_texts(61, pieces, 20000, 12):
        for anchor in range(len(text)):
            if not credentials._may_assign(text, anchor):
                start = len(text[:anchor].rstrip(credentials._NAME_STR))
                match = AssignmentDetector._ASSIGNED.match(text, start)
                assert match is None or match.end(1) <= anchor, (text, anchor)


# -- The Redactor: one loop for the texts without topic hits -----------------------------


def reference_redact(
    redactor: Redactor, text: str, findings: list[Finding], namespace: str, field: str | None
) -> Any:
    """What redact_many() gives a text without topic hits, written the plain way."""
    out, audit, cursor = "", [], 0
    for f in findings:
        out += text[cursor : f.start]
        mark = redactor.placeholder(namespace, f.kind, f.value)
        entry: dict[str, Any] = {"kind": f.kind}
        if field is not None:
            entry["field"] = field
        entry.update(start=len(out), end=len(out) + len(mark), placeholder=mark)
        audit.append(entry)
        out += mark
        cursor = f.end
    return out + text[cursor:], tuple(audit), tuple(findings), None, False


def test_redact_many_matches_a_plain_assembly() -> None:
    items = texts() + ADVERSARIAL + random_texts(67, NUMERIC_PIECES + PREFIX_PIECES, 500, 20)
    fast, plain = Redactor(load_policy()), Redactor(load_policy())
    spaces = [("default", None), ("team-a", "metadata.subject"), ("default", "actor")]
    batch = list(items)
    for namespace, field in spaces:
        got = fast.redact_many(
            batch,
            [namespace] * len(batch),
            fields=[field] * len(batch),
            topics=[False] * len(batch),
        )
        found = plain.scan_many(batch)[1]
        want = [
            reference_redact(plain, text, items, namespace, field)
            for text, items in zip(batch, found, strict=True)
        ]
        assert [(r.text, r.redactions, r.findings, r.topic, r.dropped) for r in got] == want
        assert all(type(r) is Redacted for r in got)
    assert sum(1 for r in got if r.redactions) > 300
    # With topic rules on, the texts without a topic hit come out the same way.
    got = fast.redact_many(batch)
    found = plain.scan_many(batch)[1]
    plain_topics = [r for r in got if r.topic is not None]
    assert 10 < len(plain_topics) < len(batch) // 2
    for text, items, result in zip(batch, found, got, strict=True):
        if result.topic is None:
            want_one = reference_redact(plain, text, items, "default", None)
            assert (result.text, result.redactions, result.findings, None, False) == want_one


def test_allowed_values_are_left_alone_alone_or_among_others(redactor: Redactor) -> None:
    key = "AKIAIOSFODNN7EXAMPLE"
    assert key in redactor.policy.allow
    cases = {
        f"aws key {key} here": [],
        f"aws key {key} and mail jo@example.org": ["email"],
        f"mail jo@example.org then {key}, call +44 20 7946 0958": ["email", "phone"],
        f"password={key}": [],
    }
    for text, kinds in cases.items():
        assert [f.kind for f in redactor.scan(text)] == kinds, text
        assert key in redactor.redact(text).text


# -- quick tests before costly searches (IP versions, packages, prefixes, Message-IDs) ------

VERSION_PIECES = [
    "v",
    "V",
    "v ",
    "v\n",
    "ver",
    "version ",
    "Versions",
    "rev",
    "Revision",
    "release",
    "Released",
    "build",
    "Builds",
    "firmware",
    "HOTFIX",
    "hotfixes",
    "changelog",
    "bump",
    "bumped",
    "server",
    "over",
    " ",
    "\n",
    "x",
    "1",
    ".",
    "-",
    "_",
    "==",
    "~=",
    ">=",
    "!=",
    "<=",
    "sdk",
    "ip",
    "host",
    "to ",
    "→ ",
    "-> ",
    "1.2.3",
    "a",
]


def test_version_and_package_quick_tests_change_nothing(redactor: Redactor) -> None:
    """_version, _package_version and _keep test str.endswith / startswith / `in` first:
    the answers are those of the plain searches."""
    found = detector(redactor, IpDetector)
    items = random_texts(91, VERSION_PIECES, 20000, 12)
    for before in items:
        plain = (
            found._VERSION_LOWER.search(before.lower()) is not None
            if before.isascii()
            else found._VERSION.search(before) is not None
        )
        assert found._version(before) == plain, before

    def package_reference(text: str, start: int, end: int, value: str) -> bool:
        before = text[max(0, start - 30) : start]
        if pinned := personal._PINNED_BEFORE.search(before):
            return not personal._ADDRESS_WORDS.search(pinned.group(1))
        if personal._SUFFIX_AFTER.match(text, end) or personal._PACKAGE_BEFORE.search(before[-20:]):
            return True
        small = len(value.split(".", 1)[0]) == 1 and len(value.rsplit(".", 1)[1]) == 1
        if small and before.endswith(personal._MOVED_TO):
            line = before[before.rfind("\n") + 1 :]
            triples = list(personal._TRIPLE.finditer(line))
            return bool(triples) and not personal._ADDRESS_WORDS.search(line, triples[-1].end())
        return False

    rng = random.Random(92)
    after = ["", "-rc1", "+b", "-", "+", "/24", "/", "/33", " ", "x"]
    for before in items[:5000]:
        value = rng.choice(["1.2.3.4", "10.0.0.1", "192.168.1.10", "8.8.8.8"])
        text = before + value + rng.choice(after)
        start, end = len(before), len(before) + len(value)
        assert personal._package_version(text, start, end, value) == package_reference(
            text, start, end, value
        ), text
        # _keep tries the prefix length only after a "/": where there is none, the pattern
        # it skips could not have matched either
        if not text.startswith("/", end):
            assert personal._PREFIX_LEN.match(text, end, end + 4) is None, text


def test_message_id_quick_test_changes_nothing(redactor: Redactor) -> None:
    pieces = [
        "Message-ID",
        "msg_id",
        "In-Reply-To",
        ":",
        "=",
        " ",
        "<",
        "<\n",
        "\n",
        "x",
        "a.b@example.com",
        "mail ",
        ">",
    ]
    named = [
        "Message-ID: <a.b@example.com>",
        "msg_id=<a.b@example.com>",
        "In-Reply-To:  <a.b@example.com>",
        "x message-id = <a.b@example.com>",
    ]
    items = random_texts(93, pieces, 3000, 10) + texts() + named
    found = detector(redactor, personal.EmailDetector)
    # EmailDetector searches for a Message-ID field only when a "<" is within 2 characters
    # before the address; that must never skip a field the search would find (the other
    # way round it cannot go wrong: the quick test only adds a condition to skipping).
    for scan in scans(redactor, items):
        text = scan.text
        for start, _end, _kind in found.find(scan):
            line_start = text.rfind("\n", 0, start) + 1
            field = personal.EmailDetector._MESSAGE_ID.search(
                text, max(line_start, start - 30), start
            )
            assert field is None, text[max(0, start - 40) : start + 20]
    assert not [t for t in named if list(found.find(Scan([t], redactor.anchors)))]


def test_postcode_look_behind_moved_after_the_digit_changes_nothing() -> None:
    from lore.redact import postal

    plain = re.compile(
        r"(?<![\w.,-])\d{1,5}"
        + postal._BEFORE_POSTCODE.pattern.removeprefix(r"\d(?<![\w.,-]\d)\d{0,4}")
    )
    assert plain.pattern != postal._BEFORE_POSTCODE.pattern
    pieces = [
        "12",
        "3",
        "-",
        ".",
        ",",
        " ",
        "Baker",
        "Street",
        "Suite 4",
        ", ",
        "of",
        "London",
        "x1",
        "_",
        "Flat 2",
    ]
    for text in random_texts(94, pieces, 5000, 14) + texts()[:300]:
        for low in (0, len(text) // 3):
            got = postal._BEFORE_POSTCODE.search(text, low, len(text))
            want = plain.search(text, low, len(text))
            assert (got and got.span()) == (want and want.span()), text


def test_ascii_strength_counts_as_the_character_tests() -> None:
    from lore.redact import passwords

    def reference(value: str) -> int:
        if not 8 <= len(value) <= 64 or "://" in value:
            return 0
        if not passwords._NOT_IN_VALUE.isdisjoint(value):
            return 0
        if passwords._EMAIL_LIKE.search(value) or passwords._DOTTED_DIGITS.search(value):
            return 0
        if passwords._WORD_WITH_DIGITS.fullmatch(value) or passwords._HEX_OR_ID.fullmatch(value):
            return 0
        if not any(c.isalpha() for c in value):
            return 0
        return (
            any(c.islower() for c in value)
            + any(c.isupper() for c in value)
            + any(c.isdigit() for c in value)
            + any(not c.isalnum() for c in value)
        )

    rng = random.Random(95)
    alphabet = "aZ09!#$%&*^~?._-+ xyzXYZ"
    for _ in range(30000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 70)))
        assert passwords.strength(value) == reference(value), value


# -- the topic plan, the whole-text mask, the one-finding text --------------------------------


def test_topic_plans_classify_as_classify(redactor: Redactor) -> None:
    from lore.redact.topics import _classify

    topics = redactor.topics
    pieces = [
        "salary",
        "pay rise",
        "bonus",
        "equity",
        "payroll",
        "pay",
        "offer",
        "band",
        "my doctor",
        "hospital",
        "treatment",
        "stress",
        "leave",
        "PIP",
        "rated",
        "review",
        "manager",
        "feedback",
        "grievance",
        "outcome",
        "hearing",
        " ",
        ". ",
        "\n\n",
        "x",
    ]
    items = random_texts(96, pieces, 3000, 12) + texts()
    for batch_start in range(0, len(items), 256):
        batch = items[batch_start : batch_start + 256]
        scan = Scan(batch, redactor.anchors)
        got = topics.hits_many(scan, batch, [True] * len(batch))
        for text, hits in zip(batch, got, strict=True):
            literals = {w for w in topics.by_literal if w in text.lower()}
            candidates, strong, weak = topics._plan(literals)
            assert _classify(text, strong, weak) == topics.classify(text, candidates)
            want = topics.classify(text)
            assert [h.rule for h in hits] == ([want] if want is not None else [])


def test_masked_and_one_finding_texts_as_the_general_assembly(redactor: Redactor) -> None:
    """The quick paths of _assemble (a whole text masked) and _replace_many (one finding)
    give what the general loop gives (written out here)."""
    import json

    def reference(
        red: Redactor, text: str, findings: list[Finding], hits: Any, field: str | None
    ) -> tuple[str, str, tuple[Finding, ...], str | None]:
        if hits:
            findings = [
                f for f in findings if not any(h.start < f.end and f.start < h.end for h in hits)
            ]
        pieces = [(f.start, f.end, f.kind, "") for f in findings]
        pieces += [(h.start, h.end, "topic", h.rule.label) for h in hits]
        pieces.sort(key=lambda p: p[0])
        out, audit, cursor, length = [], [], 0, 0
        for start, end, kind, label in pieces:
            out.append(text[cursor:start])
            length += start - cursor
            entry: dict[str, Any] = {"kind": kind}
            if kind == "topic":
                mark = red.policy.topic_placeholder.format(topic=label)
                entry["topic"] = label
            else:
                mark = red.placeholder("default", kind, text[start:end])
            if field is not None:
                entry["field"] = field
            entry.update(start=length, end=length + len(mark), placeholder=mark)
            audit.append(entry)
            out.append(mark)
            length += len(mark)
            cursor = end
        out.append(text[cursor:])
        topic = hits[0].rule.label if hits else None
        return "".join(out), json.dumps(audit), tuple(findings), topic

    red = Redactor(load_policy())
    items = texts()
    for field in (None, "metadata.subject"):
        for start in range(0, len(items), 256):
            batch = items[start : start + 256]
            scan, found = red.scan_many(batch)
            hits = red.topics.hits_many(scan, batch, [True] * len(batch))
            got = red.redact_many(batch, fields=[field] * len(batch))
            for text, findings, hit, result in zip(batch, found, hits, got, strict=True):
                want = reference(red, text, findings, hit, field)
                assert (
                    result.text,
                    json.dumps(result.redactions),
                    result.findings,
                    result.topic,
                ) == want


# -- ASCII-digit patterns, look-behinds after the first character, gated cue searches --------


def test_ascii_digit_patterns_find_the_same_where_digits_are_0_to_9(redactor: Redactor) -> None:
    """Where Scan.ascii_digits holds, the [0-9] forms of the digit patterns (base.ascii_digits)
    find what the \\d forms find; with other digits in a batch the \\d forms are used."""
    from lore.redact import addresses
    from lore.redact.base import ascii_digits

    pairs = [
        (PhoneDetector._PATTERN, PhoneDetector._PATTERN_ASCII),
        (CardDetector._PATTERN, CardDetector._PATTERN_ASCII),
        (personal.SsnDetector._PATTERN, personal.SsnDetector._PATTERN_ASCII),
        (personal.SsnDetector._BARE, personal.SsnDetector._BARE_ASCII),
        (IpDetector._V4, IpDetector._V4_ASCII),
        (AddressDetector._EN, AddressDetector._EN_ASCII),
        (addresses._EN_START, addresses._EN_START_ASCII),
    ]
    for plain, fast in pairs[:-1]:
        assert fast.pattern == ascii_digits(plain).pattern and "\\d" not in fast.pattern
    assert ascii_digits(re.compile(r"[^\d]\\d[\d-]")).pattern == r"[^0-9]\\d[0-9-]"
    pieces = [
        "1",
        "23",
        "456",
        "2024",
        " ",
        "-",
        ".",
        "/",
        "(",
        ")",
        "+",
        ",",
        ":",
        "x",
        "\n",
        "192.168.0.1",
        "555-0100",
        "4111 1111 1111 1111",
        "123-45-6789",
        "Main",
        "Street",
        "221B Baker Street",
        "Suite 4",
        "_",
        "\x00",
        "é",
    ]
    items = random_texts(97, pieces, 4000, 14) + texts()
    for scan in scans(redactor, items):
        if not scan.ascii_digits:
            continue
        for plain, fast in pairs:
            assert [m.span() for m in fast.finditer(scan.text)] == [
                m.span() for m in plain.finditer(scan.text)
            ]
    assert not Scan(["\u0663\u0664 x"], redactor.anchors).ascii_digits
    assert Scan(["12 \u00e9"], redactor.anchors).ascii_digits


def test_other_digit_pattern_is_a_decimal_digit_outside_ascii() -> None:
    from lore.redact.base import _OTHER_DIGIT

    plain = re.compile(r"[^\D0-9]")
    for code in range(0x110000):
        char = chr(code)
        assert bool(_OTHER_DIGIT.search(char)) == bool(plain.search(char)), hex(code)


def test_look_behind_after_the_first_character_finds_the_same() -> None:
    from lore.redact.base import word_start_first

    words = ["reference", "ref", "id", "po", "dial-in", "a", "\nx", "-p"]
    fast = re.compile(rf"(?:{word_start_first(words, r'[a-z0-9_]')})(?![a-z])")
    body = "|".join(re.escape(w) for w in words)
    plain = re.compile(rf"(?<![a-z0-9_])(?:{body})(?![a-z])")
    pieces = [*words, "x", " ", "_", "\n", "1", "re", "f"]
    for text in random_texts(98, pieces, 20000, 8):
        for pos in (0, len(text) // 2):
            assert [m.span() for m in fast.finditer(text, pos)] == [
                m.span() for m in plain.finditer(text, pos)
            ], text


def test_gated_cue_searches_answer_as_the_searches(redactor: Redactor) -> None:
    topics = redactor.topics
    gated = [key for key, search in topics.searches.items() if search != topics.cues[key].search]
    assert len(gated) > len(topics.cues) // 2  # (most cues start with a word)
    pieces = [
        "pay",
        "stub",
        "stubs",
        "my ",
        "doctor",
        "GP",
        "Pay Stub",
        "x",
        " ",
        "\n",
        "-",
        "mypay",
        "salary",
        "sacrifice",
        "_",
        "é",
        "review",
    ]
    items = random_texts(99, pieces, 3000, 10) + texts()[:400]
    for key in gated:
        search, pattern = topics.searches[key], topics.cues[key]
        for text in items:
            assert bool(search(text)) == (pattern.search(text) is not None), (key, text)


def test_luhn_quick_sum_agrees() -> None:
    def reference(digits: str) -> bool:
        total = 0
        for index, char in enumerate(reversed(digits)):
            value = ord(char) - 48
            if index % 2:
                value = value * 2 - 9 if value > 4 else value * 2
            total += value
        return total % 10 == 0

    rng = random.Random(100)
    for _ in range(50000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 22)))
        assert luhn_ok(digits) == reference(digits)
    for odd in ("", "12a4", "\u0663\u0664", "4111 1111"):
        assert luhn_ok(odd) == reference(odd)
