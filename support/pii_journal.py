"""Journals full of PII for the privacy tests and bench_privacy: every kind the redactor must catch."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from assist.domain import ChatMessage, Role, Session
from assist.storage import Journal

FIRST = ["Dana", "Ali", "Mei", "Jonas", "Priya", "Luca", "Sara", "Tom"]
DOMAINS = ["example.com", "mail.co.uk", "firma.de", "uni.edu"]
CARDS = ["4111 1111 1111 1111", "5500-0000-0000-0004", "340000000000009", "6011000000000004"]
IBANS = ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR14 2004 1010 0505 0001 3M02 606"]
PHONES = ["(555) 201-7733", "+44 20 7946 0958", "+49 30 901820", "555-867-5309"]


def pii_message(rng: random.Random) -> str:
    name = rng.choice(FIRST)
    return rng.choice([
        f"Hi, it's {name}, email {name.lower()}.{rng.randint(1, 999)}@{rng.choice(DOMAINS)}, call me on "
        f"{rng.choice(PHONES)}",
        f"Charge it to {rng.choice(CARDS)} please, or wire it from {rng.choice(IBANS)}",
        f"My number is {rng.choice(PHONES)} and my card {rng.choice(CARDS)} was charged twice",
        f"Refund to IBAN {rng.choice(IBANS)}; receipts to {name}@{rng.choice(DOMAINS)}",
    ])


def every_kind_message(rng: random.Random) -> str:
    """One message with an email, a phone number, a card number and an IBAN."""
    name = rng.choice(FIRST)
    return (f"Hi, it's {name}, email {name.lower()}.{rng.randint(1, 999)}@{rng.choice(DOMAINS)}, call "
            f"{rng.choice(PHONES)}; charge {rng.choice(CARDS)} or wire from {rng.choice(IBANS)}")


def seed(path: Path, sessions: int, started_at: float | None = None, redaction: bool = True,
         rng: random.Random | None = None, message: Callable[[random.Random], str] = pii_message,
         flush_s: float = 60) -> list[str]:
    """``sessions`` sessions of three PII-heavy messages (customer, agent, customer); their ids."""
    rng = rng or random.Random(7)
    journal = Journal(path, redaction=redaction)
    ids = []
    for _ in range(sessions):
        session = Session(agent="agent-1", **({"started_at": started_at} if started_at else {}))
        journal.start_session(session)
        for role in (Role.CUSTOMER, Role.AGENT, Role.CUSTOMER):
            journal.record_message(ChatMessage(session_id=session.id, role=role, text=message(rng)))
        ids.append(session.id)
    assert journal.flush(flush_s)
    journal.close()
    return ids
