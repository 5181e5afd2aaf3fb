"""Entities an agent can act on, pulled from OCR text lines with regular expressions (pure Python).

Kinds and how each is found:

- ``order_id`` / ``ticket_id`` / ``account_id``: an identifier after a label ("Order #A12345",
  "Order ID: 6449343909", "Ticket 98765", "Case #C-77", "Account: 1234-5678") or in a prefixed
  form ("ORD-2024-0012", "TKT-5521", "INC0012345"). An id needs a digit, except after an explicit
  "ID"/":"/"#" where an all-capitals code of 6+ letters also counts ("Account ID: WCUSTYQERI").
  Value: the id in capitals, without "#".
- ``error_code``: UPPER_SNAKE codes that name a failure ("ERR_PAYMENT_DECLINED"), "Error 504" /
  "Error code: 0x80070005", "E1234"-style codes, and HTTP statuses with their phrase
  ("504 Gateway Timeout" -> "HTTP 504").
- ``amount``: a number with a currency symbol or ISO code on either side ("$12.99", "€1.234,56",
  "12.99 USD"). Value: "1234.56 EUR" (dot decimal, no grouping). A separator followed by exactly
  three digits is read as grouping ("$1,234" -> 1234.00), otherwise as the decimal point.
- ``date``: ISO (2024-03-15), numeric with "/" (month first, as in the US, unless the first number
  is over 12), numeric with "." or "-" and the year last (day first), and month names ("March 22,
  2024", "22 Mar 2024", "22-Mar-2024"). Value: ISO yyyy-mm-dd; impossible dates are dropped.
- ``product``: the capitalised words after a "Product:", "Item:", "Model:" or "Plan:" label (up to
  six words, stopping at a wide gap), plus names from a caller-supplied catalogue (e.g. the shop's
  product list) matched as whole words, case-insensitively.
- ``status``: order/payment/ticket states. Unambiguous words (Delayed, Declined, Failed, Refunded,
  Shipped, Pending, Cancelled, Delivered, ...) count anywhere; everyday words that are also states
  (Active, Open, Closed, Approved, ...) only right after a "Status:"/"State:" label. Value: the
  canonical capitalised form ("canceled" -> "Cancelled").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assist.domain import ScreenEntity

KINDS = ("order_id", "ticket_id", "account_id", "error_code", "amount", "date", "product", "status")


@dataclass(frozen=True)
class Entity(ScreenEntity):
    """A ``ScreenEntity`` (kind: one of KINDS; value normalised, see the module docstring) and where it was read."""

    text: str  # as it appears in the line
    line: int  # index of the source line
    start: int  # character span of ``text`` in the source line
    end: int
    source: str  # the source line


# --- identifiers ------------------------------------------------------------------------------
_ID_LABELS = {
    "order_id": r"order|ord|purchase",
    "ticket_id": r"ticket|case|incident|request|ref(?:erence)?",
    "account_id": r"account|acct|acc|customer|member(?:ship)?",
}
_ID_SUFFIX = r"(?:\s*(?P<strong>(?i:id|no\.?|number|num)|#|:))?(?:\s*[:#])*"
_ID_VALUE = r"\s*(?P<id>[A-Z0-9][A-Z0-9_-]*[A-Z0-9]|[0-9])\b"
_LABELLED_ID = {
    kind: re.compile(rf"(?<![\w-])(?i:{labels})\b{_ID_SUFFIX}{_ID_VALUE}")
    for kind, labels in _ID_LABELS.items()
}
_PREFIXED_ID = {
    "order_id": re.compile(r"\b(?:ORD|ORDER|PO|SO)[-_#]?\d[\dA-Z-]{2,}\b"),
    "ticket_id": re.compile(r"\b(?:TKT|TCK|TICKET|INC|CASE|CS|REQ|SR)[-_#]?\d{3,}[\dA-Z-]*\b"),
    "account_id": re.compile(r"\b(?:ACCT|ACC|CUST)[-_#]?\d{3,}[\dA-Z-]*\b"),
}


def _find_ids(line: str) -> Iterable[tuple[str, str, int, int]]:
    for kind, pattern in _LABELLED_ID.items():
        for m in pattern.finditer(line):
            value = m.group("id")
            has_digit = any(ch.isdigit() for ch in value)
            code_like = bool(m.group("strong")) and value.isalpha() and value.isupper() and len(value) >= 6
            if len(value) < 3 or not (has_digit or code_like):
                continue
            yield kind, value.upper(), m.start(), m.end()
    for kind, pattern in _PREFIXED_ID.items():
        for m in pattern.finditer(line):
            yield kind, m.group(0).upper(), m.start(), m.end()


# --- error codes --------------------------------------------------------------------------------
_FAILURE_PARTS = {"ERR", "ERROR", "FAIL", "FAILED", "FAILURE", "DECLINED", "DENIED", "INVALID", "TIMEOUT",
                  "EXPIRED", "UNAUTHORIZED", "FORBIDDEN", "EXCEEDED", "INSUFFICIENT", "UNAVAILABLE", "REJECTED",
                  "NOT", "NO", "MISSING", "BLOCKED", "LOCKED", "EXCEPTION", "FRAUD", "LIMIT"}
_SNAKE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
_ERROR_NUMBER = re.compile(r"\b(?i:error|err|fault|exception)(?:\s+(?i:code|no\.?|number|#))?\s*[:#]?\s*"
                           r"(?P<code>0x[0-9A-Fa-f]{4,8}|[A-Z]{0,3}-?\d{2,6})\b")
_E_CODE = re.compile(r"\b(?P<code>E\d{3,5})\b")
_HTTP_PHRASES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}
_HTTP = re.compile(r"\b(?:HTTP\s*)?(?P<code>" + "|".join(str(c) for c in _HTTP_PHRASES) + r")\s*[-:]?\s*(?P<phrase>"
                   + "|".join(re.escape(p) for p in _HTTP_PHRASES.values()) + r")\b", re.IGNORECASE)


def _find_errors(line: str) -> Iterable[tuple[str, str, int, int]]:
    for m in _SNAKE.finditer(line):
        if _FAILURE_PARTS & set(m.group(0).split("_")):
            yield "error_code", m.group(0), m.start(), m.end()
    for m in _HTTP.finditer(line):
        if _HTTP_PHRASES[int(m.group("code"))].lower() == m.group("phrase").lower():
            yield "error_code", f"HTTP {m.group('code')}", m.start(), m.end()
    for m in _ERROR_NUMBER.finditer(line):
        code = m.group("code")
        yield "error_code", f"Error {code.upper() if not code.lower().startswith('0x') else code.lower()}", \
            m.start(), m.end()
    for m in _E_CODE.finditer(line):
        yield "error_code", m.group("code"), m.start(), m.end()


# --- amounts ------------------------------------------------------------------------------------
_SYMBOLS = {"US$": "USD", "CA$": "CAD", "C$": "CAD", "A$": "AUD", "AU$": "AUD", "$": "USD", "€": "EUR",
            "£": "GBP", "¥": "JPY", "₹": "INR", "CHF": "CHF"}
_CODES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "INR", "CNY", "SEK", "NOK", "DKK", "PLN", "MXN",
          "BRL", "NZD", "SGD", "HKD", "ZAR")
_SYMBOL_RE = "|".join(re.escape(s) for s in sorted(_SYMBOLS, key=len, reverse=True))
_CODE_RE = "|".join(_CODES)
_NUMBER = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_AMOUNT = re.compile(
    rf"(?P<neg>-)?(?:(?P<pre>{_SYMBOL_RE}|\b(?:{_CODE_RE})\b)\s?(?P<num1>{_NUMBER})"
    rf"|(?<![\w.,])(?P<num2>{_NUMBER})\s?(?P<post>{_SYMBOL_RE}|\b(?:{_CODE_RE})\b|(?i:dollars?|euros?)))(?![\d])"
)


def parse_number(text: str) -> float:
    """'1.234,56' / '1,234.56' / '12,5' -> float (see the module docstring for the rule)."""
    digits = text
    last = max(digits.rfind("."), digits.rfind(","))
    if last == -1:
        return float(digits)
    decimals = len(digits) - last - 1
    if decimals == 3:  # grouping only
        return float(re.sub(r"[.,]", "", digits))
    whole = re.sub(r"[.,]", "", digits[:last])
    return float(f"{whole}.{digits[last + 1:]}")


def _currency(token: str) -> str:
    token = token.strip()
    if token.upper() in _CODES:
        return token.upper()
    if token.lower().startswith("dollar"):
        return "USD"
    if token.lower().startswith("euro"):
        return "EUR"
    return _SYMBOLS[token]


def _find_amounts(line: str) -> Iterable[tuple[str, str, int, int]]:
    for m in _AMOUNT.finditer(line):
        number = m.group("num1") or m.group("num2")
        currency = _currency(m.group("pre") or m.group("post"))
        value = parse_number(number) * (-1 if m.group("neg") else 1)
        yield "amount", f"{value:.2f} {currency}", m.start(), m.end()


# --- dates --------------------------------------------------------------------------------------
_MONTHS = {name: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for name in names}
_MONTH_RE = r"(?i:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_PATTERNS = [
    ("ymd", re.compile(r"\b(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})\b")),
    ("slash", re.compile(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{4}|\d{2})\b")),
    ("dmy", re.compile(r"\b(?P<d>\d{1,2})[.-](?P<m>\d{1,2})[.-](?P<y>\d{4})\b")),
    ("mdy_name", re.compile(rf"\b(?P<mon>{_MONTH_RE})\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b")),
    ("dmy_name", re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?[\s-]+(?P<mon>{_MONTH_RE})[\s,-]+(?P<y>\d{{4}})\b")),
]


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year


def _find_dates(line: str) -> Iterable[tuple[str, str, int, int]]:
    for form, pattern in _DATE_PATTERNS:
        for m in pattern.finditer(line):
            g = m.groupdict()
            if form == "slash":
                a, b = int(g["a"]), int(g["b"])
                month, day = (b, a) if a > 12 else (a, b)
            elif "mon" in g and g["mon"]:
                month, day = _MONTHS[g["mon"].rstrip(".").lower()], int(g["d"])
            else:
                month, day = int(g["m"]), int(g["d"])
            try:
                date = dt.date(_year(g["y"]), month, day)
            except ValueError:
                continue
            yield "date", date.isoformat(), m.start(), m.end()


# --- products -----------------------------------------------------------------------------------
_PRODUCT_LABEL = re.compile(
    r"\b(?i:product(?:\s+name)?|item(?:\s+name)?|model|plan)\s*:\s*"
    r"(?P<name>(?:[A-Z0-9]|[a-z]+[A-Z])[\w&'+.-]*(?: (?![\w&'+.-]+:)[A-Z0-9][\w&'+.-]*){0,5})"
)


def _find_products(line: str, catalogue: Sequence[tuple[str, re.Pattern[str]]]) -> Iterable[tuple[str, str, int, int]]:
    for m in _PRODUCT_LABEL.finditer(line):
        name = m.group("name").rstrip(".,;")
        yield "product", name, m.start("name"), m.start("name") + len(name)
    for name, pattern in catalogue:
        for m in pattern.finditer(line):
            yield "product", name, m.start(), m.end()


def _compile_catalogue(names: Iterable[str]) -> list[tuple[str, re.Pattern[str]]]:
    unique = sorted({" ".join(n.split()) for n in names if n and n.strip()}, key=len, reverse=True)
    return [(name, re.compile(r"(?<!\w)" + _words_re([name]) + r"(?!\w)", re.IGNORECASE)) for name in unique]


# --- statuses -----------------------------------------------------------------------------------
_STRONG_STATUS = {
    "delayed": "Delayed", "declined": "Declined", "failed": "Failed", "refunded": "Refunded",
    "shipped": "Shipped", "pending": "Pending", "cancelled": "Cancelled", "canceled": "Cancelled",
    "delivered": "Delivered", "overdue": "Overdue", "suspended": "Suspended", "backordered": "Backordered",
    "back-ordered": "Backordered", "returned": "Returned", "expired": "Expired", "rejected": "Rejected",
    "in transit": "In transit", "on hold": "On hold", "out of stock": "Out of stock", "disputed": "Disputed",
    "out for delivery": "Out for delivery", "escalated": "Escalated", "undeliverable": "Undeliverable",
    "past due": "Past due", "chargeback": "Chargeback", "refund pending": "Refund pending",
}
_WEAK_STATUS = {
    "active": "Active", "inactive": "Inactive", "open": "Open", "closed": "Closed", "resolved": "Resolved",
    "approved": "Approved", "processing": "Processing", "lost": "Lost", "damaged": "Damaged", "paid": "Paid",
    "unpaid": "Unpaid", "complete": "Complete", "completed": "Completed", "confirmed": "Confirmed",
    "on time": "On time", "received": "Received", "new": "New",
}


def _words_re(words: Iterable[str]) -> str:
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))


_STATUS_ANY = re.compile(rf"(?<![\w-])(?P<word>{_words_re(_STRONG_STATUS)})(?![\w-])", re.IGNORECASE)
_STATUS_LABELLED = re.compile(
    rf"\b(?:status|state)\s*:?\s*(?P<word>{_words_re(_WEAK_STATUS)})(?![\w-])", re.IGNORECASE)


def _find_statuses(line: str) -> Iterable[tuple[str, str, int, int]]:
    for m in _STATUS_ANY.finditer(line):
        yield "status", _STRONG_STATUS[" ".join(m.group("word").lower().split())], m.start("word"), m.end("word")
    for m in _STATUS_LABELLED.finditer(line):
        yield "status", _WEAK_STATUS[" ".join(m.group("word").lower().split())], m.start("word"), m.end("word")


# --- public API ---------------------------------------------------------------------------------
def extract_entities(lines: Sequence[str] | str, products: Iterable[str] = ()) -> list[Entity]:
    """Entities in ``lines`` (OCR rows in reading order, or one text), in line then position order.

    Overlapping matches of the same kind are resolved in favour of the longer one; a date is not
    also reported as an id or amount that lies inside it.
    """
    rows = lines.splitlines() if isinstance(lines, str) else list(lines)
    catalogue = _compile_catalogue(products)
    found: list[Entity] = []
    for number, line in enumerate(rows):
        candidates = [
            *_find_dates(line), *_find_ids(line), *_find_errors(line), *_find_amounts(line),
            *_find_products(line, catalogue), *_find_statuses(line),
        ]
        found.extend(_resolve(candidates, number, line))
    return found


_PRIORITY = {kind: i for i, kind in enumerate(("date", "error_code", "order_id", "ticket_id", "account_id",
                                               "amount", "product", "status"))}


def _resolve(candidates: list[tuple[str, str, int, int]], number: int, line: str) -> list[Entity]:
    """Drop duplicates and overlaps: the longer span wins, then the kind listed first in _PRIORITY."""
    ordered = sorted(set(candidates), key=lambda c: (-(c[3] - c[2]), _PRIORITY[c[0]], c[2]))
    kept: list[tuple[str, str, int, int]] = []
    for kind, value, start, end in ordered:
        if any(start < k_end and k_start < end for _, _, k_start, k_end in kept):
            continue
        kept.append((kind, value, start, end))
    return [Entity(kind, value, line[start:end], number, start, end, line)
            for kind, value, start, end in sorted(kept, key=lambda c: c[2])]
