"""Replace personal data in free text with typed placeholders before it is stored.

Order matters: emails, then IBANs, then payment cards (Luhn), then SSNs, then phones, so a
looser rule never eats part of a stricter one. Every pattern starts at a token boundary and
has bounded repetition, so the scan stays linear on hostile input.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
CARD = "[CARD]"
IBAN = "[IBAN]"
SSN = "[SSN]"

# ISO 13616 registry lengths; a country not listed falls back to 15-34 characters.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

_EMAIL_RE = re.compile(
    r"(?<![\w.%+'-])[\w.%+'-]{1,64}@"
    r"[^\W_](?:[\w-]{0,62}[^\W_])?(?:\.[^\W_](?:[\w-]{0,62}[^\W_])?){0,8}\.[^\W\d_]{2,24}(?![\w-])"
)
_IBAN_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])")
_CARD_RE = re.compile(r"(?<![\w+.,-])(?:\d{3,6}(?:[ -]\d{3,6}){1,5}|\d{13,19})(?![\w-])")
_SSN_RE = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
_PHONE_RE = re.compile(
    r"(?<![\w+])(?<!\d[ .-])"
    r"(?:"
    r"\+\d{1,3}(?:[ .-]?\(\d{1,5}\)[ .-]?\d{1,5}|[ .-]\d{1,5}){1,7}"  # international: +44 (0)20 7946 0958
    r"|\+\d{8,15}"  # international, one run: +442079460958
    r"|(?:1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-]?)\d{3}[ .-]?\d{4}"  # NANP: (555) 123-4567
    r"|0\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4}"  # national with trunk 0: 020 7946 0958
    r"|\d{10,11}"  # a plain 10-11 digit run
    r")"
    r"(?![\w])(?![.-]\d)"
)
_DIGIT_RE = re.compile(r"\d")
_CARD_SEPARATOR_RE = re.compile(r"([ -])")
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")  # digit sum of 2*d


@dataclass(frozen=True)
class Redacted:
    """Redacted text and how many placeholders of each kind replaced something."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def luhn_valid(digits: str) -> bool:
    """True when a string of decimal digits passes the Luhn checksum."""
    if not digits.isascii():
        digits = "".join(str(int(char)) for char in digits)
    kept = digits[-1::-2].encode("ascii")
    doubled = digits[-2::-2].translate(_LUHN_DOUBLED).encode("ascii")
    total = sum(kept) + sum(doubled) - 48 * (len(kept) + len(doubled))
    return total % 10 == 0


def iban_valid(compact: str) -> bool:
    """True when an IBAN without spaces has a known length (if listed) and passes ISO 13616 mod-97."""
    compact = compact.upper()
    if not (15 <= len(compact) <= 34) or not compact.isascii() or not compact.isalnum():
        return False
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdecimal())


@functools.cache
def _spans(groups: int) -> tuple[tuple[int, int], ...]:
    """Contiguous (first, last) group ranges, most groups first, then leftmost."""
    spans = [(first, last) for first in range(groups) for last in range(first, groups)]
    return tuple(sorted(spans, key=lambda span: (span[0] - span[1], span[0])))


def _card(match: re.Match[str]) -> str | None:
    """Replace the longest run of whole digit groups (13-19 digits) that passes Luhn."""
    tokens = _CARD_SEPARATOR_RE.split(match.group())
    groups = tokens[0::2]
    ends = list(itertools.accumulate((len(group) for group in groups), initial=0))
    for first, last in _spans(len(groups)):
        if 13 <= ends[last + 1] - ends[first] <= 19:
            digits = "".join(groups[first : last + 1])
            if digits.strip("0") and luhn_valid(digits):
                return "".join(tokens[: 2 * first]) + CARD + "".join(tokens[2 * last + 1 :])
    return None


def _iban(match: re.Match[str]) -> str | None:
    """Longest space-separated prefix of the match that is a valid IBAN, plus the rest unchanged."""
    chunks = match.group().split(" ")
    for keep in range(len(chunks), 0, -1):
        if iban_valid("".join(chunks[:keep])):
            rest = " ".join(chunks[keep:])
            return IBAN + (" " + rest if rest else "")
    return None


def _phone(match: re.Match[str]) -> str | None:
    text = match.group()
    count = len(_digits(text))
    if text.startswith("+"):
        return PHONE if 8 <= count <= 15 else None
    return PHONE if 10 <= count <= 11 else None


def _always(placeholder: str) -> Callable[[re.Match[str]], str | None]:
    return lambda match: placeholder


_RULES: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str]], str | None], str], ...] = (
    ("email", _EMAIL_RE, _always(EMAIL), "@"),
    ("iban", _IBAN_RE, _iban, ""),
    ("card", _CARD_RE, _card, ""),
    ("ssn", _SSN_RE, _always(SSN), "-"),
    ("phone", _PHONE_RE, _phone, ""),
)


def _apply(text: str, pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str | None]) -> tuple[str, int]:
    count = 0

    def substitute(match: re.Match[str]) -> str:
        nonlocal count
        replacement = replace(match)
        if replacement is None:
            return match.group()
        count += 1
        return replacement

    return pattern.sub(substitute, text), count


def redact(text: str) -> Redacted:
    """Replace emails, phones, cards, IBANs and SSNs with placeholders; never raises on a str."""
    if not isinstance(text, str):
        text = text.decode("utf-8", "replace") if isinstance(text, bytes | bytearray) else str(text)
    counts: dict[str, int] = {}
    has_digits = _DIGIT_RE.search(text) is not None
    for kind, pattern, replace, needle in _RULES:
        if (needle and needle not in text) or (kind != "email" and not has_digits):
            continue
        text, count = _apply(text, pattern, replace)
        if count:
            counts[kind] = count
    return Redacted(text, counts)


__all__ = ["CARD", "EMAIL", "IBAN", "PHONE", "SSN", "Redacted", "iban_valid", "luhn_valid", "redact"]
