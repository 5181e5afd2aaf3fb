"""What a conversation has established, for ticking procedure steps: facts the customer gave, turn by turn.

``read_customer_turn`` reads labelled values ("Order ID: 3348917502", "username is jsmith1"), values that
answer the agent's last question (a bare ten-digit number after "your phone number?") and bare values with
an unmistakable shape (an email, "(977) 625-2661", "cminh730"), plus full names ("Crystal Minh" after "may
I have your name?"). ``read_entities`` adds screenshot entities (``assist.domain.ScreenEntity``, as the screen
reader produces them: order_id, account_id, amount, product, status). Each fact keeps the turn that gave it,
so the rules in ``assist.replies.procedures.rules`` can cite it as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from assist.domain import ScreenEntity

CUSTOMER, AGENT = "customer", "agent"
ID_KINDS = ("username", "email", "phone", "order_id", "zip", "account_id", "pin")  # identity checks use these
_I = re.IGNORECASE

# --- facts the customer gives ----------------------------------------------------------------------
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<!\d)(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]?\d{4}(?!\d)")
_NUMBER = re.compile(r"(?<![\d$.,-])\d{3,12}(?![\d.,-]\d)")
_ORDER_LABEL = re.compile(r"\border\b(?:\s*(?:id|number|no\.?|#))?(?:\s+is)?\s*[:#]?\s*"
                          r"([A-Za-z0-9-]*\d[A-Za-z0-9-]*)", _I)
_ACCOUNT_LABEL = re.compile(r"\baccount\s*(?:id|number|no\.?|#)(?:\s+is)?\s*[:#]?\s*([A-Za-z0-9-]{5,})", _I)
_USERNAME_LABEL = re.compile(r"\buser\s?name\b(\s+is\s+|\s*:\s*|\s+)([A-Za-z0-9._-]{3,})", _I)
_USERNAME_TOKEN = re.compile(r"[a-z][a-z.]{2,}\d{1,4}")  # ABCD usernames: first initial + surname + digits
_ZIP = re.compile(r"\bzip(?:\s*code)?(?:\s+is)?\s*[:#]?\s*(\d{5})\b", _I)
_PIN = re.compile(r"\bpin(?:\s*(?:number|code|#))?(?:\s+is)?\s*[:#]?\s*(\d{3,6})\b", _I)
_ADDRESS = re.compile(r"\b\d{1,6}\s+(?:[a-z0-9]+\s+){0,4}(?:st|street|ave|avenue|rd|road|blvd|boulevard|ln|lane|dr|"
                      r"drive|way|ct|court|pl|place|pkwy|parkway|terrace|circle)\b", _I)
_AMOUNT = re.compile(r"\$\s?\d+(?:\.\d+)?|\b\d+(?:\.\d\d)?\s?(?:dollars|bucks|usd)\b", _I)
_LEVEL = re.compile(r"\b(gold|silver|bronze|guest)\b", _I)
_NAME_CAPITALISED = re.compile(r"\b(?i:my name is|my name's|name is|this is|i am|i'm|it's|it is|name:)\s+"
                               r"([A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+){1,2})\b")
_NAME_LOWER = re.compile(r"\b(?:my name is|my name's|name is|name:)\s+([a-z'-]+(?:\s+[a-z'-]+){1,2})\s*[.!]?$", _I)
SHIPPING_STATES = re.compile(r"order received|in transit|out for delivery|\bdelivered\b|\bshipped\b|on (?:its|the) way|"
                              r"(?:has ?n[o']t|not yet|never) (?:been )?(?:shipped|arrived|delivered)|tracking", _I)
_COMMON = frozenset(
    "yes no ok okay sure thanks thank you hi hello hey good morning afternoon evening please it is my name the a i "
    "am great fine of course that this not sorry what why hang on one moment just wait sec second here there yeah "
    "yep nope right alright well so and or but have has had do does did can could would will me we us our for to "
    "in at with about from help need want problem issue order account refund return item jeans shirt shirts boots "
    "jacket sweater socks shoes pants".split())

_ASKS = {
    "name": re.compile(r"\bname\b", _I),
    "account_id": re.compile(r"account\s*(?:id|number|#)", _I),
    "order_id": re.compile(r"order\s*(?:id|number|#)", _I),
    "phone": re.compile(r"phone|telephone|number (?:to|we can|i can) (?:call|reach)", _I),
    "zip": re.compile(r"\bzip", _I),
    "pin": re.compile(r"\bpin\b", _I),
    "security_answer": re.compile(r"security (?:question|answer)|maiden name", _I),
    "username": re.compile(r"user\s?name", _I),
    "amount": re.compile(r"how much|\bamount\b|\bprice\b|\bcost\b", _I),
}
ACK_ONLY = re.compile(r"^(?:ok(?:ay)?|yes|yeah|yep|no|sure|thanks?(?: you)?|one (?:moment|sec(?:ond)?)|hold on|hmm+|"
                       r"right|alright|great|cool)[\s.!?]*$", _I)


@dataclass(frozen=True)
class Given:
    """One fact and where it came from: turn number and a short quote."""

    turn: int
    source: str  # "customer" or "screen"
    quote: str


@dataclass(frozen=True)
class Turn:
    """One observed chat turn; ``asked`` is the agent's latest block of turns (lower case)."""

    number: int
    role: str
    text: str
    asked: str


@dataclass
class Facts:
    """What the conversation has established so far (kept across procedure switches)."""

    slots: dict[str, Given] = field(default_factory=dict)  # kind -> when it was first given
    latest: dict[str, Given] = field(default_factory=dict)  # kind -> when it was last given
    customer_text: str = ""  # lower-cased customer words so far (capped), for FAQ topics

    def give(self, kind: str, turn: int, source: str, quote: str) -> None:
        given = Given(turn, source, short(quote))
        self.slots.setdefault(kind, given)
        self.latest[kind] = given


def short(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut to ``limit`` characters (evidence quotes)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def words(text: str) -> list[str]:
    """Lower-case words of ``text``."""
    return re.findall(r"[a-z']+", text.lower())


def _looks_like_name(text: str, asked_name: bool) -> bool:
    """A bare 2-3 word reply of ordinary words that are not chat fillers ("Crystal Minh")."""
    parts = text.strip(" .!").split()
    if not 2 <= len(parts) <= 3 or not all(re.fullmatch(r"[A-Za-z'-]+", w) for w in parts):
        return False
    if any(w.lower() in _COMMON for w in parts):
        return False
    return asked_name or all(w[0].isupper() for w in parts)


def read_customer_turn(turn: Turn, facts: Facts) -> None:
    """Add the facts a customer turn gives: labelled values, values that answer the agent's question."""
    text, n, asked = turn.text, turn.number, turn.asked
    asks = {kind for kind, pattern in _ASKS.items() if pattern.search(asked)}
    stripped = text.strip(" .!?")
    if EMAIL.search(text):
        facts.give("email", n, CUSTOMER, text)
    if PHONE.search(text):
        facts.give("phone", n, CUSTOMER, text)
    if (m := _ORDER_LABEL.search(text)) and len(m.group(1)) >= 4:
        facts.give("order_id", n, CUSTOMER, text)
    if (m := _ACCOUNT_LABEL.search(text)) and (any(c.isdigit() for c in m.group(1)) or m.group(1).isupper()):
        facts.give("account_id", n, CUSTOMER, text)
    if (m := _USERNAME_LABEL.search(text)) and m.group(2).lower() not in _COMMON and (
            m.group(1).strip() or any(c.isdigit() for c in m.group(2))):
        facts.give("username", n, CUSTOMER, text)
    if _USERNAME_TOKEN.fullmatch(stripped) or ("username" in asks and re.fullmatch(r"[\w.-]{3,}", stripped)
                                               and stripped.lower() not in _COMMON):
        facts.give("username", n, CUSTOMER, text)
    if _ZIP.search(text) or ("zip" in asks and re.fullmatch(r"\d{5}", stripped)):
        facts.give("zip", n, CUSTOMER, text)
    if _PIN.search(text) or ("pin" in asks and re.fullmatch(r"\d{3,6}", stripped)):
        facts.give("pin", n, CUSTOMER, text)
    if "security_answer" in asks and 1 <= len(stripped.split()) <= 4 and not ACK_ONLY.match(stripped):
        facts.give("security_answer", n, CUSTOMER, text)
    if _ADDRESS.search(text):
        facts.give("address", n, CUSTOMER, text)
    if _AMOUNT.search(text) or ("amount" in asks and re.fullmatch(r"\$?\d+(?:\.\d\d)?", stripped)):
        facts.give("amount", n, CUSTOMER, text)
    if _LEVEL.search(text):
        facts.give("membership_level", n, CUSTOMER, text)
    if "account_id" in asks and re.fullmatch(r"[A-Z0-9]{5,}", stripped) and not stripped.isdigit():
        facts.give("account_id", n, CUSTOMER, text)
    _read_bare_number(text, n, asks, facts)
    if _NAME_CAPITALISED.search(text) or _NAME_LOWER.search(text) or _looks_like_name(text, "name" in asks):
        facts.give("full_name", n, CUSTOMER, text)
    facts.customer_text = (facts.customer_text + " " + text.lower())[-4000:]


def _read_bare_number(text: str, n: int, asks: set[str], facts: Facts) -> None:
    """A bare number is a phone, zip, PIN or account id when the agent asked for one, else an order id."""
    if PHONE.search(text) or _ORDER_LABEL.search(text) or _ZIP.search(text) or _PIN.search(text):
        return
    for m in _NUMBER.finditer(text):
        digits = m.group(0)
        if "phone" in asks and len(digits) == 10:
            facts.give("phone", n, CUSTOMER, text)
        elif "zip" in asks and len(digits) == 5:
            facts.give("zip", n, CUSTOMER, text)
        elif "pin" in asks and len(digits) <= 6:
            facts.give("pin", n, CUSTOMER, text)
        elif "account_id" in asks and len(digits) >= 5 and "order_id" not in asks:
            facts.give("account_id", n, CUSTOMER, text)
        elif len(digits) >= 6:
            facts.give("order_id", n, CUSTOMER, text)


_ENTITY_SLOTS = {"order_id": "order_id", "account_id": "account_id", "amount": "amount", "product": "product"}
_SHIPPING_STATUS = {"shipped", "delivered", "in transit", "out for delivery", "pending", "delayed", "order received"}
_SUBSCRIPTION_STATUS = {"active", "cancelled", "canceled", "expired", "overdue", "paid", "suspended"}


def read_entities(entities: Iterable[ScreenEntity], turn: int, facts: Facts) -> None:
    """Screenshot entities the agent has on screen count as given."""
    for entity in entities:
        kind, value = entity.kind, entity.value
        if kind in _ENTITY_SLOTS and value:
            facts.give(_ENTITY_SLOTS[kind], turn, "screen", f"{kind.replace('_', ' ')} {value}")
        elif kind == "status" and value.lower() in _SHIPPING_STATUS:
            facts.give("shipping_state", turn, "screen", f"status {value}")
        elif kind == "status" and value.lower() in _SUBSCRIPTION_STATUS:
            facts.give("subscription_state", turn, "screen", f"status {value}")
