"""Command-line piece for reply suggestion quality: ``assist eval replies`` (JSON on stdout)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def cmd_eval_replies(args: argparse.Namespace) -> int:
    """Response selection (Twitter customer care, SGD) and KB retrieval with the shipped text model."""
    from assist.app.cli.common import fail, progress_bar
    from assist.inference.errors import ModelUnavailable
    from assist.inference.text_onnx import OnnxTextModel
    from assist.replies.kb.entries import KnowledgeBaseError
    from assist.training.data import default_data_dir
    from assist.training.eval_replies import MIN_LIMIT, ReplyEvalError, evaluate_replies

    if args.limit is not None and args.limit < MIN_LIMIT:
        return fail(f"--limit needs at least {MIN_LIMIT} examples (each one is ranked against 9 others)")
    try:
        model = OnnxTextModel(threads=args.threads)
    except ModelUnavailable as exc:
        return fail(str(exc))
    state, bar = progress_bar("eval replies")
    try:
        result = evaluate_replies(Path(args.data or default_data_dir()), model.embed, state, args.limit)
    except (ReplyEvalError, KnowledgeBaseError) as exc:
        return fail(str(exc))
    finally:
        bar.close()
    result["model"] = {"embedding": model.version, "provider": model.provider}
    text = json.dumps(result, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def add_reply_commands(ev: Any) -> None:
    """Add ``replies`` to the ``assist eval`` sub-commands."""
    replies = ev.add_parser("replies", help="response selection (recall@1 of 10, recall@5 of 100) and KB "
                                            "retrieval (hit@3, MRR) for bm25 / dense / hybrid (JSON)")
    replies.add_argument("--data", help="shared data folder (default ../shared/data)")
    replies.add_argument("--limit", type=int, help="at most N examples per data set (quick runs; default all)")
    replies.add_argument("--output", help="also write the JSON to this file")
    replies.add_argument("--threads", type=int, default=1, help="onnxruntime threads for the embeddings")
    replies.set_defaults(func=cmd_eval_replies)
