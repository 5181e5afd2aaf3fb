"""Redaction: each kind of personal data, look-alikes that must survive, size and hostile input."""

from __future__ import annotations

import random
import time

import pytest

from assist.storage.redaction import Redacted, iban_valid, luhn_valid, redact

PLACEHOLDERS = {"email": "[EMAIL]", "phone": "[PHONE]", "card": "[CARD]", "iban": "[IBAN]", "ssn": "[SSN]"}


def only(text: str) -> str:
    """The single placeholder ``text`` redacts to, or fail."""
    result = redact(text)
    assert sum(result.counts.values()) == 1, result
    return result.text


@pytest.mark.parametrize(
    "email",
    ["jane.doe@example.com", "j.o'neil+billing@mail.example.co.uk", "USER_9@sub-domain.example.org", "josé@exämple.de"],
)
def test_emails_become_email_placeholder(email: str) -> None:
    result = redact(f"Contact me at {email}, thanks.")
    assert result.text == "Contact me at [EMAIL], thanks."
    assert result.counts == {"email": 1}


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "5555 5555 5555 4444",
        "3782 822463 10005",  # Amex, 15 digits
        "6011111111111117",
        "4222222222222",  # 13-digit Visa
    ],
)
def test_luhn_valid_cards_become_card_placeholder(card: str) -> None:
    assert redact(f"my card is {card} exp 12/27").text == "my card is [CARD] exp 12/27"


@pytest.mark.parametrize("number", ["4111 1111 1111 1112", "4111-1111-1111-1112", "1234567812345678"])
def test_luhn_invalid_sixteen_digits_are_left_alone(number: str) -> None:
    text = f"reference {number} please"
    assert redact(text) == Redacted(text, {})


def test_card_inside_longer_digit_groups_is_found() -> None:
    assert redact("ref 12 4111 1111 1111 1111 ok").text == "ref 12 [CARD] ok"
    assert redact("4111111111111111 123").text == "[CARD] 123"


def test_card_runs_before_phone_so_a_card_is_not_split_into_phones() -> None:
    result = redact("card 5555555555554444 and call 555-123-4567")
    assert result.text == "card [CARD] and call [PHONE]"
    assert result.counts == {"card": 1, "phone": 1}


def test_luhn_helper() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    assert luhn_valid("٤١١١١١١١١١١١١١١١")  # Arabic-Indic digits count as digits


@pytest.mark.parametrize(
    "iban",
    [
        "GB82 WEST 1234 5698 7654 32",
        "GB82WEST12345698765432",
        "DE89 3704 0044 0532 0130 00",
        "FR14 2004 1010 0505 0001 3M02 606",
        "NL91ABNA0417164300",
        "be68 5390 0754 7034",
        "NO93 8601 1117 947",
    ],
)
def test_valid_ibans_become_iban_placeholder(iban: str) -> None:
    result = redact(f"Please pay to {iban} today.")
    assert result.text == "Please pay to [IBAN] today."
    assert result.counts == {"iban": 1}


@pytest.mark.parametrize("iban", ["GB82 WEST 1234 5698 7654 33", "DE89370400440532013001", "GB82WEST123456987654"])
def test_ibans_with_bad_checksum_or_length_are_left_alone(iban: str) -> None:
    assert not iban_valid(iban.replace(" ", ""))
    assert redact(f"pay to {iban} today").counts.get("iban", 0) == 0


def test_ssn_valid_and_invalid_areas() -> None:
    assert redact("SSN 123-45-6789.").text == "SSN [SSN]."
    for bad in ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-6789", "123-45-0000"]:
        assert redact(f"SSN {bad}.").counts == {}, bad


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "+442079460958",
        "(555) 123-4567",
        "555-123-4567",
        "555.123.4567",
        "+1 555 123 4567",
        "+1 (555) 123-4567",
        "1-800-555-1234",
        "5551234567",
        "15551234567",
        "020 7946 0958",
        "07700 900123",
        "+33 1 23 45 67 89",
    ],
)
def test_phone_formats_become_phone_placeholder(phone: str) -> None:
    assert only(f"call me on {phone} tomorrow") == "call me on [PHONE] tomorrow"


@pytest.mark.parametrize(
    "text",
    [
        "Where is order #A-10234?",
        "ticket 123456 is still open",
        "order 1234567 shipped on 2024-03-05 at 14:30",
        "refund of $1,234.56 for item 98765",
        "version 10.2.3 build 4411",
        "meeting 12.10.2023 14:00",
        "postcode SW1A 1AA, flat 12",
        "call 555-1234",
    ],
)
def test_order_ids_dates_and_short_numbers_survive(text: str) -> None:
    assert redact(text) == Redacted(text, {})


def test_counts_every_kind_in_one_message() -> None:
    text = (
        "I'm jane@example.com, card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, "
        "SSN 123-45-6789, phone +44 20 7946 0958, order #A-10234"
    )
    result = redact(text)
    assert result.counts == {"email": 1, "card": 1, "iban": 1, "ssn": 1, "phone": 1}
    assert result.text == ("I'm [EMAIL], card [CARD], IBAN [IBAN], SSN [SSN], phone [PHONE], order #A-10234")


def test_one_megabyte_of_chat_is_redacted_without_backtracking_blowup() -> None:
    """Guards against catastrophic regex backtracking only; speed itself is benchmarked, not tested."""
    line = "Hi, my order #A-10234 is late, call 555-123-4567 or mail a.b@example.com, card 4111 1111 1111 1111. "
    text = (line * (1_000_000 // len(line) + 1))[:1_000_000]
    start = time.perf_counter()
    result = redact(text)
    elapsed = time.perf_counter() - start
    assert elapsed < 15.0, f"1 MB took {elapsed:.2f}s"
    assert result.counts["email"] > 9000 and result.counts["card"] > 9000
    assert "4111" not in result.text


@pytest.mark.parametrize(
    "hostile",
    [
        "a" * 1_000_000,
        "1" * 1_000_000,
        "1 " * 500_000,
        "4111 " * 200_000,
        "a@" * 500_000,
        "+1 2" * 250_000,
        "GB82 " * 200_000,
        "12-" * 333_333,
    ],
    ids=["letters", "digits", "spaced-digits", "groups", "ats", "plus", "iban-ish", "dashes"],
)
def test_pathological_megabyte_stays_linear(hostile: str) -> None:
    start = time.perf_counter()
    redact(hostile)
    assert time.perf_counter() - start < 2.0


def test_binary_emoji_and_surrogates_do_not_raise() -> None:
    rng = random.Random(7)
    blob = rng.randbytes(100_000)
    for text in [
        blob.decode("utf-8", "replace"),
        blob.decode("utf-8", "surrogateescape"),  # lone surrogates
        blob.decode("latin-1"),
        "😡😡 card 4111 1111 1111 1111 😡\x00\ufeff",
        "\ud800\udfff" * 10,
        "",
    ]:
        result = redact(text)
        assert isinstance(result.text, str)
    assert redact("😡😡 card 4111 1111 1111 1111 😡\x00").text == "😡😡 card [CARD] 😡\x00"


def test_never_raises_on_random_strings_and_counts_match_placeholders() -> None:
    rng = random.Random(1234)
    alphabet = "0123456789" * 4 + " -.+()@/#_abcXYZGB" + "😀é\x00\ud83d\u0663"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        result = redact(text)
        for kind, placeholder in PLACEHOLDERS.items():
            assert result.text.count(placeholder) == result.counts.get(kind, 0), (text, result)
        if not result.counts:
            assert result.text == text


def test_non_str_input_is_coerced_not_raised() -> None:
    assert redact(b"mail a@b.com \xff").text == "mail [EMAIL] \ufffd"  # type: ignore[arg-type]
    assert redact(5551234567).text == "[PHONE]"  # type: ignore[arg-type]


def test_redacted_is_frozen() -> None:
    result = redact("x")
    with pytest.raises(AttributeError):
        result.text = "y"  # type: ignore[misc]
