"""The knowledge base in SQLite: articles, chunks, float32 embeddings and an FTS5 index, with hybrid search.

One ``KnowledgeStore`` owns the file's only write connection. An import reads and embeds everything
first (no lock held), then writes in one short transaction: a malformed file, a failed embedding or a
disk error leaves the knowledge base exactly as it was. Search fuses the FTS5 BM25 ranking with dense
cosine similarity (reciprocal-rank fusion); the embedding function is injected by the caller.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlite_utils import Database, Migrations

from assist.domain import ProgressState
from assist.paths import is_user_folder, private_folder, user_data_dir
from assist.replies.kb.entries import KnowledgeBaseError
from assist.replies.kb.plan import ImportPlan, ImportReport, StoredState, plan_import
from assist.replies.kb.readers import embedding_text
from assist.replies.search import reciprocal_rank_fusion, tokenize

EmbedFn = Callable[[list[str]], np.ndarray]
SCHEMA_VERSION = "1"
EMBED_BATCH = 64
CANDIDATES = 50  # per ranking, before fusion
FTS_WEIGHTS = (3.0, 2.0, 1.0)  # title, section, text
migrations = Migrations("assist-kb")


class KnowledgeStoreError(KnowledgeBaseError):
    """The knowledge-base file cannot be opened or written (named, with the reason)."""


@migrations(name="0001_initial")
def _initial(db: Database) -> None:
    """Articles from source files, their chunks, chunk embeddings, an FTS5 index and a meta table."""
    for sql in (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE files (path TEXT PRIMARY KEY, root TEXT NOT NULL, sha256 TEXT NOT NULL, "
        "size INTEGER NOT NULL, imported_at REAL NOT NULL)",
        "CREATE TABLE articles (id TEXT PRIMARY KEY, file TEXT NOT NULL REFERENCES files(path) ON DELETE CASCADE, "
        "source TEXT NOT NULL, title TEXT NOT NULL, category TEXT NOT NULL, body TEXT NOT NULL, "
        "sections TEXT NOT NULL, sha256 TEXT NOT NULL, dedupe TEXT NOT NULL, imported_at REAL NOT NULL)",
        "CREATE INDEX articles_file ON articles(file)",
        "CREATE INDEX articles_dedupe ON articles(dedupe)",
        "CREATE TABLE chunks (id INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id) "
        "ON DELETE CASCADE, position INTEGER NOT NULL, section TEXT NOT NULL, text TEXT NOT NULL, "
        "embed_sha TEXT NOT NULL)",
        "CREATE INDEX chunks_article ON chunks(article_id)",
        "CREATE INDEX chunks_embed_sha ON chunks(embed_sha)",
        "CREATE TABLE embeddings (chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE, "
        "model TEXT NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL)",
        "CREATE VIRTUAL TABLE chunks_fts USING fts5(title, section, text, "
        "tokenize='porter unicode61 remove_diacritics 2')",
        "CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN INSERT INTO chunks_fts(rowid, title, section, text) "
        "VALUES (new.id, (SELECT title FROM articles WHERE id = new.article_id), new.section, new.text); END",
        "CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN DELETE FROM chunks_fts WHERE rowid = old.id; END",
    ):
        db.execute(sql)
    db.execute("INSERT INTO meta VALUES ('schema_version', ?), ('embedding_model', '')", [SCHEMA_VERSION])


def default_store_path() -> Path:
    """``<user data dir>/kb.sqlite3`` as platformdirs defines it for this OS."""
    return user_data_dir() / "kb.sqlite3"


@dataclass(frozen=True)
class ArticleInfo:
    id: str
    title: str
    category: str
    source: str
    chunks: int
    imported_at: float


@dataclass(frozen=True)
class Article(ArticleInfo):
    body: str = ""
    sections: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ChunkHit:
    """One retrieved passage with where it comes from and why it ranked (ranks from 1; None = not matched)."""

    chunk_id: int
    article_id: str
    title: str
    category: str
    section: str
    text: str
    source: str
    fused: float
    bm25: float | None = None
    dense: float | None = None
    bm25_rank: int | None = None
    dense_rank: int | None = None


@dataclass
class _Dense:
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))


def _normalised(rows: np.ndarray) -> np.ndarray:
    """Unit-length float32 rows, so a dot product is the cosine."""
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def fts_query(text: str, limit: int = 32) -> str:
    """An FTS5 MATCH expression that cannot be a syntax error: each word quoted, joined with OR."""
    words = list(dict.fromkeys(tokenize(text)))[:limit]
    return " OR ".join(f'"{w}"' for w in words)


def _connect(path: Path) -> sqlite3.Connection:
    if path.is_dir():
        raise KnowledgeStoreError(f"{path} is a folder, not a knowledge-base file")
    try:
        private_folder(path.parent, tighten=is_user_folder(path.parent))
        if not path.exists():  # owner-only like the journal (SQLite gives its -wal / -shm the same mode)
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(str(path), timeout=5, isolation_level=None, check_same_thread=False)
        try:  # SQLite reads the header itself: a handle of our own would drop the process's locks when closed
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise KnowledgeStoreError(f"{path} is not a knowledge base (not an SQLite file: {exc})") from exc
        if tables and "chunks_fts" not in tables:
            conn.close()
            raise KnowledgeStoreError(f"{path} belongs to another program (it is not an Assist knowledge base)")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrations.apply(Database(conn, execute_plugins=False))
    except (sqlite3.Error, OSError) as exc:
        raise KnowledgeStoreError(f"Cannot open the knowledge base {path}: {exc}") from exc
    return conn


class KnowledgeStore:
    """The knowledge base file: import, list, open and search articles."""

    def __init__(self, path: str | Path | None = None, embed: EmbedFn | None = None, model_id: str = "") -> None:
        self.path = Path(path) if path else default_store_path()
        self.embed = embed
        self.model_id = model_id if embed is not None else ""
        self._conn = _connect(self.path)
        self._lock = threading.RLock()
        self._import_lock = threading.Lock()
        self._dense: _Dense | None = None
        self.generation = 0  # bumped by every write of this store: what readers cache is stale once it moves

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> KnowledgeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ---------------------------------------------------------------------------------------

    def _rows(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def meta(self) -> dict[str, str]:
        return dict(self._rows("SELECT key, value FROM meta"))

    def stats(self) -> dict[str, int | str]:
        """How many articles, chunks and embedded chunks (for the current model) the file holds."""
        [(articles, chunks, embedded)] = self._rows(
            "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM chunks), "
            "(SELECT count(*) FROM embeddings WHERE model = ?)", (self.model_id,))
        return {"articles": articles, "chunks": chunks, "embedded": embedded, "model": self.model_id,
                "path": str(self.path)}

    def articles(self) -> list[ArticleInfo]:
        rows = self._rows("SELECT a.id, a.title, a.category, a.source, (SELECT count(*) FROM chunks c WHERE "
                          "c.article_id = a.id), a.imported_at FROM articles a ORDER BY a.title COLLATE NOCASE, a.id")
        return [ArticleInfo(*row) for row in rows]

    def article(self, article_id: str) -> Article | None:
        rows = self._rows("SELECT a.id, a.title, a.category, a.source, (SELECT count(*) FROM chunks c WHERE "
                          "c.article_id = a.id), a.imported_at, a.body, a.sections FROM articles a WHERE a.id = ?",
                          (article_id,))
        if not rows:
            return None
        article_id, title, category, source, chunks, imported_at, body, sections = rows[0]
        return Article(article_id, title, category, source, chunks, imported_at, body=body,
                       sections=tuple(tuple(s) for s in json.loads(sections)))

    def section_texts(self, article_ids: list[str], heading: str) -> dict[str, str]:
        """The opening passage of the section called ``heading`` in each of these articles that has one."""
        if not article_ids:
            return {}
        marks = ",".join("?" * len(article_ids))
        rows = self._rows(f"SELECT article_id, text FROM chunks WHERE section = ? AND article_id IN ({marks}) "
                          "ORDER BY position DESC", [heading, *article_ids])
        return dict(rows)  # the section's first passage (a long one is cut into overlapping windows)

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file (before the file is copied or linked elsewhere)."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- importing -------------------------------------------------------------------------------------

    def import_path(self, path: str | Path, state: ProgressState | None = None) -> ImportReport:
        """Import a folder or file incrementally, in one transaction; the report says what changed and why not."""
        state = state or ProgressState()
        start = time.perf_counter()
        with self._import_lock:  # one import at a time; searches go on meanwhile
            stored = self._stored()
            plan, report = plan_import(Path(path), stored, ProgressState(lambda f, m: state.set_progress(0.1 * f, m)))
            if report.ok and not report.cancelled:
                vectors = self._embed_chunks(plan, state, report)
                if vectors is not None:
                    self._write(plan, vectors, report, stored)
        report.seconds = round(time.perf_counter() - start, 3)
        state.set_progress(1.0, report.summary())
        return report

    def _stored(self) -> StoredState:
        files = {p: (root, sha) for p, root, sha in self._rows("SELECT path, root, sha256 FROM files")}
        articles = {a: (f, sha, d) for a, f, sha, d in self._rows("SELECT id, file, sha256, dedupe FROM articles")}
        return StoredState(files, articles)

    def _embed_chunks(self, plan: ImportPlan, state: ProgressState, report: ImportReport) -> np.ndarray | None:
        """Vectors for the plan's new chunks, reusing stored ones for identical text; None when cancelled/failed."""
        if self.embed is None or not plan.chunks:
            return np.zeros((len(plan.chunks), 0), dtype=np.float32)
        texts = [c.embed_text for c in plan.chunks]
        known = self._known_vectors([c.embed_sha for c in plan.chunks])
        todo = list({c.embed_sha: i for i, c in enumerate(plan.chunks) if c.embed_sha not in known}.values())
        state.set_progress(0.1, f"embedding 0/{len(todo)}")
        try:
            for n in range(0, len(todo), EMBED_BATCH):
                if state.is_cancelled():
                    report.cancelled = True
                    return None
                batch = todo[n : n + EMBED_BATCH]
                out = _normalised(self.embed([texts[i] for i in batch]))
                known.update((plan.chunks[i].embed_sha, vector) for i, vector in zip(batch, out))
                state.set_progress(0.1 + 0.85 * (n + len(batch)) / len(todo), f"embedding {n + len(batch)}/{len(todo)}")
        except Exception as exc:  # noqa: BLE001 - the embedding engine's own errors; nothing has been written
            report.abort(f"embedding failed, nothing was changed: {exc}")
            return None
        if state.is_cancelled():
            report.cancelled = True
            return None
        report.chunks_embedded = len(todo)
        return np.stack([known[c.embed_sha] for c in plan.chunks]).astype(np.float32)

    def _known_vectors(self, shas: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(shas))
        for n in range(0, len(unique), 500):
            part = unique[n : n + 500]
            rows = self._rows(f"SELECT c.embed_sha, e.vector FROM chunks c JOIN embeddings e ON e.chunk_id = c.id "
                              f"WHERE e.model = ? AND c.embed_sha IN ({','.join('?' * len(part))})",
                              [self.model_id, *part])
            found.update((sha, np.frombuffer(blob, dtype=np.float32)) for sha, blob in rows)
        return found

    def _write(self, plan: ImportPlan, vectors: np.ndarray, report: ImportReport, planned_on: StoredState) -> None:
        """Apply the plan in one transaction; on any error roll back and say so."""
        now = time.time()
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                if self._stored() != planned_on:  # another program wrote the file meanwhile
                    raise sqlite3.OperationalError("the knowledge base was changed by another import; run it again")
                for f in plan.files:
                    conn.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                                 "root = excluded.root, sha256 = excluded.sha256, size = excluded.size, "
                                 "imported_at = excluded.imported_at", (f.path, f.root, f.sha256, f.size, now))
                conn.executemany("DELETE FROM articles WHERE id = ?", [(i,) for i in plan.remove_articles])
                conn.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in plan.remove_files])
                conn.executemany("UPDATE articles SET source = ? WHERE id = ?", plan.moved)
                for a in plan.articles:
                    conn.execute("DELETE FROM chunks WHERE article_id = ?", (a.id,))
                    conn.execute("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE "
                                 "SET source = excluded.source, title = excluded.title, category = excluded.category, "
                                 "body = excluded.body, sections = excluded.sections, sha256 = excluded.sha256, "
                                 "dedupe = excluded.dedupe, imported_at = excluded.imported_at",
                                 (a.id, a.file, a.draft.source, a.draft.title, a.draft.category, a.draft.body,
                                  json.dumps(a.draft.sections), a.draft.sha256, a.draft.dedupe_key, now))
                for chunk, vector in zip(plan.chunks, vectors):
                    cur = conn.execute("INSERT INTO chunks(article_id, position, section, text, embed_sha) "
                                       "VALUES (?, ?, ?, ?, ?)",
                                       (chunk.article_id, chunk.position, chunk.section, chunk.text, chunk.embed_sha))
                    if vector.size:
                        conn.execute("INSERT INTO embeddings VALUES (?, ?, ?, ?)",
                                     (cur.lastrowid, self.model_id, vector.size, vector.tobytes()))
                if self.embed is not None:
                    conn.execute("UPDATE meta SET value = ? WHERE key = 'embedding_model'", (self.model_id,))
                conn.execute("COMMIT")
            except (sqlite3.Error, OSError) as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                report.abort(f"writing {self.path} failed, nothing was changed: {exc}")
                return
            self._dense = None
            self.generation += 1

    # --- embeddings ------------------------------------------------------------------------------------

    def needs_reembedding(self) -> int:
        """How many chunks have no embedding from the current model (0 without an embedding function)."""
        if self.embed is None:
            return 0
        (missing,) = self._rows("SELECT count(*) FROM chunks c LEFT JOIN embeddings e ON e.chunk_id = c.id "
                                "AND e.model = ? WHERE e.chunk_id IS NULL", (self.model_id,))[0]
        return int(missing)

    def reembed(self, state: ProgressState | None = None) -> int:
        """Embed every chunk that lacks an embedding from the current model (after a model change); returns how many."""
        state = state or ProgressState()
        if self.embed is None:
            return 0
        rows = self._rows("SELECT c.id, a.title, c.section, c.text FROM chunks c JOIN articles a ON a.id = c.article_id "
                          "LEFT JOIN embeddings e ON e.chunk_id = c.id AND e.model = ? WHERE e.chunk_id IS NULL "
                          "ORDER BY c.id", (self.model_id,))
        done: list[tuple[int, str, int, bytes]] = []
        for n in range(0, len(rows), EMBED_BATCH):
            if state.is_cancelled():
                return 0
            batch = rows[n : n + EMBED_BATCH]
            try:
                out = _normalised(self.embed([embedding_text(t, s, x) for _, t, s, x in batch]))
            except Exception as exc:  # noqa: BLE001 - the embedding engine's own errors; nothing has been written
                raise KnowledgeStoreError(f"Re-embedding {self.path} failed, nothing was changed: {exc}") from exc
            done += [(r[0], self.model_id, v.size, v.tobytes()) for r, v in zip(batch, out)]
            state.set_progress((n + len(batch)) / len(rows), f"re-embedding {n + len(batch)}/{len(rows)}")
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)", done)
                self._conn.execute("UPDATE meta SET value = ? WHERE key = 'embedding_model'", (self.model_id,))
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._conn.execute("ROLLBACK")
                raise KnowledgeStoreError(f"Re-embedding {self.path} failed, nothing was changed: {exc}") from exc
            self._dense = None
            self.generation += 1
        state.set_progress(1.0, f"re-embedded {len(done)} chunks")
        return len(done)

    # --- search ----------------------------------------------------------------------------------------

    def _dense_index(self) -> _Dense:
        with self._lock:
            if self._dense is None:
                rows = self._conn.execute("SELECT chunk_id, vector FROM embeddings WHERE model = ? ORDER BY chunk_id",
                                          (self.model_id,)).fetchall()
                dense = _Dense()
                if rows:
                    dense.ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                    dense.matrix = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
                self._dense = dense
            return self._dense

    def search(self, query: str, query_embedding: np.ndarray | None = None, k: int = 5,
               max_per_article: int | None = None) -> list[ChunkHit]:
        """Top-k chunks by reciprocal-rank fusion of FTS5 BM25 and dense cosine (either may be absent)."""
        if k <= 0 or not query.strip():
            return []
        match = fts_query(query)
        with self._lock:
            bm25 = self._conn.execute(
                f"SELECT rowid, -bm25(chunks_fts, {', '.join(map(str, FTS_WEIGHTS))}) AS s FROM chunks_fts "
                "WHERE chunks_fts MATCH ? ORDER BY s DESC LIMIT ?", (match, CANDIDATES)).fetchall() if match else []
        dense: list[tuple[int, float]] = []
        index = self._dense_index()
        if query_embedding is None and self.embed is not None and len(index.ids):
            query_embedding = self.embed([query])[0]
        if query_embedding is not None and len(index.ids) and index.matrix.shape[1] == np.size(query_embedding):
            scores = index.matrix @ _normalised(np.reshape(query_embedding, (1, -1)))[0]
            top = np.argpartition(-scores, CANDIDATES)[:CANDIDATES] if len(scores) > CANDIDATES else np.arange(len(scores))
            top = top[np.argsort(-scores[top], kind="stable")]
            dense = [(int(index.ids[i]), float(scores[i])) for i in top]
        fused = reciprocal_rank_fusion([[str(i) for i, _ in bm25], [str(i) for i, _ in dense]])
        bm25_at = {i: (rank, s) for rank, (i, s) in enumerate(bm25, start=1)}
        dense_at = {i: (rank, s) for rank, (i, s) in enumerate(dense, start=1)}
        wanted = [int(i) for i, _ in fused[: max(k * 4, k) if max_per_article else k]]
        rows = {r[0]: r for r in self._rows(
            "SELECT c.id, c.article_id, a.title, a.category, c.section, c.text, a.source FROM chunks c "
            f"JOIN articles a ON a.id = c.article_id WHERE c.id IN ({','.join('?' * len(wanted))})", wanted)}
        hits: list[ChunkHit] = []
        per_article: dict[str, int] = {}
        for key, score in fused:
            row = rows.get(int(key))
            if row is None or (max_per_article and per_article.get(row[1], 0) >= max_per_article):
                continue
            per_article[row[1]] = per_article.get(row[1], 0) + 1
            b, d = bm25_at.get(row[0]), dense_at.get(row[0])
            chunk_id, article_id, title, category, section, text, source = row
            hits.append(ChunkHit(chunk_id, article_id, title, category, section, text, source, fused=score,
                                 bm25=b[1] if b else None, dense=d[1] if d else None,
                                 bm25_rank=b[0] if b else None, dense_rank=d[0] if d else None))
            if len(hits) == k:
                break
        return hits


__all__ = ["Article", "ArticleInfo", "ChunkHit", "ImportReport", "KnowledgeStore", "KnowledgeStoreError",
           "default_store_path", "fts_query"]
