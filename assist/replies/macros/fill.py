"""Filling a macro's placeholders from what the session knows: screenshot entities, the chat, the agent.

Values come, in this order, from ``FillContext.extra`` (anything the caller knows), the context's names,
entities found on screenshots (latest first), and a few patterns run over the conversation (latest turn
first). A placeholder nothing fills stays in the text as ``[order id?]`` and is listed in ``missing``.

The conversation patterns are a minimal copy of ideas in ``assist.inference.screen.entities`` (a sibling
library this one must not import): labelled ids ("order #AC-48213", "ticket 98765"), prefixed ids
("AC-48213"), currency amounts ("$59.99", "12 dollars"), ISO and US dates, UPPER_SNAKE error codes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from assist.domain import ScreenEntity

# name -> where its value comes from (the documented list; see assist.replies.macros.bank)
PLACEHOLDERS: dict[str, str] = {
    "customer_name": "the customer's name (context, or 'my name is ...' in the chat)",
    "agent_name": "the agent's name (context)",
    "order_id": "an order id (screenshot, or the chat)",
    "ticket_id": "a ticket / case id (screenshot, or the chat)",
    "account_id": "an account id (screenshot, or the chat)",
    "amount": "a money amount (screenshot, or the chat)",
    "date": "a date (screenshot, or the chat)",
    "product": "a product name (screenshot)",
    "status": "an order / payment status (screenshot)",
    "error_code": "an error code (screenshot, or the chat)",
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}
_SIGN_CODES = {"$": "USD", "€": "EUR", "£": "GBP"}

_ID_VALUE = r"(?P<v>[A-Za-z0-9][A-Za-z0-9-]*\d[A-Za-z0-9-]*)"
_ID_LABEL_TAIL = r"(?:\s*(?i:id|number|no\.?|#))?(?:\s+(?i:is|was))?\s*[:#]?\s*"
_TICKET_PREFIXES = ("TKT", "INC", "CASE", "REQ", "SR", "CS")
_ACCOUNT_PREFIXES = ("ACC", "ACCT", "CUST")
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
_CHAT_PATTERNS: dict[str, list[re.Pattern[str]]] = {
    "order_id": [re.compile(rf"\b(?i:order)\b{_ID_LABEL_TAIL}{_ID_VALUE}\b"),
                 re.compile(r"\b(?P<v>(?!(?:" + "|".join(_TICKET_PREFIXES + _ACCOUNT_PREFIXES) + r")-)"
                            r"[A-Z]{2,4}-\d{3,}[A-Z0-9]*)\b")],
    "ticket_id": [re.compile(rf"\b(?i:ticket|case|incident)\b{_ID_LABEL_TAIL}{_ID_VALUE}\b"),
                  re.compile(r"\b(?P<v>(?:" + "|".join(_TICKET_PREFIXES) + r")-?\d{3,}[A-Z0-9]*)\b")],
    "account_id": [re.compile(rf"\b(?i:account)\b{_ID_LABEL_TAIL}{_ID_VALUE}\b"),
                   re.compile(r"\b(?P<v>(?:" + "|".join(_ACCOUNT_PREFIXES) + r")-?\d{3,}[A-Z0-9]*)\b")],
    "amount": [re.compile(rf"(?P<sign>[$€£])\s?(?P<num>{_NUMBER})(?!\d)"),
               re.compile(rf"(?<![\w.,])(?P<num>{_NUMBER})\s?(?P<code>USD|EUR|GBP|(?i:dollars?|euros?))\b")],
    "date": [re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
             re.compile(r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\b")],
    "error_code": [re.compile(r"\b(?P<v>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b"),
                   re.compile(r"\b(?i:error)(?:\s+(?i:code))?\s*[:#]?\s*(?P<v>[A-Z]{0,3}-?\d{2,6})\b")],
    "customer_name": [re.compile(r"\b(?i:my name is|my name's|name is)\s+(?P<v>[A-Z][a-z'-]+(?: [A-Z][a-z'-]+)?)")],
}


def placeholders_in(text: str) -> tuple[str, ...]:
    """Placeholder names in ``text``, in order of first use."""
    return tuple(dict.fromkeys(_PLACEHOLDER.findall(text)))


def unknown_placeholders(text: str) -> tuple[str, ...]:
    """Placeholders in ``text`` that are not in PLACEHOLDERS."""
    return tuple(p for p in placeholders_in(text) if p not in PLACEHOLDERS)


def missing_marker(name: str) -> str:
    """How an unfilled placeholder shows: ``[order id?]``."""
    return f"[{name.replace('_', ' ')}?]"


@dataclass(frozen=True)
class FillContext:
    """What the session knows. ``entities``: screenshot entities, latest first; ``conversation``: turn texts,
    latest first."""

    entities: Sequence[ScreenEntity] = ()
    customer_name: str = ""
    agent_name: str = ""
    conversation: Sequence[str] = ()
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FilledReply:
    """A macro's text with placeholders filled; ``missing`` ones are marked in ``text`` for the agent."""

    text: str
    filled: dict[str, str]
    missing: list[str]
    origins: dict[str, str] = field(default_factory=dict)  # placeholder -> "context" | "screen" | "chat"
    unknown: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing


def format_amount(value: str) -> str:
    """'59.99 USD' -> '$59.99'; other currencies keep their code ('12.50 CAD'); other text is kept."""
    match = re.fullmatch(r"(-?)(\d+(?:\.\d+)?) ([A-Z]{3})", value.strip())
    if not match:
        return value.strip()
    sign, number, code = match.groups()
    amount = f"{float(number):,.2f}"
    return f"{sign}{_CURRENCY_SIGNS[code]}{amount}" if code in _CURRENCY_SIGNS else f"{sign}{amount} {code}"


def format_date(value: str) -> str:
    """'2024-03-15' -> 'March 15, 2024'; anything else is kept."""
    try:
        date = dt.date.fromisoformat(value.strip())
    except ValueError:
        return value.strip()
    return f"{date.strftime('%B')} {date.day}, {date.year}"


_FORMATTERS = {"amount": format_amount, "date": format_date}


def _chat_value(kind: str, match: re.Match[str]) -> str | None:
    groups = match.groupdict()
    if kind == "amount":
        number = float(groups["num"].replace(",", ""))
        token = groups.get("sign") or groups.get("code") or "$"
        code = _SIGN_CODES.get(token) or ("EUR" if token.lower().startswith("euro") else
                                          "USD" if token.lower().startswith("dollar") else token.upper())
        return f"{number:.2f} {code}"
    if kind == "date":
        try:
            return dt.date(int(groups["y"]), int(groups["m"]), int(groups["d"])).isoformat()
        except ValueError:
            return None
    value = groups["v"]
    if kind == "customer_name":
        return value
    return value.upper() if len(value) >= 3 else None


def extract_from_text(text: str, kinds: Sequence[str] | None = None) -> dict[str, str]:
    """The first value of each kind found in one chat turn (values normalised like screenshot entities)."""
    found: dict[str, str] = {}
    for kind, patterns in _CHAT_PATTERNS.items():
        if kinds is not None and kind not in kinds:
            continue
        for pattern in patterns:
            for match in pattern.finditer(text):
                value = _chat_value(kind, match)
                if value:
                    found[kind] = value
                    break
            if kind in found:
                break
    return found


def find_values(context: FillContext, names: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Raw values for ``names`` and where each came from (see the module docstring for the order)."""
    values: dict[str, str] = {}
    origins: dict[str, str] = {}

    def put(name: str, value: str, origin: str) -> None:
        if name in names and name not in values and value.strip():
            values[name], origins[name] = value.strip(), origin

    for name, value in context.extra.items():
        put(name, str(value), "context")
    put("customer_name", context.customer_name, "context")
    put("agent_name", context.agent_name, "context")
    for entity in context.entities:
        put(entity.kind, entity.value, "screen")
    for turn in context.conversation:
        wanted = [n for n in names if n not in values and n in _CHAT_PATTERNS]
        if not wanted:
            break
        for name, value in extract_from_text(turn, wanted).items():
            put(name, value, "chat")
    return values, origins


def fill(macro_text: str, context: FillContext) -> FilledReply:
    """Fill the placeholders of ``macro_text``; never raises for unknown or unfillable placeholders."""
    names = placeholders_in(macro_text)
    values, origins = find_values(context, names)
    filled = {n: _FORMATTERS.get(n, str.strip)(v) for n, v in values.items()}
    missing = [n for n in names if n not in filled]

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return filled[name] if name in filled else missing_marker(name)

    return FilledReply(text=_PLACEHOLDER.sub(substitute, macro_text), filled=filled, missing=missing,
                       origins={n: origins[n] for n in filled},
                       unknown=[n for n in names if n not in PLACEHOLDERS])
