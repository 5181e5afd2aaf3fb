"""``assist kb import | list | show | search``: the knowledge base from the command line.

The store is ``<user data dir>/kb.sqlite3`` unless ``--kb FILE`` names another; chunks are embedded with
the text model's retrieval embedding (the one the app uses for customer messages).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from assist.app.cli.common import fail, progress_bar


def parallel_embed(embed: Callable[[list[str]], np.ndarray], workers: int) -> Callable[[list[str]], np.ndarray]:
    """Split each batch across worker threads (onnxruntime releases the GIL; rows stay independent).

    On 2 cores, two single-threaded runs side by side beat one run with two intra-op threads.
    """
    if workers <= 1:
        return embed
    from concurrent.futures import ThreadPoolExecutor

    def run(texts: list[str]) -> np.ndarray:
        size = -(-len(texts) // workers)
        parts = [texts[i : i + size] for i in range(0, len(texts), size)]
        if len(parts) < 2:
            return embed(texts)
        with ThreadPoolExecutor(len(parts), thread_name_prefix="kb-embed") as pool:  # no thread outlives a call
            return np.concatenate(list(pool.map(embed, parts)))

    return run


def text_embedder(workers: int = 2) -> tuple[Callable[[list[str]], np.ndarray], str]:
    """The shipped text model's ``embed`` (int8 ONNX, one thread per worker) and its model id."""
    from assist.inference.text_onnx import OnnxTextModel
    from assist.pipeline.engines import embedding_model_id

    model = OnnxTextModel(threads=1, device="cpu")
    return parallel_embed(model.embed, workers), embedding_model_id(model)


def _open_store(args: argparse.Namespace, embed: bool) -> Any:
    from assist.replies.kb.store import KnowledgeStore

    if not embed:
        return KnowledgeStore(args.kb)
    fn, model_id = text_embedder()
    return KnowledgeStore(args.kb, embed=fn, model_id=model_id)


def cmd_kb_import(args: argparse.Namespace) -> int:
    from assist.inference.errors import ModelUnavailable
    from assist.replies.kb.entries import KnowledgeBaseError

    if args.path is None:
        from assist.training.data import default_data_dir

        args.path = default_data_dir() / "abcd" / "guidelines.json"
    try:
        store = _open_store(args, embed=not args.no_embed)
    except (KnowledgeBaseError, ModelUnavailable) as exc:
        return fail(str(exc))
    with store:
        state, bar = progress_bar("kb import")
        try:
            if store.needs_reembedding():
                store.reembed(state)
            report = store.import_path(args.path, state)
        except KnowledgeBaseError as exc:
            return fail(str(exc))
        finally:
            bar.close()
        stats = store.stats()
    if args.bundled_json and report.ok:
        _write_bundled_json(Path(args.path), Path(args.bundled_json))
    if args.json:
        print(json.dumps({**asdict(report), "store": stats}, indent=2))
    else:
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
        print(f"{report.summary()} ({stats['articles']} articles, {stats['chunks']} chunks in {stats['path']}; "
              f"{report.seconds:.1f} s)")
    return 0 if report.ok and not report.cancelled else 1


def _write_bundled_json(source: Path, out: Path) -> None:
    """Also rebuild the bundled JSON KB (ABCD procedures + Assist's general entries) from guidelines.json."""
    from assist.replies.kb.entries import general_entries, import_abcd_guidelines, write_kb

    entries = import_abcd_guidelines(source) + general_entries()
    write_kb(entries, out, source="ABCD guidelines.json (asappresearch/abcd) + Assist's general entries")
    print(f"wrote {len(entries)} entries to {out}")


def cmd_kb_list(args: argparse.Namespace) -> int:
    from assist.replies.kb.entries import KnowledgeBaseError

    try:
        with _open_store(args, embed=False) as store:
            articles, stats = store.articles(), store.stats()
    except KnowledgeBaseError as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps({"store": stats, "articles": [asdict(a) for a in articles]}, indent=2))
        return 0
    if not articles:
        print(f"The knowledge base {stats['path']} is empty. Add articles with: assist kb import PATH")
        return 0
    for a in articles:
        category = f"  [{a.category}]" if a.category else ""
        print(f"{a.id}  {a.title}{category}  ({a.chunks} chunks; {a.source})")
    print(f"{stats['articles']} articles, {stats['chunks']} chunks in {stats['path']}")
    return 0


def cmd_kb_show(args: argparse.Namespace) -> int:
    from assist.replies.kb.entries import KnowledgeBaseError

    try:
        with _open_store(args, embed=False) as store:
            article = store.article(args.id)
    except KnowledgeBaseError as exc:
        return fail(str(exc))
    if article is None:
        return fail(f"no article with id {args.id} (see 'assist kb list')", 1)
    if args.json:
        print(json.dumps(asdict(article), indent=2, ensure_ascii=False))
    else:
        print(f"# {article.title}\n{article.category}\nsource: {article.source}\n\n{article.body}")
    return 0


def cmd_kb_search(args: argparse.Namespace) -> int:
    from assist.inference.errors import ModelUnavailable
    from assist.replies.kb.entries import KnowledgeBaseError

    try:
        store = _open_store(args, embed=not args.no_embed)
    except (KnowledgeBaseError, ModelUnavailable) as exc:
        return fail(str(exc))
    with store:
        if store.needs_reembedding():
            state, bar = progress_bar("kb re-embed (the text model changed)")
            try:
                store.reembed(state)
            finally:
                bar.close()
        hits = store.search(args.query, k=args.k)
        stats = store.stats()
    if args.json:
        print(json.dumps({"query": args.query, "hits": [asdict(h) for h in hits]}, indent=2, ensure_ascii=False))
        return 0
    if not hits:
        print("No matches." if stats["articles"] else f"The knowledge base {stats['path']} is empty.")
        return 0
    for rank, h in enumerate(hits, start=1):
        section = f" > {h.section}" if h.section else ""
        scores = f"fused {h.fused:.4f}, bm25 {h.bm25 or 0:.2f}, cosine {h.dense or 0:.3f}"
        snippet = h.text if len(h.text) <= 200 else h.text[:197] + "..."
        print(f"{rank}. {h.title}{section}  ({scores})\n   {snippet}\n   source: {h.source}")
    return 0


def add_kb_commands(sub: Any) -> None:
    """The ``kb`` command group on the top-level subparsers."""
    kb = sub.add_parser("kb", help="knowledge base").add_subparsers(dest="what", required=True)

    def store_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--kb", type=Path, help="knowledge-base file (default: kb.sqlite3 in Assist's data folder)")
        p.add_argument("--json", action="store_true", help="print JSON")

    imp = kb.add_parser("import", help="import Markdown files (a folder), CSV, JSON or ABCD guidelines.json")
    imp.add_argument("path", nargs="?", type=Path,
                     help="folder or file (default: ../shared/data/abcd/guidelines.json)")
    imp.add_argument("--no-embed", action="store_true", help="keyword index only (no text model)")
    imp.add_argument("--bundled-json", metavar="FILE",
                     help="also rebuild the bundled JSON KB from an ABCD guidelines.json (resources/kb/...)")
    store_option(imp)
    imp.set_defaults(func=cmd_kb_import)

    ls = kb.add_parser("list", help="articles in the knowledge base")
    store_option(ls)
    ls.set_defaults(func=cmd_kb_list)

    show = kb.add_parser("show", help="one article (id from 'assist kb list')")
    show.add_argument("id")
    store_option(show)
    show.set_defaults(func=cmd_kb_show)

    search = kb.add_parser("search", help="hybrid search (keywords + meaning) over the knowledge base")
    search.add_argument("query")
    search.add_argument("--k", type=int, default=5, help="how many passages (default 5)")
    search.add_argument("--no-embed", action="store_true", help="keywords only (no text model)")
    store_option(search)
    search.set_defaults(func=cmd_kb_search)
