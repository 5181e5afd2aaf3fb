"""Benchmark of supervisor review on a big journal (issue 6 targets, 2 CPU cores): with 10,000 sessions and
1,000,000 events, the session list opens in <= 1 s, full-text search returns in <= 300 ms, a session replay
opens in <= 500 ms.

    python benchmarks/bench_review.py [--sessions 10000] [--events-per-session 100] [--keep PATH] [--record]

The journal is generated with the writer's own INSERT statements (assist.storage.rows) and its triggers on
(FTS index, per-session figures), in batches: customer and agent turns drawn from realistic support phrases,
an Insight with three suggestions per customer turn, feedback on some. Then, each from a fresh read-only
connection as the review window opens it: the first page of the list (200 rows, newest first, with the total),
the list sorted by peak negative emotion and filtered to escalations, 12 searches, and 30 replays (events,
Insights with suggestions, feedback of one session). Prints JSON with the machine line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from machine import machine, percentile  # noqa: E402 (benchmarks/machine.py)

CUSTOMER = ["my package still has not arrived and the tracking page shows nothing",
            "I was charged twice for order {n}, please refund the second charge",
            "the jacket arrived damaged and I want to return it", "how do I reset my password, the link expired",
            "this is the third time I am asking, I want my money back now",
            "can I change the delivery address for my order", "my discount code {n} does not work at checkout",
            "thanks, that solved it", "I want to cancel my subscription today", "why is there a fee of {n} dollars"]
AGENT = ["Let me check that for you.", "I'm sorry about the delay, I can see the order here.",
         "I have issued the refund, it reaches your card in 5 to 7 business days.",
         "Could you confirm the email address on the account?", "I've updated the address on the order.",
         "Is there anything else I can help you with?"]
EMOTIONS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
QUERIES = ["refund", "money back", "tracking page", "damaged jacket", "password link expired",
           "charged twice", "discount code checkout", "cancel subscription", "delivery address", "fee dollars",
           "nothing arrived", "third time"]


def probs(rng: random.Random) -> dict[str, float]:
    weights = [rng.random() ** 3 for _ in EMOTIONS]
    total = sum(weights)
    return {e: round(w / total, 4) for e, w in zip(EMOTIONS, weights)}


def generate(path: Path, sessions: int, per_session: int, seed: int = 11) -> dict:
    from assist.storage import Journal
    from assist.storage.connection import open_writer
    from assist.storage.rows import INSERT_EVENT, INSERT_FEEDBACK, INSERT_INSIGHT, INSERT_SESSION, INSERT_SUGGESTION

    Journal(path).close()  # the schema, by the app's own migrations
    conn, _ = open_writer(path)
    rng = random.Random(seed)
    start, t0 = time.time() - 90 * 86400, time.perf_counter()
    counts = {"sessions": 0, "events": 0, "insights": 0, "suggestions": 0, "feedback": 0}
    for s in range(sessions):
        if s % 200 == 0:
            conn.execute("BEGIN")
        sid = uuid.uuid4().hex
        at = start + s * 90 * 86400 / sessions
        conn.execute(INSERT_SESSION, (sid, at, f"agent-{rng.randint(1, 40)}", rng.choice(["chat", "call"]), 1, "bench"))
        events, insights, suggestions, feedback = [], [], [], []
        for n in range(per_session):
            eid, t = uuid.uuid4().hex, at + n * 8
            customer = n % 2 == 0
            text = (rng.choice(CUSTOMER) if customer else rng.choice(AGENT)).format(n=rng.randint(100, 99999))
            events.append((eid, sid, "chat", "customer" if customer else "agent", text, t, "{}", "{}"))
            if customer:
                iid, p = uuid.uuid4().hex, probs(rng)
                top = max(p, key=p.get)
                level = "high" if p["anger"] > 0.6 else "low"
                insights.append((iid, sid, eid, t, top, p[top], json.dumps(p), "negative", 0.8, "{}", "track_order",
                                 0.9, "{}", level, 0.7 if level == "high" else 0.1, "[]", "{}", "{}", "cpu", "[]",
                                 "{}"))
                for rank in range(3):
                    gid = uuid.uuid4().hex
                    suggestions.append((gid, iid, sid, rank, rng.choice(AGENT), "Refund policy", "abcd/x", 0.5))
                    if rank == 0 and rng.random() < 0.3:
                        feedback.append((uuid.uuid4().hex, sid, gid, "inserted", t + 3))
        conn.executemany(INSERT_EVENT, events)
        conn.executemany(INSERT_INSIGHT, insights)
        conn.executemany(INSERT_SUGGESTION, suggestions)
        conn.executemany(INSERT_FEEDBACK, feedback)
        conn.execute("UPDATE sessions SET ended_at = ? WHERE id = ?", (at + per_session * 8, sid))
        for key, rows in (("events", events), ("insights", insights), ("suggestions", suggestions),
                          ("feedback", feedback)):
            counts[key] += len(rows)
        counts["sessions"] += 1
        if s % 200 == 199 or s == sessions - 1:
            conn.execute("COMMIT")
            print(f"  {s + 1} sessions, {counts['events']} events, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {**counts, "generate_s": round(time.perf_counter() - t0, 1), "db_mb": round(path.stat().st_size / 2**20)}


def timed(fn, runs: int = 1) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def measure(path: Path) -> dict:
    from assist.storage.reader import JournalReader
    from assist.storage.review import SessionFilter

    def open_list() -> None:
        with JournalReader(path) as reader:
            reader.session_summaries(limit=200)
            reader.count_sessions()

    list_ms = timed(open_list, 5)
    with JournalReader(path) as reader:
        sorted_ms = timed(lambda: reader.session_summaries(sort="peak_negative", limit=200), 5)
        escalated_ms = timed(lambda: (reader.session_summaries(SessionFilter(escalated_only=True), limit=200),
                                      reader.count_sessions(SessionFilter(escalated_only=True))), 5)
        search_ms = [timed(lambda q=q: reader.search_hits(q, limit=200))[0] for q in QUERIES]
        ids = [s.id for s in reader.session_summaries(limit=10000)]
    rng = random.Random(3)

    def replay(session_id: str) -> None:
        with JournalReader(path) as reader:
            reader.events(session_id)
            reader.insights(session_id)
            reader.feedback(session_id)

    replay_ms = [timed(lambda sid=sid: replay(sid))[0] for sid in rng.sample(ids, 30)]

    def stats(values: list[float]) -> dict:
        return {"p50": round(statistics.median(values), 1), "p95": round(percentile(values, 0.95), 1),
                "max": round(max(values), 1), "n": len(values)}

    return {"list_first_page_ms": stats(list_ms), "list_sorted_by_peak_negative_ms": stats(sorted_ms),
            "list_escalations_ms": stats(escalated_ms), "search_ms": stats(search_ms), "replay_ms": stats(replay_ms)}


def _counts(path: Path) -> dict:
    """The figures of a kept journal (reused instead of generated again)."""
    import sqlite3

    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("sessions", "events", "insights", "suggestions", "feedback")}
    conn.close()
    return {**counts, "reused": str(path), "db_mb": round(path.stat().st_size / 2**20)}


def measure_window(path: Path, runs: int = 3) -> dict:
    """The review window itself (offscreen): open with the list drawn, replay the first session, search and re-list,
    filter to escalations, sort by peak negative emotion."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from assist.gui.review.panel import COLUMNS, ReviewPanel

    app = QApplication.instance() or QApplication([])
    peak = [c for c, _ in COLUMNS].index("Peak negative")
    steps: dict[str, list[float]] = {k: [] for k in ("open", "replay", "search", "filter", "sort")}
    for _ in range(runs):
        t = time.perf_counter()
        panel = ReviewPanel([path])
        panel.show()
        app.processEvents()
        steps["open"].append((time.perf_counter() - t) * 1000)
        for name, act in (("replay", lambda p=panel: p.table.selectRow(0)),
                          ("search", lambda p=panel: (p.search_box.setText("refund"), p.search())),
                          ("filter", lambda p=panel: p.escalated.setChecked(True)),
                          ("sort", lambda p=panel: p.sort_by_column(peak))):
            t = time.perf_counter()
            act()
            app.processEvents()
            steps[name].append((time.perf_counter() - t) * 1000)
        panel.shutdown()
        panel.deleteLater()
        app.processEvents()
    return {f"window_{k}_ms": {"max": round(max(v), 1), "median": round(statistics.median(v), 1)}
            for k, v in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=10000)
    parser.add_argument("--events-per-session", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="write the journal here (and reuse it when it exists)")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    path = args.keep or Path(tempfile.mkdtemp()) / "journal.sqlite3"
    built = generate(path, args.sessions, args.events_per_session) if not path.exists() else _counts(path)
    result = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "journal": built, **measure(path),
              **measure_window(path)}
    print(json.dumps(result, indent=2))
    if args.record:
        j = result["journal"]
        lines = [
            f"\n## Supervisor review — {result['date']} — {result['machine']}\n",
            f"Journal: {j.get('sessions', '?')} sessions, {j.get('events', '?')} events, {j.get('insights', '?')} "
            f"Insights, {j.get('suggestions', '?')} suggestions, {j.get('db_mb', '?')} MB ("
            + (f"generated in {j['generate_s']} s" if "generate_s" in j else "a kept file, generated earlier")
            + " with the writer's statements and triggers).\n",
            "| measure | target | result |", "|---|---|---|",
            f"| session list opens (fresh connection, first 200 rows + total), p95 | <= 1 s | "
            f"{result['list_first_page_ms']['p95']} ms |",
            f"| list sorted by peak negative emotion / filtered to escalations, p95 | — | "
            f"{result['list_sorted_by_peak_negative_ms']['p95']} / {result['list_escalations_ms']['p95']} ms |",
            f"| full-text search, 12 queries, p95 | <= 300 ms | {result['search_ms']['p95']} ms "
            f"(max {result['search_ms']['max']} ms) |",
            f"| session replay opens (events, Insights + suggestions, feedback), 30 sessions, p95 | <= 500 ms | "
            f"{result['replay_ms']['p95']} ms |",
            "| the review window, offscreen, max of 3: opens with 500 rows drawn / replays / searches / "
            f"filters / sorts | — | {result['window_open_ms']['max']} / {result['window_replay_ms']['max']} / "
            f"{result['window_search_ms']['max']} / {result['window_filter_ms']['max']} / "
            f"{result['window_sort_ms']['max']} ms |",
            "\nCommand: `python benchmarks/bench_review.py --record`.\n",
        ]
        with (REPO / "benchmarks" / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n".join(lines))


if __name__ == "__main__":
    main()
