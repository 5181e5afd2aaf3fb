"""Benchmark of the SQLite knowledge base (issue 5 targets: import of 1,000 Markdown articles <= 60 s on
2 CPU cores; suggestions within 100 ms p95 of the Insight with a 5,000-chunk KB, so search itself must be
far below that).

    python benchmarks/bench_kb.py [--articles 1000] [--queries 200] [--embed app|embed-only|both]

(a) writes 1,000 generated Markdown articles (200-600 words, 3-6 sections each, seeded) to a temporary
folder and imports them into a new store, timing reading + chunking, embedding and the write; then a
re-import with nothing changed and one after editing 10 files. ``--embed app`` embeds with the shipped
text model's ``embed`` (the whole int8 graph, every head), two single-threaded runs side by side as
``assist kb import`` does (``cli_kb.parallel_embed``); ``embed-only`` the same with the graph cut down to
the retrieval embedding (needs the ``onnx`` package; identical vectors); ``both`` runs the two.
(b) tops the KB up to at least 5,000 chunks and measures ``search`` p50/p95/max for customer-style
queries with the query embedding given (as the pipeline passes the message's embedding), the same with
the embedding computed in the call, and the first search (loading the dense matrix).
Prints JSON with the machine line and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from machine import machine, summary  # noqa: E402 (benchmarks/machine.py)

TOPICS = ["refund", "return", "delivery", "tracking", "password", "invoice", "subscription", "discount code",
          "gift card", "exchange", "warranty", "damaged item", "address change", "payment method", "order status",
          "cancellation", "loyalty points", "size guide", "pre-order", "account security"]
SENTENCES = [
    "Customers who ask about the {t} should first be asked for their order number and the email on the account.",
    "The {t} is handled within {n} business days once the request has been confirmed by the warehouse team.",
    "If the customer is upset about the {t}, acknowledge the delay and explain the next step clearly.",
    "Agents can check the {t} in the back office under Orders, then open the timeline for the latest event.",
    "A {t} request older than {n} days needs approval from a team lead before any money is moved.",
    "Do not promise a date for the {t}; give the window the system shows and offer to follow up by email.",
    "Members of the loyalty programme get priority on every {t} and do not pay the {n} dollar handling fee.",
    "When the {t} fails with error code E{n}, ask the customer to clear the browser cache and try again.",
    "Write a short note on the ticket that says what was done about the {t} and what the customer agreed to.",
    "For business accounts the {t} follows the contract terms, which may differ from the public policy.",
    "The customer can also manage the {t} in the mobile app under Settings, then Orders and Returns.",
    "Escalate the {t} to the payments team when the amount is above {n}0 dollars or the card was charged twice.",
]
HEADINGS = ["Overview", "Who qualifies", "Steps for the agent", "What to tell the customer", "Exceptions",
            "Timelines", "Fees", "Escalation", "Common mistakes", "Related policies"]
QUERIES = ["I still have not received my refund, it has been two weeks", "where is my package, tracking says nothing",
           "I forgot my password and the reset link expired", "you charged my card twice for one order",
           "can I change the delivery address on my order?", "my discount code does not work at checkout",
           "the jacket arrived damaged, I want to send it back", "how do I cancel my subscription",
           "what is your warranty on electronics", "I want to speak to a manager about this invoice"]


def article(rng: random.Random, number: int) -> str:
    """A help-centre article of 200-600 words in 3-6 sections about one topic."""
    topic = rng.choice(TOPICS)
    words_left = rng.randint(200, 600)
    sections = rng.randint(3, 6)
    lines = [f"---\ncategory: {topic.title()}\n---", f"# {topic.capitalize()} policy {number}", ""]
    for heading in rng.sample(HEADINGS, sections):
        lines += [f"## {heading}", ""]
        target, written, para = words_left // sections, 0, []
        while written < target:
            sentence = rng.choice(SENTENCES).format(t=rng.choice([topic, topic, rng.choice(TOPICS)]),
                                                    n=rng.randint(2, 30))
            para.append(sentence)
            written += len(sentence.split())
        words_left -= written
        sections -= 1
        lines += [" ".join(para), ""]
    return "\n".join(lines)


def write_articles(folder: Path, count: int, seed: int, start: int = 0) -> int:
    rng = random.Random(seed)
    words = 0
    for n in range(start, start + count):
        text = article(rng, n)
        words += len(text.split())
        (folder / f"article_{n:05d}.md").write_text(text, encoding="utf-8")
    return words


def embed_only(model) -> object:
    """The text model's graph cut down to the retrieval embedding (onnx.utils.Extractor): same vectors."""
    import numpy as np
    import onnx
    import onnx.utils
    import onnxruntime as ort

    from assist.inference.text_model import clean_text

    full = onnx.load(str(model.onnx_path))
    sub = onnx.utils.Extractor(full).extract_model([i.name for i in full.graph.input], ["embedding"])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(sub.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def embed(texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:  # one row at a time, as OnnxTextModel.run does (int8 scales per batch)
            feeds = model.tokenizer([clean_text(text)])
            rows.append(session.run(["embedding"], {k: feeds[k] for k in names})[0])
        return np.concatenate(rows).astype(np.float32)

    return embed


def timed_import(store, folder: Path) -> dict:
    from assist.domain import ProgressState

    marks: dict[str, float] = {}
    start, cpu = time.perf_counter(), time.process_time()

    def progress(fraction: float, message: str) -> None:
        if message.startswith("embedding") and "read" not in marks:
            marks["read"] = time.perf_counter() - start
        if fraction >= 0.95 and "embedded" not in marks:
            marks["embedded"] = time.perf_counter() - start

    report = store.import_path(folder, ProgressState(progress))
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    read, embedded = marks.get("read", 0.0), marks.get("embedded", total)
    return {"seconds": round(total, 2), "cpu_s_all_threads": round(cpu, 2), "read_and_chunk_s": round(read, 2), "embed_s": round(embedded - read, 2),
            "write_s": round(total - embedded, 2), "summary": report.summary(), "chunks_embedded": report.chunks_embedded}


def import_bench(model, kind: str, articles: int, root: Path) -> dict:
    from assist.app.cli.kb import parallel_embed
    from assist.pipeline.engines import embedding_model_id
    from assist.replies.kb.store import KnowledgeStore

    folder = root / f"articles_{kind}"
    folder.mkdir()
    words = write_articles(folder, articles, seed=5)
    embed = parallel_embed(model.embed if kind == "app" else embed_only(model), workers=2)
    store = KnowledgeStore(root / f"{kind}.sqlite3", embed=embed, model_id=embedding_model_id(model))
    first = timed_import(store, folder)
    stats = store.stats()
    unchanged = timed_import(store, folder)
    rng = random.Random(7)
    for n in rng.sample(range(articles), 10):
        path = folder / f"article_{n:05d}.md"
        path.write_text(path.read_text(encoding="utf-8") + "\n\nUpdated: agents must log the call reason.\n",
                        encoding="utf-8")
    edited = timed_import(store, folder)
    return {"embed": kind, "articles": articles, "words": words, "chunks": stats["chunks"], "first_import": first,
            "reimport_unchanged": unchanged, "reimport_10_edited": edited, "store": store, "folder": folder}


def search_bench(model, store, folder: Path, queries: int) -> dict:
    import numpy as np

    start_n = len(list(folder.glob("*.md")))
    while store.stats()["chunks"] < 5000:  # top up to a 5,000-chunk KB
        write_articles(folder, 100, seed=start_n, start=start_n)
        start_n += 100
        store.import_path(folder)
    store._dense = None  # time the first search with the dense matrix loaded from the file
    vectors = np.asarray(model.embed(QUERIES), dtype=np.float32)
    t = time.perf_counter()
    store.search(QUERIES[0], vectors[0], k=5)
    first_ms = (time.perf_counter() - t) * 1000
    given, computed, bm25_only = [], [], []
    for n in range(queries):
        i = n % len(QUERIES)
        t = time.perf_counter()
        store.search(QUERIES[i], vectors[i], k=5)
        given.append((time.perf_counter() - t) * 1000)
    for n in range(min(queries, 50)):
        t = time.perf_counter()
        store.search(QUERIES[n % len(QUERIES)], k=5)
        computed.append((time.perf_counter() - t) * 1000)
    keyword = type(store)(store.path)  # no embedding function: FTS5 BM25 only
    for n in range(queries):
        t = time.perf_counter()
        keyword.search(QUERIES[n % len(QUERIES)], k=5)
        bm25_only.append((time.perf_counter() - t) * 1000)
    stats = store.stats()
    return {"chunks": stats["chunks"], "articles": stats["articles"], "first_search_ms": round(first_ms, 2),
            "search_ms_query_embedding_given": summary(given, count=True),
            "search_ms_embedding_computed": summary(computed, count=True),
            "search_ms_bm25_only": summary(bm25_only, count=True),
            "db_mb": round(store.path.stat().st_size / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--embed", choices=("app", "embed-only", "both"), default="app")
    args = parser.parse_args()
    from assist.inference.text_onnx import OnnxTextModel

    t = time.perf_counter()
    model = OnnxTextModel(threads=1, device="cpu")  # two of them side by side (parallel_embed)
    out: dict = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "load_avg_before": os.getloadavg(),
                 "model_load_s": round(time.perf_counter() - t, 2), "imports": []}
    kinds = ("app", "embed-only") if args.embed == "both" else (args.embed,)
    with tempfile.TemporaryDirectory() as tmp:
        results = [import_bench(model, kind, args.articles, Path(tmp)) for kind in kinds]
        last = results[-1]
        out["search"] = search_bench(model, last["store"], last["folder"], args.queries)
        for r in results:
            r.pop("folder")
            r.pop("store").close()
        out["imports"] = results
    out["load_avg_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
