"""Hybrid retrieval over the knowledge base: dense MiniLM cosine + SQLite FTS5 BM25.

The embedding function is injected (the pipeline passes the text model's), so this
library does not depend on the inference library.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assist.domain import ProgressState
from assist.replies.kb import KBEntry

EmbedFn = Callable[[list[str]], np.ndarray]
DENSE_WEIGHT = 0.8  # BM25 adds the remaining 0.2 (normalised to [0, 1] per query)


@dataclass(frozen=True)
class Hit:
    entry: KBEntry
    score: float
    dense: float
    bm25: float
    section: str = ""  # the passage's heading, when the hit is a chunk of a longer article


class Retriever:
    def __init__(self, entries: Sequence[KBEntry], embed: EmbedFn) -> None:
        self.entries = list(entries)
        self._embed = embed
        self._matrix: np.ndarray | None = None
        self._fts = sqlite3.connect(":memory:", check_same_thread=False)

    def build(self, state: ProgressState | None = None, batch_size: int = 16) -> None:
        """Index the entries (dense vectors and a full-text index); reports progress."""
        state = state or ProgressState()
        vectors = []
        texts = [e.search_text for e in self.entries]
        for start in range(0, len(texts), batch_size):
            vectors.append(self._embed(texts[start : start + batch_size]))
            state.set_progress((start + batch_size) / len(texts), "indexing knowledge base")
        self._matrix = np.concatenate(vectors).astype(np.float32)
        self._fts.execute("CREATE VIRTUAL TABLE kb USING fts5(title, body, tokenize='porter')")
        self._fts.executemany(
            "INSERT INTO kb(rowid, title, body) VALUES (?, ?, ?)",
            [(i, e.title, e.search_text + " " + " ".join(e.steps)) for i, e in enumerate(self.entries)],
        )
        state.set_progress(1.0, "knowledge base ready")

    @property
    def ready(self) -> bool:
        return self._matrix is not None

    def search(self, text: str, embedding: np.ndarray | None = None, k: int = 3) -> list[Hit]:
        if self._matrix is None:
            raise RuntimeError("Retriever.build() has not run")
        if embedding is None:
            embedding = self._embed([text])[0]
        dense = self._matrix @ embedding.astype(np.float32)
        bm25 = self._bm25(text)
        score = DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * bm25
        top = np.argsort(-score)[:k]
        return [Hit(self.entries[i], float(score[i]), float(dense[i]), float(bm25[i])) for i in top]

    def _bm25(self, text: str) -> np.ndarray:
        scores = np.zeros(len(self.entries), dtype=np.float32)
        words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2][:32]
        if not words:
            return scores
        query = " OR ".join(f'"{w}"' for w in words)
        rows = self._fts.execute("SELECT rowid, -bm25(kb) FROM kb WHERE kb MATCH ?", (query,)).fetchall()
        for rowid, value in rows:
            scores[rowid] = value
        top = scores.max()
        return scores / top if top > 0 else scores
