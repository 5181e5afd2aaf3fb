"""Planning a knowledge-base import: which files are new, changed, unchanged or gone, and what to embed.

Reads every file under a root with the readers of ``kb_import``, compares content hashes with what the
store already holds, and returns an ``ImportPlan`` that the store writes in one transaction; the
``ImportReport`` says in words what happened.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from assist.domain import ProgressState
from assist.replies.kb.readers import (
    ArticleDraft,
    FileRead,
    MalformedFile,
    SkippedFile,
    chunk_article,
    embedding_text,
    parse_file,
    read_capped,
)


@dataclass
class ImportReport:
    """What an import did (article counts), the files it could not take, and why, in words."""

    path: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    duplicates: int = 0
    failed: int = 0  # files not imported (skipped or malformed)
    chunks_embedded: int = 0
    problems: list[str] = field(default_factory=list)
    ok: bool = True  # False: nothing was changed
    cancelled: bool = False
    seconds: float = 0.0

    def skip(self, problem: str) -> None:
        self.failed += 1
        self.problems.append(problem)

    def abort(self, problem: str) -> None:
        """The import cannot go on; the store is left untouched."""
        self.ok = False
        self.added = self.updated = self.removed = 0
        self.problems.append(problem)

    def summary(self) -> str:
        if self.cancelled:
            return "import cancelled; the knowledge base is unchanged"
        if not self.ok:
            return "import failed; the knowledge base is unchanged"
        text = f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, {self.removed} removed"
        extras = [f"{self.duplicates} duplicates skipped" if self.duplicates else "",
                  f"{self.failed} files not imported" if self.failed else ""]
        return ", ".join([text, *filter(None, extras)])


@dataclass(frozen=True)
class StoredState:
    """What the store holds now: files (path -> (root, sha256)) and articles (id -> (file, sha256, dedupe))."""

    files: dict[str, tuple[str, str]]
    articles: dict[str, tuple[str, str, str]]


@dataclass(frozen=True)
class FileRow:
    path: str
    root: str
    sha256: str
    size: int


@dataclass(frozen=True)
class PlannedArticle:
    id: str
    file: str
    draft: ArticleDraft


@dataclass(frozen=True)
class PlannedChunk:
    article_id: str
    position: int
    section: str
    text: str
    embed_text: str
    embed_sha: str


@dataclass
class ImportPlan:
    """The writes one import needs; the store applies them in one transaction."""

    files: list[FileRow] = field(default_factory=list)
    articles: list[PlannedArticle] = field(default_factory=list)  # added or updated
    chunks: list[PlannedChunk] = field(default_factory=list)  # of those articles
    remove_articles: list[str] = field(default_factory=list)
    remove_files: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)  # (new source, id) of unchanged articles


def list_files(root: Path) -> list[Path]:
    """Files under a folder (hidden files and folders left out), in a stable order."""
    return sorted(p for p in root.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _article_id(label: str, draft: ArticleDraft, taken: set[str]) -> str:
    """The draft's own id, else a digest of its file and key; a suffix where either is already taken."""
    base = draft.id or hashlib.sha1(f"{label}#{draft.key or draft.title}".encode()).hexdigest()[:16]
    article_id, n = base, 1
    while article_id in taken:
        n += 1
        article_id = f"{base}-{n}"
    taken.add(article_id)
    return article_id


def _read_all(root: Path, stored: StoredState, report: ImportReport, state: ProgressState
              ) -> tuple[dict[str, tuple[FileRow, str, FileRead]], set[str]]:
    """Read every new or changed file; unchanged, skipped and malformed ones go to the report."""
    files = list_files(root) if root.is_dir() else [root]
    reads: dict[str, tuple[FileRow, str, FileRead]] = {}
    seen: set[str] = set()
    per_file = Counter(f for f, _, _ in stored.articles.values())
    for n, file in enumerate(files):
        if state.is_cancelled():
            report.cancelled = True
            break
        label = f"{root.name}/{file.relative_to(root).as_posix()}" if root.is_dir() else file.name
        state.set_progress(n / len(files), f"reading {label}")
        path = str(file.resolve())
        seen.add(path)
        try:
            data = read_capped(file, label)
            sha = hashlib.sha256(data).hexdigest()
            if stored.files.get(path, ("", ""))[1] == sha:
                report.unchanged += per_file[path]
                continue
            read = parse_file(file, data, label)
        except SkippedFile as exc:
            report.skip(str(exc))
            continue
        except MalformedFile as exc:
            report.skip(str(exc))
            report.ok = False
            continue
        report.problems += read.notes
        reads[path] = (FileRow(path, str(root.resolve()), sha, len(data)), label, read)
    return reads, seen


def plan_import(root: Path, stored: StoredState, state: ProgressState | None = None
                ) -> tuple[ImportPlan, ImportReport]:
    """What importing a folder or file would change: added, updated, unchanged, removed articles."""
    state = state or ProgressState()
    plan, report = ImportPlan(), ImportReport(str(root))
    root = root.expanduser()
    if not root.exists() or (root.is_dir() and not list_files(root)):
        report.abort(f"{root} does not exist" if not root.exists() else f"{root} is an empty folder: nothing to import")
        return plan, report
    reads, seen = _read_all(root, stored, report, state)
    if not report.ok or report.cancelled:
        if not report.cancelled:
            report.abort("nothing was imported because of the problems above; the knowledge base is unchanged")
        return plan, report
    if root.is_dir():
        resolved = str(root.resolve())
        plan.remove_files = [p for p, (r, _) in stored.files.items() if r == resolved and p not in seen]
    replaced = set(reads) | set(plan.remove_files)
    known = {dedupe: a_id for a_id, (f, _, dedupe) in stored.articles.items() if f not in replaced}
    taken = {a_id for a_id, (f, _, _) in stored.articles.items() if f not in replaced}  # ids stay unique
    by_file: dict[str, set[str]] = {}
    for a_id, (f, _, _) in stored.articles.items():
        by_file.setdefault(f, set()).add(a_id)
    for path, (row, label, read) in reads.items():
        plan.files.append(row)
        old = by_file.get(path, set())
        for draft in read.drafts:
            if draft.dedupe_key in known:
                report.duplicates += 1
                report.problems.append(f"{draft.source}: duplicate of an article already imported "
                                       f"('{draft.title}'), skipped")
                continue
            known[draft.dedupe_key] = draft.source
            article_id = _article_id(label, draft, taken)
            if article_id in old and stored.articles[article_id][1] == draft.sha256:
                report.unchanged += 1
                plan.moved.append((draft.source, article_id))
            else:
                report.updated += article_id in old
                report.added += article_id not in old
                plan.articles.append(PlannedArticle(article_id, path, draft))
        gone = old - taken
        plan.remove_articles += sorted(gone)
        report.removed += len(gone)
    report.removed += sum(len(by_file.get(f, ())) for f in plan.remove_files)
    for article in plan.articles:
        for position, (heading, text) in enumerate(chunk_article(article.draft)):
            embed = embedding_text(article.draft.title, heading, text)
            plan.chunks.append(PlannedChunk(article.id, position, heading, text, embed,
                                            hashlib.sha256(embed.encode("utf-8")).hexdigest()))
    if not (reads or report.unchanged or plan.remove_files):
        report.ok = False
        report.problems.append(f"no articles could be imported from {root}; the knowledge base is unchanged")
    return plan, report
