"""Offline evaluation of reply suggestion: response selection on real dialogues, KB retrieval on labelled queries.

Response selection: given the conversation so far, rank the agent's real next reply among distractors
taken from other conversations (recall@1 of 10, recall@5 of 100). Ties count as a random draw, so a
method never gains from the order candidates happen to be in.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import ProgressState
from assist.paths import resource
from assist.replies.search import BM25, reciprocal_rank, rrf_matrix, top_k_credit

EmbedFn = Callable[[list[str]], np.ndarray]
SEED = 0
SGD_EXAMPLES = 1000  # sampled from SGD test (one system turn per dialogue); as many from dev train the mix
HISTORY_BANK = 4000  # SGD train dialogues whose replies form the "past conversations" bank
HISTORY_K = 20  # neighbours (by last customer turn) whose replies vote; chosen on SGD dev
HISTORY_TEMPERATURE = 0.05
LAST_TURN_WEIGHT = 1.0  # BM25: the last customer turn counts (1 + this) times
RRF_K = 60
CV_FOLDS = 5
MIN_LIMIT = 20
MIX_FEATURES = ("bm25", "dense_context", "dense_last", "history")
TWITTER_FILE = Path("dialogues/twitter_care/dev.json")
SGD_FILE = Path("dialogues/sgd/compact/sgd_all_available_turns.jsonl.gz")
KB_QUERIES = resource("kb", "eval_queries.json")

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
_SIGNATURE = re.compile(r"(?:^|\s)(?:[*^~/]\s?|-)[A-Z][A-Za-z]{0,15}\.?$")


class ReplyEvalError(Exception):
    """A data set for the reply evaluation is missing or unreadable, or the run was cancelled."""


@dataclass(frozen=True)
class Example:
    """One response-selection case: the turns so far (speaker, text; oldest first) and the true reply."""

    conversation: str
    turns: tuple[tuple[str, str], ...]
    reply: str
    group: str = ""  # the company (Twitter) or the services (SGD)

    @property
    def last_customer(self) -> str:
        return next((text for who, text in reversed(self.turns) if who == "customer"), self.turns[-1][1])

    @property
    def context(self) -> str:
        """All turns, most recent first (so the encoder's truncation drops the oldest)."""
        return " ".join(text for _, text in reversed(self.turns))


def clean_tweet(text: str) -> str:
    """Drop what identifies the company or agent rather than the content: @handles, URLs, sign-offs."""
    text = _URL.sub(" [link] ", html.unescape(text))
    text = _SIGNATURE.sub("", _MENTION.sub(" ", text).strip())
    return " ".join(text.split())


def load_twitter_care(path: Path) -> list[Example]:
    """IBM Twitter customer care: prior turns -> the agent's final reply (the one linking an article)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReplyEvalError(f"Cannot read {path}: {exc}") from exc
    examples = []
    try:
        for conv in data:
            turns = tuple(("customer" if "client" in t else "agent", clean_tweet(t["message"]))
                          for t in conv["dialogContent"])
            turns = tuple(t for t in turns if t[1])
            reply = clean_tweet(conv["agentURL"]["url_utterance"])
            if turns and reply:
                header = conv["dialogHeader"]
                examples.append(Example(header["sessionID"], turns, reply, header["company"]))
    except (KeyError, TypeError) as exc:
        raise ReplyEvalError(f"{path} is not in the Twitter customer-care format: {exc!r}") from exc
    return examples


def read_sgd(path: Path) -> list[dict[str, Any]]:
    """Every dialogue of the compact SGD file (one JSON object a line)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return [json.loads(line) for line in f]
    except (OSError, ValueError) as exc:
        raise ReplyEvalError(f"Cannot read {path}: {exc}") from exc


def load_sgd(source: Path | list[dict[str, Any]], split: str = "test", n: int | None = SGD_EXAMPLES,
             seed: int = SEED) -> list[Example]:
    """Schema-Guided Dialogue: n dialogues of a split drawn at random, one random system turn of each."""
    dialogues = [d for d in (read_sgd(source) if isinstance(source, Path) else source) if d["split"] == split]
    rng = np.random.default_rng(seed)
    examples = []
    for index in rng.permutation(len(dialogues)):
        turns = dialogues[index]["turns"]
        system = [i for i, t in enumerate(turns) if t["speaker"] == "SYSTEM" and i > 0]
        if not system:
            continue
        cut = system[int(rng.integers(len(system)))]
        context = tuple(("customer" if t["speaker"] == "USER" else "agent", t["utterance"]) for t in turns[:cut])
        dialogue = dialogues[index]
        examples.append(Example(f"{split}:{dialogue['dialogue_id']}", context, turns[cut]["utterance"],
                                ",".join(dialogue["services"])))  # ids repeat across splits
        if n is not None and len(examples) >= n:
            break
    return examples


class Stage(ProgressState):
    """A part of a longer job: its progress fills [low, high] of the parent's; cancelling is the parent's."""

    def __init__(self, parent: ProgressState, low: float, high: float) -> None:
        super().__init__(lambda f, message: parent.set_progress(low + f * (high - low), message))
        self._parent = parent

    def is_cancelled(self) -> bool:
        return self._parent.is_cancelled()


def embed_all(texts: list[str], embed: EmbedFn, state: ProgressState, what: str, batch: int = 64) -> np.ndarray:
    """Embeddings of the distinct texts, in batches, with progress and cancellation; one row per text."""
    unique = sorted(set(texts))
    rows = []
    for start in range(0, len(unique), batch):
        if state.is_cancelled():
            raise ReplyEvalError("Reply evaluation cancelled.")
        rows.append(np.asarray(embed(unique[start : start + batch]), dtype=np.float32))
        state.set_progress((start + batch) / len(unique), f"embedding {what}")
    index = {t: i for i, t in enumerate(unique)}
    return np.concatenate(rows)[[index[t] for t in texts]]


def encode(examples: list[Example], embed: EmbedFn, state: ProgressState, what: str) -> dict[str, np.ndarray]:
    """Vectors of each example's true reply, whole context and last customer turn."""
    vectors = embed_all([e.reply for e in examples] + [e.context for e in examples]
                        + [e.last_customer for e in examples], embed, state, what)
    return dict(zip(("reply", "context", "last"), np.split(vectors, 3)))


def base_matrices(examples: list[Example], vec: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each example's context against every example's true reply (rows: contexts, columns: replies)."""
    bm25 = BM25([e.reply for e in examples])
    lexical = np.stack([bm25.scores(e.context) + LAST_TURN_WEIGHT * bm25.scores(e.last_customer) for e in examples])
    return {"bm25": lexical, "dense_context": vec["context"] @ vec["reply"].T, "dense_last": vec["last"] @ vec["reply"].T}


def history_scores(query: np.ndarray, bank_query: np.ndarray, bank_reply: np.ndarray, replies: np.ndarray,
                   exclude_self: bool = False) -> np.ndarray:
    """How close each reply is to what agents sent in the most similar past conversations (a kNN reply bank)."""
    sims = query @ bank_query.T
    if exclude_self:
        np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1)[:, :HISTORY_K]
    weights = np.take_along_axis(sims, top, axis=1) / HISTORY_TEMPERATURE
    weights = np.exp(weights - weights.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("nk,nkd->nd", weights, bank_reply[top]) @ replies.T


def candidate_sets(examples: list[Example], rows: np.ndarray, size: int, rng: np.random.Generator,
                   same_group: bool = False) -> np.ndarray:
    """For each row, its true reply and size-1 replies of other conversations among ``rows``, shuffled."""
    conversations = np.array([e.conversation for e in examples])
    groups = np.array([e.group for e in examples])
    sets = np.empty((len(rows), size), dtype=np.int64)
    for out, row in enumerate(rows):
        keep = conversations[rows] != conversations[row]
        if same_group:
            keep &= groups[rows] == groups[row]
        others = rows[keep]
        sets[out] = rng.permutation(np.append(rng.choice(others, size - 1, replace=False), row))
    return sets


def sets_of_100(examples: list[Example], rows: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Candidate sets of 100, or None when there are too few examples (a quick --limit run)."""
    return candidate_sets(examples, rows, 100, rng) if len(rows) >= 100 else None


def set_features(parts: dict[str, np.ndarray]) -> np.ndarray:
    """Per candidate, each score standardised within its set: (sets, size, features)."""
    feats = [(x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-6)
             for x in (parts[name].astype(np.float64) for name in MIX_FEATURES)]
    return np.stack(feats, axis=-1)


def fit_mix(matrices: dict[str, np.ndarray], sets: np.ndarray, rows: np.ndarray) -> Any:
    """Logistic regression on the MIX_FEATURES of each candidate (true reply vs the distractors of its set)."""
    from sklearn.linear_model import LogisticRegression

    x = set_features({k: v[rows[:, None], sets] for k, v in matrices.items()})
    y = (sets == rows[:, None]).astype(int)
    return LogisticRegression(C=1.0, max_iter=1000).fit(x.reshape(-1, x.shape[-1]), y.ravel())


def method_scores(parts: dict[str, np.ndarray], mixes: list[tuple[np.ndarray, Any]]) -> dict[str, np.ndarray]:
    """Every method's score for every candidate; each mix scores only its rows (never its training rows)."""
    dense = parts["dense_context"] + parts["dense_last"]
    out = {"bm25": parts["bm25"], "dense_context": parts["dense_context"], "dense_last": parts["dense_last"],
           "dense": dense, "hybrid": rrf_matrix(parts["bm25"], dense, k=RRF_K), "history": parts["history"],
           "dense_history": dense + parts["history"]}
    if mixes:
        out["learned"] = np.zeros(parts["bm25"].shape)
    for mask, mix in mixes:
        x = set_features({k: v[mask] for k, v in parts.items()})
        out["learned"][mask] = mix.decision_function(x.reshape(-1, x.shape[-1])).reshape(x.shape[:2])
    return out


def bootstrap_ci(values: np.ndarray, seed: int = SEED, draws: int = 1000) -> list[float]:
    """95% percentile bootstrap interval of the mean."""
    means = values[np.random.default_rng(seed).integers(0, len(values), (draws, len(values)))].mean(axis=1)
    return [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]


def selection_metrics(matrices: dict[str, np.ndarray], rows: np.ndarray, sets10: np.ndarray,
                      sets100: np.ndarray | None, mixes: list[tuple[np.ndarray, Any]]) -> dict[str, dict]:
    """Recall@1 of 10 (with bootstrap intervals), MRR of 10, recall@1 and @5 of 100, per method."""
    per_row: dict[str, dict[str, np.ndarray]] = {}
    for sets in (sets10, sets100):
        if sets is None:
            continue
        true_col = np.argmax(sets == rows[:, None], axis=1)
        scores = method_scores({k: v[rows[:, None], sets] for k, v in matrices.items()}, mixes)
        for name, s in scores.items():
            got = per_row.setdefault(name, {})
            if sets.shape[1] == 10:
                got["recall@1_of_10"] = top_k_credit(s, true_col, 1)
                got["mrr_of_10"] = reciprocal_rank(s, true_col)
            else:
                got["recall@1_of_100"] = top_k_credit(s, true_col, 1)
                got["recall@5_of_100"] = top_k_credit(s, true_col, 5)
    results = {}
    for name, got in per_row.items():
        results[name] = {k: round(float(v.mean()), 4) for k, v in got.items()}
        results[name]["recall@1_of_10_ci95"] = bootstrap_ci(got["recall@1_of_10"])
        gain = got["recall@1_of_10"] - per_row["bm25"]["recall@1_of_10"]
        results[name]["gain_over_bm25_ci95"] = bootstrap_ci(gain)
    return results


def evaluate_twitter(path: Path, embed: EmbedFn, state: ProgressState, limit: int | None) -> dict[str, Any]:
    """Every dev conversation; history and the learned mix by 5-fold cross-validation over conversations."""
    examples = load_twitter_care(path)[:limit]
    vec = encode(examples, embed, state, "twitter_care")
    matrices = base_matrices(examples, vec)
    rng = np.random.default_rng(SEED)
    rows = np.arange(len(examples))
    folds = rng.permutation(len(examples)) % CV_FOLDS
    matrices["history"] = np.zeros_like(matrices["bm25"])
    mixes = []
    for fold in range(CV_FOLDS):
        test, train = rows[folds == fold], rows[folds != fold]
        bank = (vec["last"][train], vec["reply"][train])
        matrices["history"][test] = history_scores(vec["last"][test], *bank, vec["reply"])
        seen = {**matrices, "history": np.zeros_like(matrices["bm25"])}  # training rows: bank minus themselves
        seen["history"][train] = history_scores(vec["last"][train], *bank, vec["reply"], exclude_self=True)
        mixes.append((folds == fold, fit_mix(seen, candidate_sets(examples, train, 10, rng), train)))
    sets10, sets100 = candidate_sets(examples, rows, 10, rng), sets_of_100(examples, rows, rng)
    company = np.array([sum(e.group == x.group for e in examples) >= 10 for x in examples])
    same = rows[company]
    same_company = {"n": len(same), "note": "distractors from the same company only (companies with >= 10 "
                    "conversations): what a single team's reply bank looks like"}
    if len(same):
        same_sets = candidate_sets(examples, same, 10, rng, same_group=True)
        mixes_same = [(mask[company], mix) for mask, mix in mixes]
        same_company["methods"] = selection_metrics(matrices, same, same_sets, None, mixes_same)
    return {"source": str(TWITTER_FILE), "n": len(examples), "seed": SEED,
            "examples": "every dev conversation: prior turns -> the agent's final reply; @handles, URLs "
                        "(as [link]) and agent sign-offs removed from all turns",
            "history": f"reply bank = the other {CV_FOLDS - 1} of {CV_FOLDS} folds (by conversation)",
            "learned_mix": f"{CV_FOLDS}-fold cross-validation by conversation (never scores its training rows)",
            "methods": selection_metrics(matrices, rows, sets10, sets100, mixes), "same_company": same_company}


def evaluate_sgd(path: Path, embed: EmbedFn, state: ProgressState, limit: int | None) -> dict[str, Any]:
    """A seeded sample of SGD test; history from SGD train, the learned mix trained on SGD dev."""
    n = min(limit or SGD_EXAMPLES, SGD_EXAMPLES)
    dialogues = read_sgd(path)
    test, dev = load_sgd(dialogues, "test", n), load_sgd(dialogues, "dev", n)
    bank = load_sgd(dialogues, "train", HISTORY_BANK * n // SGD_EXAMPLES, seed=SEED + 1)
    bank_vec = dict(zip(("last", "reply"), np.split(embed_all(
        [e.last_customer for e in bank] + [e.reply for e in bank], embed, Stage(state, 0, 0.5), "sgd train"), 2)))
    mats = []
    for part, split in enumerate((test, dev)):
        vec = encode(split, embed, Stage(state, 0.5 + part / 4, 0.75 + part / 4), "sgd")
        matrices = base_matrices(split, vec)
        matrices["history"] = history_scores(vec["last"], bank_vec["last"], bank_vec["reply"], vec["reply"])
        mats.append(matrices)
    rng = np.random.default_rng(SEED)
    rows, dev_rows = np.arange(len(test)), np.arange(len(dev))
    mix = fit_mix(mats[1], candidate_sets(dev, dev_rows, 10, rng), dev_rows)
    sets10, sets100 = candidate_sets(test, rows, 10, rng), sets_of_100(test, rows, rng)
    return {"source": str(SGD_FILE), "n": len(test), "seed": SEED,
            "examples": f"{len(test)} test dialogues drawn at random (from the test files present in the "
                        "snapshot), one random system turn each (context: all earlier turns)",
            "history": f"reply bank = {len(bank)} train dialogues sampled the same way (seed {SEED + 1})",
            "learned_mix": f"trained on {len(dev)} dev dialogues sampled the same way",
            "methods": selection_metrics(mats[0], rows, sets10, sets100, [(np.ones(len(test), bool), mix)])}


def load_kb_queries(path: Path = KB_QUERIES) -> list[tuple[str, tuple[str, ...]]]:
    """The labelled KB queries: (customer-style text, ids of the entries that answer it)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(q["query"], tuple(q["relevant"])) for q in data["queries"]]


def evaluate_kb(embed: EmbedFn, kb_path: Path | None = None, queries_path: Path = KB_QUERIES) -> dict[str, Any]:
    """hit@1, hit@3 and MRR over the bundled KB for bm25, dense, hybrid (RRF) and the app's retriever (the SQLite
    store's passage search, one hit per article, as the window runs it)."""
    import tempfile

    from assist.replies.kb.entries import default_kb_path, load_kb
    from assist.replies.kb.retriever import StoreRetriever
    from assist.replies.kb.store import KnowledgeStore

    entries = load_kb(kb_path)
    queries = load_kb_queries(queries_path)
    ids = [e.id for e in entries]
    bm25 = BM25([e.search_text for e in entries])
    lexical = np.stack([bm25.scores(q) for q, _ in queries])
    dense = embed([q for q, _ in queries]) @ embed([e.search_text for e in entries]).T
    with tempfile.TemporaryDirectory() as folder, KnowledgeStore(Path(folder) / "kb.sqlite3", embed, "eval") as store:
        report = store.import_path(kb_path or default_kb_path())
        if not report.ok:
            raise ReplyEvalError(f"the knowledge base could not be imported: {'; '.join(report.problems)}")
        app = np.stack([_retriever_scores(StoreRetriever(store), q, ids) for q, _ in queries])
    relevant = np.array([[i in labels for i in ids] for _, labels in queries])
    results = {}
    for name, s in {"bm25": lexical, "dense": dense, "hybrid": rrf_matrix(lexical, dense, k=RRF_K), "app_retriever": app}.items():
        # the best-ranked relevant entry counts: its rank among the irrelevant ones
        best = np.where(relevant, s, -np.inf).max(axis=1)
        masked = np.where(relevant, -np.inf, s)
        scores = np.concatenate([best[:, None], masked], axis=1)
        true_col = np.zeros(len(queries), dtype=np.int64)
        results[name] = {"hit@1": round(float(top_k_credit(scores, true_col, 1).mean()), 4),
                         "hit@3": round(float(top_k_credit(scores, true_col, 3).mean()), 4),
                         "mrr": round(float(reciprocal_rank(scores, true_col).mean()), 4)}
    return {"source": "resources/kb/eval_queries.json", "n_queries": len(queries), "entries": len(entries),
            "methods": results}


def _retriever_scores(retriever: Any, query: str, ids: list[str]) -> np.ndarray:
    """The app's ranking of the entries as scores (first = highest); entries it does not return rank last."""
    hits = retriever.search(query, k=len(ids))
    by_id = {h.entry.id: float(len(hits) - rank) for rank, h in enumerate(hits)}
    return np.array([by_id.get(i, -np.inf) for i in ids])


def evaluate_replies(data_dir: Path, embed: EmbedFn, state: ProgressState | None = None,
                     limit: int | None = None) -> dict[str, Any]:
    """Response selection on Twitter customer care and SGD, and KB retrieval; JSON-able."""
    state = state or ProgressState()
    if limit is not None and limit < MIN_LIMIT:
        raise ReplyEvalError(f"The limit must be at least {MIN_LIMIT} examples (cross-validation needs them).")
    start = time.perf_counter()
    data_dir = Path(data_dir)
    for rel in (TWITTER_FILE, SGD_FILE):
        if not (data_dir / rel).is_file():
            raise ReplyEvalError(f"{data_dir / rel} is missing; pass --data with the shared data folder.")
    results: dict[str, Any] = {
        "twitter_care": evaluate_twitter(data_dir / TWITTER_FILE, embed, Stage(state, 0, 0.12), limit),
        "sgd": evaluate_sgd(data_dir / SGD_FILE, embed, Stage(state, 0.12, 0.97), limit),
        "kb": evaluate_kb(embed),
    }
    results["protocol"] = ("rank the true next agent reply among 9 (recall@1 of 10) or 99 (recall@5 of 100) "
                           "replies of other conversations; ties broken at random (expected value); "
                           "intervals: 95% bootstrap over examples")
    results["seconds"] = round(time.perf_counter() - start, 1)
    state.set_progress(1.0, "done")
    return results
