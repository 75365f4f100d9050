"""The Hyperscan prefilter (lore.redact.prefilter) and the detectors' other fast paths give
exactly what the plain `re` passes and the straightforward checks give."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from lore.redact import Redactor, load_policy, prefilter
from lore.redact.addresses import AddressDetector
from lore.redact.base import Anchors, Scan
from lore.redact.policy import builtin_data, compile_policy

DATA = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "redaction"

ADVERSARIAL = [
    "",
    "password",
    "PASSWORD=Tr0ub4dor&3x",
    "passpasswordpass pass-pass_pass.pass",
    "bypass mypass my password: hunter22x and my  token",
    "private_key_token=abcdEFGH1234ijkl api-key: ZZ9plural-Z-Alpha",
    "xapi_key=1 _api_key=2 9api_key=3 -api-key=4",
    "Friedrichstraße 68, 10117 Berlin; FRIEDRICHSTRASSE 68; Hauptstr. 5; Am Wall weg 3",
    "Große STRAẞE 12 and Kurstra?e 4 and stra\u00dfe  and Bahnhofstraße\n",
    "Kelvin \u212aey: sk-proj-abcdefghijklmnopqrstuvwxyz012345 \u212aeystraße 9",
    "İstanbul password İ: Pa55word!! ſecret=Sup3rS3cretValue99",
    "IBAN GB29 NWBK 6016 1331 9268 19, xGB29NWBK60161331926819, GB29NWBK60161331926819",
    "NI JT 48 29 15 B, AB12, AB 12, ABC 12, aB12, 1AB12, ÄAB12, AB١٢ GB٢٩ NWBK",
    "digits ١٢٣-٤٥-٦٧٨٩ and 321-54-9876 and ＡＢ１２",
    "nul\x00inside token: abcd1234EFGH5678ijkl\x00 and 10.0.0.1",
    "350 Fifth Avenue, Suite 4400, New York, NY 10118 · 1 Main St, Springfield",
    "455 Market, San Francisco, CA 94105-1234; 20 Bay, Toronto, ON M5J 2N8; ON M5J2N8",
    "10 Lower Thames Row, London EC3R 6AF x-SW1A 1AA; 88 Collins, Melbourne VIC 3000VIC 3000",
    "Authorization: Bearer abcdefghijklmnop1234 Basic dXNlcjpwYXNzd29yZA==",
    "x" * 300 + "password=" + "y" * 50,
    "performance review: rated below expectations; salary and bonus, payroll",
    "\n\n".join(["hr stuff: written warning", "disciplinary hearing", "ok"]),
    "Zq8mR2vLp9XkT4wN7bYc3HdJ6fGs1aE5uQ0iO at the very start",
    "=Zq8mR2vLp9XkT4wN7bYc3HdJ6fGs1aE5uQ0iO x Zq8mR2vLp9XkT4wN7bYc3HdJ6fGs1aE5uQ0iO==x",
    "key: Zq8mR2vLp9XkT4wN7bYc3H=== then é9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c"
    "d15d6c15b0f00a08",
    "token a1B2c3D4e5F6g7H8i9J0 token a1B2c3D4e5F6g7H8i9J token/a1B2c3D4e5F6g7H8i9J0k/x",
    "-----BEGIN CERTIFICATE-----\nMIIB2zCCAYGgAwIBAgIUQ1Zq8mR2vLp9XkT4wN7bYc3HdJ6fGs1aE5u\n"
    "-----END CERTIFICATE-----",
]


def texts() -> list[str]:
    """The texts of every labelled set (dev, held-out) of the redaction benchmark."""
    out = []
    for path in sorted(DATA.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            out += [json.loads(line)["text"] for line in handle if line.strip()]
    return out


def batches(items: list[str]) -> Iterator[list[str]]:
    """Each text alone, then shuffled batches of the writer's size and of odd sizes."""
    for text in items:
        yield [text]
    rng = random.Random(7)
    shuffled = items[:]
    rng.shuffle(shuffled)
    for size in (256, 37):
        for start in range(0, len(shuffled), size):
            yield shuffled[start : start + size]


def run(redactor: Redactor, batch: list[str], enabled: bool) -> tuple[object, ...]:
    prefilter.ENABLED = enabled
    try:
        scan = Scan(batch, redactor.anchors)
        entropy = [d for d in redactor.detectors if d.run_length]
        views = (
            scan.hits, scan.german, scan.upper_digits, [list(d.find(scan)) for d in entropy]
        )
        used = scan.prefiltered is not None
        _, found = redactor.scan_many(batch)
        redacted = redactor.redact_many(batch)
    finally:
        prefilter.ENABLED = True
    return views, found, [(r.text, r.redactions, r.topic) for r in redacted], used


needs_hyperscan = pytest.mark.skipif(
    prefilter._hs is None, reason="hyperscan does not import on this platform"
)


@needs_hyperscan
def test_prefilter_matches_re_passes_on_benchmark_and_adversarial_texts(
    redactor: Redactor,
) -> None:
    items = texts() + ADVERSARIAL
    used = 0
    for batch in batches(items):
        *on, on_used = run(redactor, batch, True)
        *off, off_used = run(redactor, batch, False)
        assert not off_used
        used += bool(on_used)
        assert on == off, batch[:3]
    assert used > len(items)  # the prefilter ran (all but the Kelvin-sign batches)


@needs_hyperscan
def test_kelvin_sign_falls_back_to_re(redactor: Redactor) -> None:
    batch = ["\u212aey: abc", "password: hunter22x"]
    scan = Scan(batch, redactor.anchors)
    assert scan.prefiltered is None
    assert run(redactor, batch, True) == run(redactor, batch, False)


@needs_hyperscan
def test_random_strings_agree(redactor: Redactor) -> None:
    rng = random.Random(11)
    alphabet = "aAsSpPkKeEyY_-. :=@/0123456789\n()+ßẞİ\u212a١éT" + "passtokenstreetweg "
    items = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(400)]
    items += [w + s for w in ("pass", "Token", "STREET", "weg") for s in (" ", "", "x", "_k")]
    for batch in [items, *[items[i : i + 9] for i in range(0, len(items), 9)]]:
        assert run(redactor, batch, True)[:3] == run(redactor, batch, False)[:3]


def test_numeric_strings_agree(redactor: Redactor) -> None:
    """Runs of digits and punctuation: SSN, IP, phone and card candidates at every edge."""
    rng = random.Random(13)
    pieces = ["1", "2", "5", "9", "0", "123", "45", "6789", "192", "168", "255", "256"]
    pieces += [".", ".", "-", "-", " ", "(", ")", "+", "/", ",", ":", "x", "v", "SSN ", "\n"]
    items = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(3000)]
    items += ["ssn 123456789", "123-45-6789", "123 45 6789x", "1.2.3.4", "v 1.2.3.4 5.6.7.8"]
    items += ["4111 1111 1111 1111", "10.0.0.1/24", "١٢٣-٤٥-٦٧٨٩ 123-45-6789 1.2.3.4"]
    for batch in [items, *[items[i : i + 50] for i in range(0, len(items), 50)]]:
        assert run(redactor, batch, True)[:3] == run(redactor, batch, False)[:3]
    for text in items[:500]:
        assert run(redactor, [text], True)[:3] == run(redactor, [text], False)[:3], text


def test_without_hyperscan_the_re_passes_run(
    redactor: Redactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prefilter, "_hs", None)
    monkeypatch.setattr(prefilter, "_CACHE", {})
    fresh = Redactor(load_policy())
    assert fresh.anchors.prefilter is None
    text = "my password: hunter22x at Hauptstraße 5, IBAN GB29 NWBK 6016 1331 9268 19"
    assert [f.kind for f in fresh.scan(text)] == ["password", "address", "iban"]


def test_non_ascii_anchor_literals_use_re(monkeypatch: pytest.MonkeyPatch) -> None:
    data = builtin_data()
    data["topics"]["rules"]["performance"]["cues"] = ["entretien annuel évalué"]
    policy = compile_policy(data)
    anchors = Anchors(["évalué", "pass"])
    assert anchors.prefilter is None
    redactor = Redactor(policy)
    assert redactor.anchors.prefilter is None
    assert redactor.redact("entretien annuel évalué").topic is not None


def test_v6_int_agrees_with_ipaddress() -> None:
    import ipaddress
    import itertools

    from lore.redact.personal import v6_int

    def want(value: str) -> int | None:
        try:
            return int(ipaddress.IPv6Address(value))
        except ValueError:
            return None

    values = ["".join(t) for n in range(8) for t in itertools.product("0:a", repeat=n)]
    rng = random.Random(3)
    pieces = ["", "0", "1", "ab", "fFfF", "12345", "abc"]
    for _ in range(20000):
        value = "".join(
            rng.choice(pieces) + rng.choice([":", ":", "::", ":::"])
            for _ in range(rng.randint(1, 10))
        )
        values.append(value[rng.randint(0, 2) : len(value) - rng.randint(0, 2)])
    values += ["2001:db8::1", "::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::"]
    for value in values:
        assert v6_int(value) == want(value), value


def test_ipv6_prefix_rule_agrees_with_ipaddress(redactor: Redactor) -> None:
    import ipaddress

    from lore.redact.personal import IpDetector, v6_int

    detector = next(d for d in redactor.detectors if isinstance(d, IpDetector))

    def old(value: str, length: str) -> bool:  # the rule as it was written with ipaddress
        try:
            network = ipaddress.ip_network(f"{value}/{length}", strict=False)
        except ValueError:
            return True
        return str(network.network_address) != str(ipaddress.ip_address(value)) or (
            network.prefixlen == 128
        )

    rng = random.Random(5)
    values = ["2001:db8::", "2001:db8::1", "fe80::", "1:2:3:4:5:6:7:8", "ffff::ffff", "::2"]
    values += [":".join(f"{rng.getrandbits(16):x}" for _ in range(8)) for _ in range(50)]
    lengths = [str(n) for n in range(0, 131)] + ["064", "000", "999", "١٢"]
    for value in values:
        number = v6_int(value)
        assert number is not None
        for length in lengths:
            text = f"{value}/{length} "
            got = detector._keep(value, text, len(value), 128, number)
            assert got == old(value, length), (value, length)


def phone_texts() -> list[str]:
    rng = random.Random(17)
    words = ["order", "ORDER", "Id", "id:", "ref", "call", "Call", "phone", "tel", "mob",
             "dial-in", "dial", "ticket", "po", "ſms", "İd", "\u212aey", "case#", "#", "x"]
    numbers = ["555 0100 222", "020 7946 0958", "(415) 555-0132", "+44 20 7946 0958",
               "12345678", "0800 123 4567", "555-0100", "2024-01-15 10:00"]
    return [
        " ".join(rng.choice(words) for _ in range(rng.randint(0, 4))) + " "
        + rng.choice(numbers) for _ in range(2000)
    ]


def test_phone_quick_word_tests_change_nothing(
    redactor: Redactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lore.redact.personal import PhoneDetector

    detector = next(d for d in redactor.detectors if isinstance(d, PhoneDetector))
    items = phone_texts() + texts()

    def found() -> list[list[tuple[int, int, str]]]:
        return [list(detector.find(Scan([t], redactor.anchors))) for t in items]

    fast = found()
    monkeypatch.setattr(detector, "_any_cue", None)
    monkeypatch.setattr(detector, "_any_stop", None)
    assert found() == fast


def address_reference(found: AddressDetector, scan: Scan) -> list[tuple[int, int, str]]:
    """AddressDetector.find the plain way: both patterns over each anchor's whole window."""
    text, size, seen, out = scan.text, len(scan.text), set(), []
    for anchor in scan.anchored(found.anchor_set) + scan.german:
        for pattern in (found._EN, found._DE):
            for match in pattern.finditer(text, max(0, anchor - 80), min(size, anchor + 120)):
                if not match.start() <= anchor < match.end() or match.span() in seen:
                    continue
                seen.add(match.span())
                end = match.end()
                while end > match.start() and text[end - 1] in ",. ":
                    end -= 1
                out.append((match.start(), end, "address"))
    return out


def test_address_german_window_test_changes_nothing(redactor: Redactor) -> None:

    detector = next(d for d in redactor.detectors if isinstance(d, AddressDetector))


    extra = ["Kurweg 5 and 12 Main Street", "Am Damm 4, Hauptstraße 12, 10117 Berlin 9 Elm St"]
    items = texts() + ADVERSARIAL + extra
    for batch in [items, *[[t] for t in items]]:
        scan = Scan(batch, redactor.anchors)
        assert list(detector.find(scan)) == address_reference(detector, scan)


def test_iban_check_agrees_with_base36_digits() -> None:
    import string

    from lore.redact.personal import IBAN_LENGTHS, iban_ok

    def want(iban: str) -> bool:  # the mod-97 check, one character at a time
        compact = iban.replace(" ", "").upper()
        if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
            return False
        rearranged = compact[4:] + compact[:4]
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1

    rng = random.Random(19)
    alphabet = string.ascii_uppercase + string.digits * 3 + "٣"
    for _ in range(20000):
        country = rng.choice(["GB", "DE", "NL", "XX"])
        size = IBAN_LENGTHS.get(country, 20)
        value = country + "".join(rng.choice(alphabet) for _ in range(size - 2))
        assert iban_ok(value) == want(value), value
    assert iban_ok("GB29 NWBK 6016 1331 9268 19") and want("GB29 NWBK 6016 1331 9268 19")


def test_phone_matches_hold_only_digits_and_separators() -> None:
    import re

    from lore.redact.personal import PhoneDetector

    rng = random.Random(23)
    pieces = ["1", "0", "44", "(0)", "(", ")", "+", " ", "-", ".", "/", "٣", "x", ",", ":"]
    items = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(5000)]
    for text in items + phone_texts():
        for match in PhoneDetector._PATTERN.finditer(text):
            assert re.fullmatch(r"[\d+() .-]+", match.group()), match.group()


def test_a_redactor_copies_and_pickles_without_its_database(redactor: Redactor) -> None:
    import copy
    import pickle

    text = "password: hunter22x, ssn 123-45-6789, 10.1.2.3"
    want = redactor.scan(text)
    for clone in (copy.deepcopy(redactor), pickle.loads(pickle.dumps(redactor))):
        assert clone.scan(text) == want


def test_a_policy_without_token_runs_still_finds_grouped_numbers() -> None:
    """Without the entropy detector no token-run expression is compiled; no other expression
    may be taken for it (the first numeric shape once was, and grouped SSNs went missing)."""
    data = builtin_data()
    data["personal"]["detectors"] = ["ssn", "phone"]
    data["secrets"]["detectors"] = ["known_keys"]
    redactor = Redactor(compile_policy(data))
    assert redactor.anchors.run_length == 0
    for text, kind, value in (
        ("ssn 123-45-6789 on file", "ssn", "123-45-6789"),
        ("call (415) 555-0132 tonight", "phone", "(415) 555-0132"),
    ):
        assert [(f.kind, f.value) for f in redactor.scan(text)] == [(kind, value)]
        assert redactor.anchors.prefilter is not None  # (the Hyperscan path was taken)


@pytest.mark.parametrize(
    "last",
    [
        "DB_PASSWORD=zkZ159Xub0V#4Q",
        "the password is Tr0ub4dor&3x",
        "use postgres://app:s3cr3t-Pa55w0rd@db",
        "docker login -u bot -p Xk9vLq2wPz7m",
        "wifi: Harbor#Lights9",
    ],
)
def test_a_secret_that_ends_a_text_is_found_in_a_batch(last: str) -> None:
    """Texts of a batch are joined by a separator; a value must stop at it, not run into the
    next text (the span would cross texts and be dropped)."""
    redactor = Redactor(load_policy())
    alone = [(f.kind, f.value) for f in redactor.scan(last)]
    assert alone and all(kind == "password" for kind, _ in alone)
    _, found = redactor.scan_many(["first text", last, "next text"])
    assert [(f.kind, f.value) for f in found[1]] == alone
