"""Ranking primitives: an in-memory Okapi BM25 and reciprocal-rank fusion.

Pure numpy/stdlib so the KB retriever, the reply ranker and the offline evaluation share one
definition of "lexical match" and one way of fusing rankings.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

STOP_WORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have he her hi his how i
    if in into is it its just me my of on or our so than that the their them then there these they this to
    us was we were what when where which who will with would you your hello thanks thank please""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lower-cased unicode words, without English stop words and lone characters (except digits)."""
    words = _WORD.findall(text.lower())
    return [w for w in words if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())]


def reciprocal_rank_fusion(
    rankings: list[list[str]], k: int = 60, weights: list[float] | None = None
) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum_i w_i / (k + rank_i(id)), ranks from 1; best first.

    Ties are common (ranks 2 and 5 fuse like 5 and 2) and must not be decided by a float's last bit: scores equal
    to 12 digits tie, and a tie goes to the item with the better single rank in any list, then to the earlier
    list (the first ranking leads), then to the id itself, so one input always gives one order."""
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    scores: dict[str, float] = {}
    best: dict[str, tuple[int, int]] = {}  # (best rank, the list it came from)
    for list_index, (ranking, weight) in enumerate(zip(rankings, weights)):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            best[item] = min(best.get(item, (rank, list_index)), (rank, list_index))
    return sorted(scores.items(), key=lambda kv: (-round(kv[1], 12), best[kv[0]], kv[0]))


class BM25:
    """Okapi BM25 over a fixed list of documents (k1=1.5, b=0.75, non-negative idf)."""

    def __init__(self, docs: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._docs = [Counter(tokenize(d)) for d in docs]
        lengths = np.array([sum(c.values()) for c in self._docs], dtype=np.float64)
        avg = float(lengths.mean()) if len(lengths) and lengths.mean() > 0 else 1.0
        self._norm = k1 * (1 - b + b * lengths / avg)
        n = len(self._docs)
        df: Counter[str] = Counter()
        for counts in self._docs:
            df.update(counts.keys())
        # Lucene's idf: always positive, so a word in most documents still counts a little.
        self._idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in df.items()}
        self._postings: dict[str, list[tuple[int, int]]] = {}
        for i, counts in enumerate(self._docs):
            for word, tf in counts.items():
                self._postings.setdefault(word, []).append((i, tf))

    def __len__(self) -> int:
        return len(self._docs)

    def scores(self, query: str | Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query (text, or tokens where repeats count)."""
        tokens = tokenize(query) if isinstance(query, str) else list(query)
        out = np.zeros(len(self._docs), dtype=np.float64)
        for word, qtf in Counter(tokens).items():
            postings = self._postings.get(word)
            if not postings:
                continue
            idx = np.fromiter((p[0] for p in postings), dtype=np.int64, count=len(postings))
            tf = np.fromiter((p[1] for p in postings), dtype=np.float64, count=len(postings))
            weight = self._idf[word] * qtf
            out[idx] += weight * tf * (self.k1 + 1) / (tf + self._norm[idx])
        return out

    def top(self, query: str | Sequence[str], k: int = 10) -> list[int]:
        """Indices of the k best documents (ties keep document order); documents scoring 0 are left out."""
        scores = self.scores(query)
        order = np.argsort(-scores, kind="stable")[:k]
        return [int(i) for i in order if scores[i] > 0]


def rrf_matrix(lexical: np.ndarray, dense: np.ndarray, k: int = 60, weights: list[float] | None = None) -> np.ndarray:
    """Row-wise reciprocal-rank fusion of two score matrices; a zero lexical score ranks nowhere."""
    out = np.zeros(lexical.shape, dtype=np.float64)
    for row in range(len(lexical)):
        words = [str(c) for c in np.argsort(-lexical[row], kind="stable") if lexical[row, c] > 0]
        vectors = [str(c) for c in np.argsort(-dense[row], kind="stable")]
        for col, value in reciprocal_rank_fusion([words, vectors], k=k, weights=weights):
            out[row, int(col)] = value
    return out


def _greater_and_ties(scores: np.ndarray, true_col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    true = scores[np.arange(len(scores)), true_col][:, None]
    return (scores > true).sum(axis=1), (scores == true).sum(axis=1)  # ties include the true column


def top_k_credit(scores: np.ndarray, true_col: np.ndarray, k: int) -> np.ndarray:
    """Per row, the chance that the true column is among the k best when ties are broken at random."""
    greater, ties = _greater_and_ties(scores, true_col)
    return np.clip((k - greater) / ties, 0.0, 1.0)


def reciprocal_rank(scores: np.ndarray, true_col: np.ndarray) -> np.ndarray:
    """Per row, 1 / rank of the true column, averaged over random tie-breaks."""
    greater, ties = _greater_and_ties(scores, true_col)
    return np.array([np.mean(1.0 / np.arange(g + 1, g + t + 1)) for g, t in zip(greater, ties)])
