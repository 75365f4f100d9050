"""Each redaction detector on positives and tricky negatives; checksums; entropy; topics."""

from __future__ import annotations

import pytest

from lore.redact import Redactor, iban_ok, load_policy, luhn_ok, mask, shannon_entropy
from lore.redact.policy import builtin_data, compile_policy

GHP = "ghp_I58sH508b7i6T7PqqJiI0RfMXHt6OGIa2XdU"
AWS_SECRET = "pFBwjJVmPxyPN5KqZ96uK9zuEjiCS675ooRkY1Dm"


def kinds(redactor: Redactor, text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.value) for f in redactor.scan(text)]


POSITIVES = [
    ("mail maria.gonzalez@northwind.com today", "email", "maria.gonzalez@northwind.com"),
    ("cc lena.fischer+billing@example.de please", "email", "lena.fischer+billing@example.de"),
    ("call (415) 555-0132 tonight", "phone", "(415) 555-0132"),
    ("ring +44 20 7946 0958 at 3", "phone", "+44 20 7946 0958"),
    ("mobile 07700 900123", "phone", "07700 900123"),
    ("Tél : +33 1 42 68 53 00", "phone", "+33 1 42 68 53 00"),
    ("charged card 4111 1111 1111 1111 twice", "card", "4111 1111 1111 1111"),
    ("amex 3782 822463 10005 on file", "card", "3782 822463 10005"),
    ("IBAN: GB29 NWBK 6016 1331 9268 19 thanks", "iban", "GB29 NWBK 6016 1331 9268 19"),
    ("pay to DE89370400440532013000 now", "iban", "DE89370400440532013000"),
    ("SSN 321-54-9876 on the form", "ssn", "321-54-9876"),
    ("my ssn is 219099999", "ssn", "219099999"),
    ("NI number JT 48 29 15 B", "nino", "JT 48 29 15 B"),
    ("staging is at 10.20.4.17 now", "ip", "10.20.4.17"),
    ("inet 192.168.1.42/24 brd", "ip", "192.168.1.42"),
    ("bastion 2001:db8:85a3::8a2e:370:7334 up", "ip", "2001:db8:85a3::8a2e:370:7334"),
    ("ship to 221B Baker Street, London NW1 6XE soon", "address",
     "221B Baker Street, London NW1 6XE"),
    ("at 350 Fifth Avenue, Suite 4400, New York, NY 10118 until", "address",
     "350 Fifth Avenue, Suite 4400, New York, NY 10118"),
    ("office Friedrichstraße 68, 10117 Berlin here", "address", "Friedrichstraße 68, 10117 Berlin"),
    (f"token {GHP} leaked", "api_key", GHP),
    ("AWS_ACCESS_KEY_ID=AKIAVBH0C2VV8MDL8DM3", "api_key", "AKIAVBH0C2VV8MDL8DM3"),
    ("bot xoxb-313442219265-6701452639981-gLRIsP3tcQOkgbEOmei7byFR here", "api_key",
     "xoxb-313442219265-6701452639981-gLRIsP3tcQOkgbEOmei7byFR"),
    ("stripe sk_live_FvLKECXuSOGQwl4lcmZk7ElL", "api_key", "sk_live_FvLKECXuSOGQwl4lcmZk7ElL"),
    ("maps AIzaxbizLQooMjuafd6bB1lSyEf6uwzMiUYFNYB key", "api_key",
     "AIzaxbizLQooMjuafd6bB1lSyEf6uwzMiUYFNYB"),
    ("postgres://app:s3cr3t-Pa55w0rd@db.internal:5432/x", "password", "s3cr3t-Pa55w0rd"),
    ("DB_PASSWORD=zkZ159Xub0V#4Q", "password", "zkZ159Xub0V#4Q"),
    (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", "secret", AWS_SECRET),
    (f"the token: {AWS_SECRET[:32]} ok", "secret", AWS_SECRET[:32]),
]


@pytest.mark.parametrize(("text", "kind", "value"), POSITIVES, ids=[p[1] for p in POSITIVES])
def test_positive(redactor: Redactor, text: str, kind: str, value: str) -> None:
    assert (kind, value) in kinds(redactor, text)


NEGATIVES = [
    "Order #48213907 shipped, tracking 1Z999AA10123456784",
    "deploy of v2.14.3 at 14:05 UTC, build 20240315.7",
    "commit 2c1942b31f3008c974eb75f3221c908cac641732 broke it",
    "incident 5144a7f6-79b7-4255-88b2-4045363eab33",
    "refund $12,480.50 and €349.00 on 2024-03-15 10:30",
    "invoice INV-2024-00871 and ISBN 978-3-16-148410-0",
    "the release is 1.14.2.7; snmp OID 1.3.6.1.2.1.1.1.0",
    "listening on 127.0.0.1:8080 and [::1]:5432; VLAN 10.0.0.0/16",
    "times 09:31:07 and 12:00:01,203; MAC 1e:2b:3d:4e:5f:60",
    "card ending in 4242; membership 4921 0083 1177 5520",
    "IBAN GB29 NWBK 6016 1331 9268 18 fails the check",
    "invalid SSNs 000-12-3456, 666-45-1234, 912-34-5678",
    "QQ123456C is the HMRC placeholder, TN 12 34 56 A too",
    "Meeting ID: 845 2290 1176 and PIN 884 221 907",
    "example AKIAIOSFODNN7EXAMPLE from the AWS docs",
    "publishable pk_live_qD8Hh52qZi5kXwJNLB8h3OR6 is fine",
    "password = os.environ.get('DB_PASSWORD', '')",
    "placeholder: password=<your-password-here> and api_key = \"${LORE_API_KEY}\"",
    "sha256:ec2e7c9828b4d4e2d1dde001d53cb27af15a9b848312f88f2bf4fb459ae4a8f5",
    "trace_id 65995907946ea6241fb67e74831122d9 span 3bf00dacabc1cfc6",
    "class HybridSearcherSettingsV2Factory in src/lore/search/hybrid.py",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq3v8YB7m2Xz1PqRw4nK0sJtLcD9eF5hUa6oVbM2yTp x@ci",
    "git@github.com:acme/infra.git over ssh",
    "max_tokens: 512, author: Jonathan Smith",
    "3 Way merge at step 2, room 3.14 on floor 3",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_negative(redactor: Redactor, text: str) -> None:
    assert kinds(redactor, text) == []


def test_luhn_and_iban_checks() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("378282246310005")
    assert not luhn_ok("4111111111111112") and not luhn_ok("4921008311775520")
    assert iban_ok("GB29 NWBK 6016 1331 9268 19") and iban_ok("NL91ABNA0417164300")
    assert not iban_ok("GB29 NWBK 6016 1331 9268 18")  # mod-97 fails
    assert not iban_ok("GB29 NWBK 6016 1331 9268")  # wrong length for GB
    assert not iban_ok("XX29NWBK60161331926819")  # no such country


def test_entropy_separates_random_from_words() -> None:
    assert shannon_entropy("aaaa") == 0
    assert shannon_entropy(AWS_SECRET) > shannon_entropy("HybridSearcherSettingsV2Factory")


def test_private_key_blocks_whole_and_unterminated(redactor: Redactor) -> None:
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----"
    found = kinds(redactor, f"key.pem:\n{block}\ndone")
    assert found == [("private_key", block)]
    cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"
    assert kinds(redactor, cut) == [("private_key", cut)]
    cert = (
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n"
        "-----END CERTIFICATE-----"
    )
    assert kinds(redactor, cert) == []


def test_placeholders_are_readable_and_consistent(redactor: Redactor) -> None:
    fresh = Redactor(load_policy())
    done = fresh.redact("ana@acme.io wrote to bob@acme.io; ana@ACME.io replied")
    assert done.text == "[EMAIL_1] wrote to [EMAIL_2]; [EMAIL_1] replied"
    for entry in done.redactions:
        assert done.text[entry["start"] : entry["end"]] == entry["placeholder"]
        assert set(entry) == {"kind", "start", "end", "placeholder"}


def test_batch_texts_never_share_a_span(redactor: Redactor) -> None:
    texts = ["card 4111 1111", "1111 1111 ok", "mail ana@", "acme.io", "ssn", "123-45-6789"]
    found = redactor.scan_many(texts)[1]
    assert [[(f.kind, f.value) for f in x] for x in found] == [
        [], [], [], [], [], [("ssn", "123-45-6789")]
    ]


TOPICS = [
    ("between us, my salary offer came in at 145k", "hr/compensation"),
    ("I just got my performance review and it says needs improvement", "hr/performance"),
    ("I'm on sick leave until Monday, doctor's note attached", "hr/health"),
    ("This confirms a written warning after the disciplinary hearing", "hr/disciplinary"),
    ("my father passed away, I'll take bereavement leave", "hr/personal"),
]


@pytest.mark.parametrize(("text", "label"), TOPICS)
def test_topic_masks_the_record(redactor: Redactor, text: str, label: str) -> None:
    done = redactor.redact(text)
    assert done.text == f"[REDACTED: {label}]" and done.topic == label
    assert done.redactions[0]["kind"] == "topic" and done.redactions[0]["topic"] == label


@pytest.mark.parametrize("text", [
    "the query performance review is done, p95 halved",
    "the health check endpoint returns 200",
    "the bonus feature of the new planner is dedupe",
    "we should review the performance of the cache",
])
def test_topic_negatives(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text).text == text


def test_topic_drop_and_paragraph_scope() -> None:
    data = builtin_data()
    data["topics"]["action"] = "drop"
    dropping = Redactor(compile_policy(data))
    assert dropping.redact("my salary is too low").dropped
    data["topics"].update(action="mask", scope="paragraph")
    paragraphs = Redactor(compile_policy(data))
    done = paragraphs.redact("Release notes.\n\nMy salary band changed.\n\nMail x@y.io")
    assert done.text == "Release notes.\n\n[REDACTED: hr/compensation]\n\nMail [EMAIL_1]"


def test_mask_never_shows_a_secret() -> None:
    assert mask(GHP, secret=True) == "ghp_…[40 chars]"
    assert GHP[4:10] not in mask(GHP, secret=True)
    assert mask("ana@acme.io", secret=False) == "a*********o"


# Fixed cases (2026-11-25). Found on the dev set (and the first held-out set, merged into it):
FIXED_DEV = [
    # a phone at the end of a CSV field, the next field a date
    ("1042,Omar Haddad,(312) 555-0164,2024-02-11", [("phone", "(312) 555-0164")]),
    ("2201,+1 646 555 0143,2026-03-14", [("phone", "+1 646 555 0143")]),
    # a NANP local number needs no cue word
    ("The test number we use is 555-0100, it's reserved for fiction.", [("phone", "555-0100")]),
    # four-part versions: a version word before ("Versions", "release"), or a list of them
    ("Versions deployed: api 1.14.2.7, worker 1.14.2.9, web 3.0.0.", []),
    ("the release is 4.0.0.1 for the hotfix, we skipped 4.0.0.0 by mistake", []),
    # ...while addresses in a list stay addresses
    ("I blocked 198.51.100.23 and 198.51.100.24 at the WAF",
     [("ip", "198.51.100.23"), ("ip", "198.51.100.24")]),
    ("Versions deployed: api 1.14.2.7\nstaging box is 10.20.4.17", [("ip", "10.20.4.17")]),
]
# Found on the second held-out set, then fixed (generic bugs; disclosed in
# benchmarks/data/redaction/README.md):
FIXED_HELDOUT2 = [
    # an IBAN whose digits happen to pass Luhn is an IBAN, not a card
    ("they gave DE87 5953 4723 6186 2179 73 for the refund",
     [("iban", "DE87 5953 4723 6186 2179 73")]),
    # a grouped card number as a CSV field (after a comma)
    ("T-0091,49.00,4535-5495-0597-6714,settled", [("card", "4535-5495-0597-6714")]),
    ("total 1,4111", []),
    # documentation stand-ins are not secrets
    ("Replace `ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx` with your token", []),
    ("database:\n  user: app\n  password: changeme", []),
    ("The DSN format is postgresql://user:password@host:5432/db", []),
    # retina image names are not email addresses
    ("the image is logo@2x.png, the retina one", []),
    # an IPv6 address followed by ": "
    ("64 bytes from 2001:db8:85a3::8a2e:370:7334: icmp_seq=1",
     [("ip", "2001:db8:85a3::8a2e:370:7334")]),
]


@pytest.mark.parametrize(("text", "expected"), FIXED_DEV + FIXED_HELDOUT2)
def test_fixed_cases(redactor: Redactor, text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(redactor, text) == expected


def test_salary_sacrifice_is_not_pay(redactor: Redactor) -> None:
    text = "Salary-sacrifice? No, this is about the sacrificial replica in eu-west."
    assert redactor.redact(text).text == text
    assert redactor.redact("my salary is too low").topic == "hr/compensation"


# The fast paths (ASCII digit patterns, title-cased keyword pass, joined-text checks) must find
# exactly what the general ones do.
def test_non_ascii_digits_use_the_general_patterns(redactor: Redactor) -> None:
    assert kinds(redactor, "call +٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨ now") == [("phone", "+٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨")]
    mixed = ["mobile 07700 900123", "٣ apples", "IBAN GB29 NWBK 6016 1331 9268 19"]
    assert [[(f.kind, f.value) for f in x] for x in redactor.scan_many(mixed)[1]] == [
        [("phone", "07700 900123")], [], [("iban", "GB29 NWBK 6016 1331 9268 19")]
    ]


def test_nul_in_text_keeps_offsets(redactor: Redactor) -> None:
    found = redactor.scan_many(["a\x00b ana@acme.io", "x"])[1]
    assert [(f.kind, f.start, f.value) for f in found[0]] == [("email", 4, "ana@acme.io")]


@pytest.mark.parametrize("text", [
    "my pay review: the api_key and --password flags; Épay mypass x--password sk-abc",
    "doctor's note\nPerformance review ÄStreet 12 Main st. ﬁ token=abc",
])
def test_keyword_pass_fast_path_matches_regex(redactor: Redactor, text: str) -> None:
    anchors = redactor.anchors
    assert anchors.titled is not None
    lowered = text.lower()
    slow = [(m.start(), m.group()) for m in anchors.regex.finditer(lowered)]  # type: ignore[union-attr]
    data = lowered.encode("ascii", "replace").title()
    fast = [(m.start(), m.group().decode().lower()) for m in anchors.titled.finditer(data)]
    assert fast == slow and slow


# Found on the third held-out set, then fixed (generic bugs; examples invented here):
def test_slack_app_level_token_is_an_api_key(redactor: Redactor) -> None:
    token = "xapp-1-B07QRSTUV12-6120394857162-9f3c2a7d1e8b4c6f0a5d2e9b7c1f4a8d3e6b9c2f5a8d1e4b"
    assert kinds(redactor, f"SLACK_APP_TOKEN={token}") == [("api_key", token)]
    assert kinds(redactor, f"socket mode uses {token} now") == [("api_key", token)]
    assert kinds(redactor, "the xapp-config file and xapp-1-short") == []


def test_password_keyword_inside_a_log_value_does_not_make_a_password(
    redactor: Redactor,
) -> None:
    # the keyword is part of a field's value, or the next token is another field
    assert kinds(redactor, "level=warn event=login_rejected cause=wrong_password tries=5") == []
    assert kinds(redactor, "denied: invalid password count=2 user_id=4411") == []
    # prose passwords are still passwords
    assert kinds(redactor, "the vpn password Gl4cier#Owl9 works") == [
        ("password", "Gl4cier#Owl9")
    ]
    assert kinds(redactor, "old_password Gl4cier#Owl9") == [("password", "Gl4cier#Owl9")]


def test_hyphenated_german_street_names(redactor: Redactor) -> None:
    text = "Lieferadresse: Rosa-Luxemburg-Straße 7, 01069 Dresden, bitte klingeln"
    assert kinds(redactor, text) == [("address", "Rosa-Luxemburg-Straße 7, 01069 Dresden")]
    assert kinds(redactor, "Graf-Adolf-Str. 19") == [("address", "Graf-Adolf-Str. 19")]
    assert kinds(redactor, "Hauptstraße 5") == [("address", "Hauptstraße 5")]


@pytest.mark.parametrize(("text", "address"), [
    ("send it to 5 bis rue de la Roquette, 75011 Paris please",
     "5 bis rue de la Roquette, 75011 Paris"),
    ("Adresse : 14, avenue Jean Jaurès, 69007 Lyon.", "14, avenue Jean Jaurès, 69007 Lyon"),
    ("siège au 3 Place d'Italie, 13006 Marseille", "3 Place d'Italie, 13006 Marseille"),
    ("the shop is at Piazza del Duomo 5, 20122 Milano, top floor",
     "Piazza del Duomo 5, 20122 Milano"),
    ("sede in via Garibaldi 12, 10122 Torino (TO)", "via Garibaldi 12, 10122 Torino (TO)"),
    ("Kantoor: Herengracht 482, 1017 CB Amsterdam.", "Herengracht 482, 1017 CB Amsterdam"),
    ("ons adres is Overtoomlaan 3-5, 2012 AB Haarlem", "Overtoomlaan 3-5, 2012 AB Haarlem"),
])
def test_french_italian_and_dutch_street_addresses(
    redactor: Redactor, text: str, address: str
) -> None:
    assert kinds(redactor, text) == [("address", address)]


@pytest.mark.parametrize("text", [
    # without a postcode and city, a street type is just a word
    "the rue de la Paix square on the Monopoly board",
    "we sent it via Royal Mail 24, tracked",
    "12 rue Lepic was where they filmed it",
    "take the Corso Como exit, 4 km",
    "Prinsengracht 263 is the museum",
    "in place 2, 75001 votes",
])
def test_street_types_without_a_postcode_are_not_addresses(redactor: Redactor, text: str) -> None:
    assert kinds(redactor, text) == []


def test_markdown_table_column_header_decides_version_or_address(redactor: Redactor) -> None:
    table = (
        "| Unit | Address | Firmware |\n|---|:---:|---|\n"
        "| gw-1 | 10.8.0.21 | 7.2.0.14 |\n| gw-2 | 10.8.0.22 | 7.2.0.14 |"
    )
    assert kinds(redactor, table) == [("ip", "10.8.0.21"), ("ip", "10.8.0.22")]
    # a version word in the column to the left is not about this column
    assert kinds(redactor, "| Release | Host |\n|---|---|\n| 3.1 | 172.16.9.40 |") == [
        ("ip", "172.16.9.40")
    ]
    # without a header rule it is not a table: the words before it decide, as elsewhere
    assert kinds(redactor, "a | b\n| 172.16.9.40 |") == [("ip", "172.16.9.40")]


def test_a_bumped_dependency_version_is_not_an_ip(redactor: Redactor) -> None:
    assert kinds(redactor, "- Bump grpc runtime to 1.62.0.3") == []
    assert kinds(redactor, "chore(deps): bumped libfoo from 2.4.1.0 to 2.4.1.1") == []


@pytest.mark.parametrize(("text", "phone"), [
    ("bel me op 06-12345678 morgen", "06-12345678"),  # NL mobile: 06 then eight digits
    ("kantoor 020-6241234", "020-6241234"),
    ("my cell is 083 555 1234 after six", "083 555 1234"),  # trunk 0 in a 3-3-4 shape
    ("or (021) 555 7788 at the office", "(021) 555 7788"),
])
def test_national_trunk_zero_phone_formats(redactor: Redactor, text: str, phone: str) -> None:
    assert kinds(redactor, text) == [("phone", phone)]


@pytest.mark.parametrize("text", [
    "123 456 7890 is not a valid NANP number",  # area code starting with 1
    "order ref 06-12345678 shipped",  # a stop word still wins over the new shape
])
def test_trunk_zero_rules_keep_their_limits(redactor: Redactor, text: str) -> None:
    assert [k for k, _ in kinds(redactor, text)] == []


def test_digit_groups_of_a_mistyped_iban_are_not_a_phone(redactor: Redactor) -> None:
    # GB29 NWBK 6016 1331 9268 19 with a digit dropped: no valid IBAN, and no phone either
    assert kinds(redactor, "wire it to GB29 NWBK 6016 1331 9268 1 today") == []
    assert kinds(redactor, "IBAN NL91 ABNA 0417 1643 01 bounced") == []
    assert kinds(redactor, "call 020 7946 0958") == [("phone", "020 7946 0958")]
