"""Passwords said in passing and more street-address forms (redact/passwords.py, postal.py).

Every example is invented; none comes from a labelled set.
"""

from __future__ import annotations

import pytest
from test_redact_detectors import kinds as found

from lore.redact import Redactor, load_policy
from lore.redact.passwords import strength


def kinds_in(redactor: Redactor, text: str) -> set[str]:
    """The kinds of value found in `text`."""
    return {kind for kind, _ in found(redactor, text)}


PASSWORDS = [
    ("the password for the shared drive is Lk9-Vault-Q2-31, don't forward it", "Lk9-Vault-Q2-31"),
    ("set the root password to Fenix!2025a before the audit", "Fenix!2025a"),
    ("I reset the kiosk password to kiosk4471 this morning", "kiosk4471"),
    ("the vpn password went into the channel, it was Zp4!qR8#mW2s, rotate it", "Zp4!qR8#mW2s"),
    ("your reset link expired, here is a temporary password: Hq3$Tn8!Vb2w", "Hq3$Tn8!Vb2w"),
    ("anyone got the creds for the lab wifi? Harbor#Lights9 isn't working", "Harbor#Lights9"),
    ("no, it's literally Maple$Court31 on that box", "Maple$Court31"),
    ("$ docker login -u ci-bot -p %Tr7vQ2mXk9L registry.example.org", "%Tr7vQ2mXk9L"),
    ("mysql --user=report --password Rp7xQ2vLm9 analytics", "Rp7xQ2vLm9"),
]


@pytest.mark.parametrize(("text", "value"), PASSWORDS)
def test_passwords_in_prose_and_on_command_lines(
    redactor: Redactor, text: str, value: str
) -> None:
    assert ("password", value) in found(redactor, text)


NOT_PASSWORDS = [
    "the password policy is 12 characters minimum",
    "our password manager is 1Password now",
    "we moved the password reset flow to v2.3.1 last week",
    "password was rotated on 2024-05-01 by the on-call",
    "the password is stored in Vault under kv/prod/db",
    "set the password to something stronger please",
    "docker run -u 1000 -p 8080:80 nginx",
    "mysql -u root -p orders < dump.sql",
    "ssh -p 2222 deploy@bastion",
    "kernel 5.15.0-91-generic #101~20.04.1-Ubuntu SMP",
    "Thanks!See you at 10",
    "great news!!! We2 shipped",
    "ticket #Ops2024Review opened",
    "x = a!=B2c;",
]


@pytest.mark.parametrize("text", NOT_PASSWORDS)
def test_words_and_codes_that_only_look_like_passwords(redactor: Redactor, text: str) -> None:
    assert "password" not in kinds_in(redactor, text)


def test_strength_counts_character_classes_of_plausible_values_only() -> None:
    assert strength("Kx7!mP2q") == 4
    assert strength("kx7mp2qa") == 2
    assert strength("short1!") == 0  # under 8
    assert strength("https://a.b/Xy1!zzzz") == 0
    assert strength("Windows11") == 0  # a word with digits at its end
    assert strength("2aeef965-ec95-4e43-b727-66a29692f2cd") == 0  # an id


ADDRESSES = [
    ("ship it to Rua Augusta 1508, apto 12, São Paulo, SP, 01304-001 please",
     "Rua Augusta 1508, apto 12, São Paulo, SP, 01304-001"),
    ("office: Av. Insurgentes Sur 1602, Crédito Constructor, 03940",
     "Av. Insurgentes Sur 1602, Crédito Constructor, 03940"),
    ("nos vemos en Calle de Alcalá 48, 28014 Madrid", "Calle de Alcalá 48, 28014"),
    ("visit 1-9-1 Marunouchi, Chiyoda-ku, Tokyo 100-0005 for the meetup",
     "1-9-1 Marunouchi, Chiyoda-ku, Tokyo 100-0005"),
    ("send it to 10 Lower Thames Row, London EC3R 6AF today",
     "10 Lower Thames Row, London EC3R 6AF"),
    ("HQ is 455 Market, San Francisco, CA 94105", "455 Market, San Francisco, CA 94105"),
    ("mail 88 Collins, Melbourne VIC 3000", "88 Collins, Melbourne VIC 3000"),
    ("our Toronto desk: 20 Bay, Toronto, ON M5J 2N8", "20 Bay, Toronto, ON M5J 2N8"),
    ("Ship to Plot 71, Lorong Industri Ringan 3, Taman Perindustrian Jaya, 13600 by Friday",
     "Plot 71, Lorong Industri Ringan 3, Taman Perindustrian Jaya, 13600"),
    ("office at 22 Jalan Tun Razak, 50400 Kuala Lumpur", "22 Jalan Tun Razak, 50400"),
    ("visit 3 Harbour Crest, #12-01, Singapore 018956 for it",
     "3 Harbour Crest, #12-01, Singapore 018956"),
]


@pytest.mark.parametrize(("text", "value"), ADDRESSES)
def test_more_street_address_forms(redactor: Redactor, text: str, value: str) -> None:
    assert ("address", value) in found(redactor, text)


NOT_ADDRESSES = [
    "tracking 1Z999AA10123456784 ships from the CA 94105 warehouse",
    "ticket 42 in the London SE1 2RE area",
    "build 2024.11.3 on the Avenida staging host",
    "version 3 of Calle",
    "Call 0800 and ask for Paseo",
    "release 1-2-3 Minato, done",
    "we flew to Singapore 2019, great trip",
    "Jalan is his name, 40 years old",
    "Lorong 5 closed",
]


@pytest.mark.parametrize("text", NOT_ADDRESSES)
def test_postcodes_and_street_words_alone_are_not_addresses(
    redactor: Redactor, text: str
) -> None:
    assert "address" not in kinds_in(redactor, text)


def test_the_new_anchor_literals_keep_the_fast_keyword_pass(redactor: Redactor) -> None:
    """Non-ASCII anchor literals would switch the shared pass to its slow form."""
    assert redactor.anchors.titled is not None


IDS_NOT_SECRETS = [
    'tool_result: {"ok": true, "idempotency_key": "5b1f0c2e-9a7d-4e21-8c3f-0d6a2b9e4f17"}',
    "request key 5b1f0c2e-9a7d-4e21-8c3f-0d6a2b9e4f17 was replayed",
    "deck: https://docs.example.org/presentation/d/7Gh2Kq9LmP4xR8vT1wZ6yB3nC5dF0jS2aE/edit",
    "track: https://news.example.io/c/eJx9kT1PwzAQhv9K5Ll1Qh8KpUulLkhlYmDD2rK7pDbE4Q8pQf",
]


@pytest.mark.parametrize("text", IDS_NOT_SECRETS)
def test_ids_and_url_path_segments_are_not_secrets(redactor: Redactor, text: str) -> None:
    assert "secret" not in kinds_in(redactor, text)


CREDENTIALS_STILL_FOUND = [
    ("HEROKU_API_KEY=5b1f0c2e-9a7d-4e21-8c3f-0d6a2b9e4f17", "5b1f0c2e-9a7d-4e21-8c3f-0d6a2b9e4f17"),
    ('"api_key": "5b1f0c2e-9a7d-4e21-8c3f-0d6a2b9e4f17"', "5b1f0c2e-9a7d-4e21-8c3f-0d6a2b9e4f17"),
    ("https://chat.example.com/api/webhooks/123456789012345678/Qx9vLm2KpZ7rT4wB8nY3cF6hJ1sD5gA0eU",
     "Qx9vLm2KpZ7rT4wB8nY3cF6hJ1sD5gA0eU"),
]


@pytest.mark.parametrize(("text", "value"), CREDENTIALS_STILL_FOUND)
def test_credentials_named_as_such_are_still_found(
    redactor: Redactor, text: str, value: str
) -> None:
    assert value in [v for kind, v in found(redactor, text) if kind in ("secret", "api_key")]


@pytest.mark.parametrize(
    "text",
    [
        "pip install acme-sdk==2.8.0.1 --no-deps",
        "Saving ./acme_sdk-2.8.0.1-py3-none-any.whl",
        "bump openssl to 3.0.15, urllib3 to 2.2.3, protobuf to 5.28.3.0.",
        "kernel 6.1.0.7-cloud-amd64",
    ],
)
def test_pinned_and_listed_four_part_versions_are_not_addresses(
    redactor: Redactor, text: str
) -> None:
    assert "ip" not in kinds_in(redactor, text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("ssh deploy@10.0.0.7 -i key.pem", "10.0.0.7"),
        ("nginx 1.25.3 on 10.0.0.5", "10.0.0.5"),
        ("nginx 1.25.3 resolves via 8.8.8.8", "8.8.8.8"),
        ("dns 1.1.1.1 and 8.8.4.4", "1.1.1.1"),
    ],
)
def test_addresses_near_versions_are_still_addresses(
    redactor: Redactor, text: str, value: str
) -> None:
    assert ("ip", value) in found(redactor, text)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("the root password for the old printer is Tinpot77!, mind the mark", "password",
         "Tinpot77!"),
        ("user ro_app, and the password's Amber-Fox-309.", "password", "Amber-Fox-309"),
        ("the shared user `kiosk` (password `Kiosk-Legacy-2017`) goes away", "password",
         "Kiosk-Legacy-2017"),
        ("CACHE_URL=redis://:maple-river-44@cache.internal:6379/0", "password", "maple-river-44"),
        ("$ redis-cli -h cache.internal -a 'maple-river-44' ping", "password", "maple-river-44"),
        ("Postman key PMAK-0123456789abcdef01234567-0123456789abcdef0123456789abcdef01",
         "api_key", "PMAK-0123456789abcdef01234567-0123456789abcdef0123456789abcdef01"),
        ("| Acme Design | 455 West 5th Street, Austin, TX 78701 |", "address",
         "455 West 5th Street, Austin, TX 78701"),
    ],
)
def test_more_credential_and_address_forms(
    redactor: Redactor, text: str, kind: str, value: str
) -> None:
    assert (kind, value) in found(redactor, text)


@pytest.mark.parametrize(
    "text",
    [
        "queued to=ops@example.com message_id=<7f3a9c@mail.example.com>",
        "This is an automated message. Message-ID: <20260101.0930.X1@mail.example.com>",
        "$ wg show\ninterface: wg0\n  public key: 7RzK3mP9vQ2xB4nW8eF1cH6jL0tY5sA3dG9uI2oQkMs=",
    ],
)
def test_message_ids_and_public_keys_are_left_alone(redactor: Redactor, text: str) -> None:
    kinds = [kind for kind, _ in found(redactor, text)]
    assert "secret" not in kinds and kinds.count("email") == text.count("to=")


def test_a_webvtt_voice_tag_is_not_a_version_cue(redactor: Redactor) -> None:
    text = "<v Tomasz Wierzbicki>10.40.0.9, it's decommissioned."
    assert ("ip", "10.40.0.9") in found(redactor, text)
    assert "ip" not in kinds_in(redactor, "deployed v 2.0.0.1 today")


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("heroku token is 3f2a9c1e-7b4d-4e2a-9f1c-8d7e6b5a4c3b", "secret",
         "3f2a9c1e-7b4d-4e2a-9f1c-8d7e6b5a4c3b"),
        ("curl -H 'X-Api-Key 3f2a9c1e-7b4d-4e2a-9f1c-8d7e6b5a4c3b'", "secret",
         "3f2a9c1e-7b4d-4e2a-9f1c-8d7e6b5a4c3b"),
        ("example.com,https://example.com/login,alice,Zq8xY2wPmR4tLk9vBn3cHs7dFjQwE1Ab",
         "secret", "Zq8xY2wPmR4tLk9vBn3cHs7dFjQwE1Ab"),
        ("https://example.com/callback#Zq8xY2wPmR4tLk9vBn3cHs7dFjQwE1Ab", "secret",
         "Zq8xY2wPmR4tLk9vBn3cHs7dFjQwE1Ab"),
        ("filter: ip.src==192.168.1.23 and ip.dst!=10.0.0.5", "ip", "192.168.1.23"),
        ("wireshark ip.addr==10.20.30.40", "ip", "10.20.30.40"),
        ("upgraded nginx 1.25.3 and moved DNS to 8.8.8.8", "ip", "8.8.8.8"),
    ],
)
def test_what_the_new_exceptions_must_not_hide(
    redactor: Redactor, text: str, kind: str, value: str
) -> None:
    """Credentials and addresses next to the shapes the new rules leave alone (UUID ids,
    URL path segments, pinned versions) are still found."""
    assert (kind, value) in found(redactor, text)


def test_a_cli_password_pattern_stays_inside_its_text(redactor: Redactor) -> None:
    """Texts are joined for a batch; a pattern must neither lose a value at the end of a text
    nor read a flag in the next text as the previous one's."""
    mysql = "$ mysql -h db.internal -u admin -pZB#EF8UW"
    _, found_in = redactor.scan_many([mysql, "next"])
    assert ("password", "ZB#EF8UW") in [(f.kind, f.value) for f in found_in[0]]
    _, found_in = redactor.scan_many([" mysql ", "-password-ku,'NSW 2000"])
    assert found_in[1] == []


def test_postcode_candidates_agree_with_and_without_the_prefilter() -> None:
    from lore.redact import prefilter

    text = "12 Oak Lane Springfield IL 62704-12345 and 455 Market, San Francisco, CA 94105"
    results = []
    for enabled in (True, False):
        prefilter.ENABLED = enabled
        try:
            results.append([(f.kind, f.value) for f in Redactor(load_policy()).scan(text)])
        finally:
            prefilter.ENABLED = True
    assert results[0] == results[1]
    assert ("address", "455 Market, San Francisco, CA 94105") in results[0]


@pytest.mark.parametrize(
    "text",
    [
        "1 " + "A" * 400 + "/SW1A 1AA",  # many ways to split the capitals into words
        " -p Xy7!abcd" * 3000,  # one long line of flags
        " -p x" * 3000,
    ],
)
def test_adversarial_lines_are_scanned_in_linear_time(redactor: Redactor, text: str) -> None:
    """A liveness guard, not a benchmark: with backtracking or a rescan per flag these took
    minutes; the alarm turns such a hang into a failure."""
    import signal

    def hang(*_: object) -> None:
        raise TimeoutError("redaction did not finish")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)
    try:
        redactor.scan(text)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


CONTINENTAL_ADDRESSES = [
    ("we moved to Am Kaiserkai 12, 20457 Hamburg last week", "Am Kaiserkai 12, 20457"),
    ("Adresse: Praterstraße 10-12, 1020 Wien.", "Praterstraße 10-12, 1020"),
    ("the Oslo desk is Storgata 5, 0155 Oslo now", "Storgata 5, 0155"),
    ("Dronning Mauds gate 3, 0250 Oslo", "Dronning Mauds gate 3, 0250"),
    ("post: Aleksanterinkatu 22 C 14, 00170 Helsinki", "Aleksanterinkatu 22 C 14, 00170"),
    ("we're at Drottninggatan 8 A, 111 51 Stockholm", "Drottninggatan 8 A, 111 51"),
    ("and Odense is Vestergade 7, 1. tv., 5000 Odense C.", "Vestergade 7, 1. tv., 5000"),
    ("Biuro: ul. Piękna 7/2, 00-549 Warszawa", "ul. Piękna 7/2, 00-549"),
    ("Adres: Noorderlaan-Oost 14, 2030 Antwerpen.", "Noorderlaan-Oost 14, 2030"),
]


@pytest.mark.parametrize(("text", "value"), CONTINENTAL_ADDRESSES)
def test_continental_addresses_without_a_street_word(
    redactor: Redactor, text: str, value: str
) -> None:
    assert ("address", value) in found(redactor, text)


NOT_CONTINENTAL_ADDRESSES = [
    "Sprint 14, 2026 Planning starts Monday",
    "Version 3, 2024 Edition is out",
    "Room 12, 1200 Euros a month",
    "Build 7, 2025 Q3 release",
    "March 14, 2026 Update notes",
    "Chapter 9, 1984 Orwell",
    "we shipped 14, 2026 Planning",
    "Team Falcon 4, 2023 Review",
    "Lesson 5, 1500 Vocabulary words",
    "Module 4, 3600 Seconds",
    "Thread 7, 8192 Bytes",
    "Epoch 12, 50000 Samples",
    "Warehouse 3, 25000 Cartons",
    "GPU 0, 24576 MiB free",
    "Jurassic Park 3, 2001 Sequel",
    "Kaiser Wilhelm Ring 12, 2026 Meeting",
    "Müller 3, 2024 Bericht",
    "Sophie's 3, 2021 Vintage wine",
    "Hyper-V 2, 2019 Server",
    "Mission Impossible 4, 2011 Paramount",
    "Lakers 112, 1089 Celtics",
]


@pytest.mark.parametrize("text", NOT_CONTINENTAL_ADDRESSES)
def test_numbered_english_nouns_before_a_year_are_not_addresses(
    redactor: Redactor, text: str
) -> None:
    assert "address" not in kinds_in(redactor, text)


INDIAN_ADDRESSES = [
    ("new office: 14 Park Road, Adyar, Chennai 600020", "14 Park Road, Adyar, Chennai 600020"),
    ("moved to Plot 22, Sector 5, Kharghar, Navi Mumbai, Maharashtra 410210.",
     "Plot 22, Sector 5, Kharghar, Navi Mumbai, Maharashtra 410210"),
]


@pytest.mark.parametrize(("text", "value"), INDIAN_ADDRESSES)
def test_indian_addresses_ending_in_a_pin(redactor: Redactor, text: str, value: str) -> None:
    assert ("address", value) in found(redactor, text)


@pytest.mark.parametrize(
    "text",
    [
        "order 4412, Paid 123456 in full",
        "Sprint 3, Release 202405",
        "see item 12, Total 450000",
        "Tests 12 Passed, Duration 104233 ms",
        "42 Deals, Pipeline 250000",
        "12 Open Bugs, Backlog 100200",
        "30 Servers, Uptime 999999",
    ],
)
def test_six_digit_numbers_after_words_are_not_indian_addresses(
    redactor: Redactor, text: str
) -> None:
    assert "address" not in kinds_in(redactor, text)


def test_a_postcode_inside_an_address_is_not_a_phone(redactor: Redactor) -> None:
    text = "Mail to 2-3-4 Honcho, Naka-ku, Yokohama, Kanagawa 231-0005 please"
    assert found(redactor, text) == [
        ("address", "2-3-4 Honcho, Naka-ku, Yokohama, Kanagawa 231-0005")
    ]
    # the same digits alone, after a phone word, are still a phone number
    assert ("phone", "231-0005") in found(redactor, "call 231-0005")


NATIONAL_PHONES = [
    ("o número mudou: (21) 98812-3340", "(21) 98812-3340"),
    ("Konto oppdatert. Mobil 413 66 194.", "413 66 194"),
    ("Móvil 622 55 80 32, gracias", "622 55 80 32"),
    ("fijo 934 12 77 05", "934 12 77 05"),
    ("tel. 502 334 985", "502 334 985"),
    ("biuro, kom. 502 334 985", "502 334 985"),
]


@pytest.mark.parametrize(("text", "value"), NATIONAL_PHONES)
def test_national_phone_forms_after_a_cue(redactor: Redactor, text: str, value: str) -> None:
    assert ("phone", value) in found(redactor, text)


NOT_NATIONAL_PHONES = [
    "revenue grew on 12 000 000 units",
    "sales on 2024 11 03 were fine",
    "order 1234 5678 on file",
    "we counted 413 66 194 records",
    "the gateway is on 10.20.30.44 today",
    "Tracking: 1Z 888 BB2 02 3456 7891.",
    "shipped as 1Z 4F7 X92 03 1122 3344 yesterday",
    "the new driver is on 55 2345 6789.",  # ("on" is no phone cue: the lines below)
    "based on 2019-2023 data",
    "listening on 8080 8443",
    "open on 0900-1700 daily",
    "runs on 1920 1080 displays",
    "batch sizes on 16 32 64 128",
    "Mobil 2025 2026 Strategie",
    "tri-band GSM 900 1800 1900",
    "keep it handy 0800 1234",
    "bob@corp.example, 2024-2025 budget",
]


@pytest.mark.parametrize("text", NOT_NATIONAL_PHONES)
def test_amounts_ids_and_tracking_numbers_are_not_phones(
    redactor: Redactor, text: str
) -> None:
    assert "phone" not in kinds_in(redactor, text)


def test_the_working_directory_is_not_a_password(redactor: Redactor) -> None:
    text = "HOME=/home/ana\nPWD=/home/ana/app\nOLDPWD=/tmp/build\nSHELL=/bin/bash"
    assert not {"password", "secret"} & kinds_in(redactor, text)
    assert ("password", "Kx8vQ2mLp") in found(redactor, "DB_PWD=Kx8vQ2mLp")


def _airtable() -> str:
    return "pat" + "Q7wErT9yU1iOp3" + "." + "0f1e2d3c4b5a6978" * 4


KEY_PREFIXES = [
    "$ vault login hvs.Zt8KqP2mWn5RbX7cLs4VyJ9d",
    "batch token hvb.Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7",
    f"AIRTABLE_KEY={_airtable()}",
    f"- Airtable: {_airtable()}",
    "- RubyGems: rubygems_" + "0a1b2c3d4e5f6789" * 3,
]


@pytest.mark.parametrize("text", KEY_PREFIXES)
def test_vault_airtable_and_rubygems_keys(redactor: Redactor, text: str) -> None:
    assert "api_key" in kinds_in(redactor, text)


@pytest.mark.parametrize(
    "text",
    ["see hvs.short and the path patterns in patchwork", "rubygems_org is the gem host"],
)
def test_key_prefixes_alone_are_not_keys(redactor: Redactor, text: str) -> None:
    assert not {"api_key", "secret"} & kinds_in(redactor, text)


@pytest.mark.parametrize(
    "text",
    [
        "    Signature Algorithm: sha384WithRSAEncryption (1.2.840)",
        "signature algorithm ecdsaWithSHA512Encryption",
    ],
)
def test_algorithm_names_are_not_secrets(redactor: Redactor, text: str) -> None:
    assert "secret" not in kinds_in(redactor, text)


def test_random_camel_case_after_a_cue_is_still_a_secret(redactor: Redactor) -> None:
    assert "secret" in kinds_in(redactor, "signature token: Kq7RmTz2WvX9pLs4NbYc8Hd")


def test_a_password_read_out_after_a_colon(redactor: Redactor) -> None:
    text = "I'll paste the wiki password here so you can sign in: it's Corvina-Lago-58, thanks"
    assert ("password", "Corvina-Lago-58") in found(redactor, text)
    text = "the password reset is scheduled: it's done tomorrow"
    assert "password" not in kinds_in(redactor, text)


@pytest.mark.parametrize(
    "text",
    [
        "1 " + "Ab, " * 400 + "Cd 123456",  # many places before a PIN
        "Ab Cd " * 400 + "12, 12345 Berlin" + ", 12345 Ab" * 2000,
    ],
)
def test_back_from_postcode_searches_stay_linear(redactor: Redactor, text: str) -> None:
    test_adversarial_lines_are_scanned_in_linear_time(redactor, text)


def test_continental_candidates_agree_with_and_without_the_prefilter() -> None:
    from lore.redact import prefilter

    text = (
        "Ørsteds Plads 4, 1620 København V; ul. Wąska 3, 31-061 Kraków; 7 Lake View, Fort,"
        " Kochi 682001; Sprint 14, 2026 Planning; Office: 3 Main Road, Sreekaryam,"
        " Thiruvananthapuram Kazhakkoottam 695582"
    )
    results = []
    for enabled in (True, False):
        prefilter.ENABLED = enabled
        try:
            results.append([(f.kind, f.value) for f in Redactor(load_policy()).scan(text)])
        finally:
            prefilter.ENABLED = True
    assert results[0] == results[1]
    assert ("address", "Ørsteds Plads 4, 1620") in results[0]
    assert ("address", "ul. Wąska 3, 31-061") in results[0]
    assert ("address", "7 Lake View, Fort, Kochi 682001") in results[0]
    long_place = "3 Main Road, Sreekaryam, Thiruvananthapuram Kazhakkoottam 695582"
    assert ("address", long_place) in results[0]


def test_a_street_and_its_postcode_in_two_texts_of_a_batch_are_not_joined(
    redactor: Redactor,
) -> None:
    first, second = "the office is Storgata", "12, 0155 Oslo from May"
    findings = redactor.scan_many([first, second])[1]
    assert findings == [[], []]
    alone = redactor.scan_many([f"{first} {second}"])[1][0]
    assert [(f.kind, f.value) for f in alone] == [("address", "Storgata 12, 0155")]
