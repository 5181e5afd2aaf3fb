"""Privacy audit benchmark (issue 6 target): ``assist privacy scan`` on 1,000 seeded sessions full of emails, phone
numbers, card numbers and IBANs finds 0 leaks. Sessions go in through the app's own Journal (redaction on), three
messages each, every one carrying PII; then the scan runs as the CLI runs it.

    python benchmarks/bench_privacy.py [--sessions 1000] [--record]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from machine import machine  # noqa: E402 (benchmarks/machine.py)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    from assist.storage.privacy import scan
    from support.pii_journal import every_kind_message, seed

    path = Path(tempfile.mkdtemp()) / "journal.sqlite3"
    start = time.perf_counter()
    seed(path, args.sessions, message=every_kind_message, flush_s=120)
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
