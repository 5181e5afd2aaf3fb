"""Privacy audit benchmark (issue 6 target): ``assist privacy scan`` on 1,000 seeded sessions full of emails, phone
numbers, card numbers and IBANs finds 0 leaks. Sessions go in through the app's own Journal (redaction on), three
messages each, every one carrying PII; then the scan runs as the CLI runs it.

    python benchmarks/bench_privacy.py [--sessions 1000] [--record]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from machine import machine  # noqa: E402 (benchmarks/machine.py)

NAMES = ["Dana", "Ali", "Mei", "Jonas", "Priya", "Luca", "Sara", "Tom"]
DOMAINS = ["example.com", "mail.co.uk", "firma.de", "uni.edu"]
CARDS = ["4111 1111 1111 1111", "5500-0000-0000-0004", "340000000000009", "6011000000000004"]
IBANS = ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR14 2004 1010 0505 0001 3M02 606"]
PHONES = ["(555) 201-7733", "+44 20 7946 0958", "+49 30 901820", "555-867-5309"]


def message(rng: random.Random) -> str:
    name = rng.choice(NAMES)
    return (f"Hi, it's {name}, email {name.lower()}.{rng.randint(1, 999)}@{rng.choice(DOMAINS)}, call "
            f"{rng.choice(PHONES)}; charge {rng.choice(CARDS)} or wire from {rng.choice(IBANS)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    from assist.domain import ChatMessage, Role, Session
    from assist.storage import Journal
    from assist.storage.privacy import scan

    path = Path(tempfile.mkdtemp()) / "journal.sqlite3"
    rng = random.Random(7)
    journal = Journal(path)
    start = time.perf_counter()
    for _ in range(args.sessions):
        session = Session(agent="agent-1")
        journal.start_session(session)
        for role in (Role.CUSTOMER, Role.AGENT, Role.CUSTOMER):
            journal.record_message(ChatMessage(session_id=session.id, role=role, text=message(rng)))
    journal.flush(120)
    journal.close()
    seeded = time.perf_counter() - start
    start = time.perf_counter()
    report = scan(path)
    result = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "sessions": args.sessions,
              "seed_s": round(seeded, 1), "scan_s": round(time.perf_counter() - start, 2), **report.to_dict()}
    print(json.dumps(result, indent=2))
    if args.record:
        lines = [f"\n## Privacy audit — {result['date']} — {result['machine']}\n",
                 "| measure | target | result |", "|---|---|---|",
                 f"| `privacy scan` on {args.sessions} seeded sessions ({result['rows_scanned']} stored texts, every "
                 f"message with an email, phone, card and IBAN) | 0 leaks | {result['leaks']} leaks "
                 f"(scan {result['scan_s']} s) |",
                 "\nCommand: `python benchmarks/bench_privacy.py --record`.\n"]
        with (REPO / "benchmarks" / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n".join(lines))


if __name__ == "__main__":
    main()
