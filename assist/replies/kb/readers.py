"""Reading knowledge-base sources into article drafts: Markdown folders, CSV, JSON, ABCD guidelines.

Each reader returns ``ArticleDraft`` objects and the notes worth telling the user (a row without an
answer, a file read as Windows-1252). A file that cannot be understood raises ``MalformedFile`` naming
the file and the reason, so the store can roll the whole import back. ``chunk_article`` cuts a draft
into the passages that retrieval indexes.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assist.replies.kb.entries import KBEntry, KnowledgeBaseError, general_entries, import_abcd_guidelines

MAX_FILE_BYTES = 20 * 1024 * 1024  # bigger files are refused unread (split them)
MARKDOWN_SUFFIXES = (".md", ".markdown", ".txt")
SUFFIXES = (*MARKDOWN_SUFFIXES, ".csv", ".tsv", ".json")
# ~120-word windows: the text model embeds the first 128 tokens (~95 words) of each; the overlap brings the
# rest of a window into the next one's embedded head, and the keyword index reads every word anyway
WINDOW_WORDS = 120
OVERLAP_WORDS = 30
TITLE_KEYS = ("title", "question", "name", "subject")
BODY_KEYS = ("body", "answer", "content", "text")
CATEGORY_KEYS = ("category", "topic", "section")


class MalformedFile(KnowledgeBaseError):
    """A source file that cannot be read as a knowledge base (names the file and why)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class ArticleDraft:
    """One article as read from a source, before it is stored."""

    title: str
    category: str
    body: str
    sections: tuple[tuple[str, str], ...]
    source: str
    key: str = ""  # unique within its file (defaults to the title)
    id: str = ""  # a stable id of its own (ABCD procedures keep theirs, e.g. abcd/product-defect/initiate-refund)

    @property
    def sha256(self) -> str:
        """Identity of the content: duplicates share it, unchanged articles keep it."""
        text = f"{_norm(self.title)}\n{_norm(self.category)}\n{_norm(self.body)}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def dedupe_key(self) -> str:
        """Same title and body (whitespace and case aside) means the same article."""
        return hashlib.sha256(f"{_norm(self.title).lower()}\n{_norm(self.body).lower()}".encode()).hexdigest()


@dataclass
class FileRead:
    """What one file yielded: its drafts and notes for the user."""

    drafts: list[ArticleDraft] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _norm(text: str) -> str:
    return " ".join(text.split())


class SkippedFile(KnowledgeBaseError):
    """A file left out of an import (binary, too big, not a knowledge-base format); the rest goes on."""


def read_capped(path: Path, source: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The file's bytes, refusing (unread) a file over the size cap. Raises SkippedFile."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise SkippedFile(f"{source}: {size / 2**20:.1f} MB is over the {limit / 2**20:.0f} MB limit for one "
                              "file; split it into smaller files")
        return path.read_bytes()
    except OSError as exc:
        raise SkippedFile(f"{source}: cannot be read ({exc.strerror or exc})") from exc


def decode(data: bytes, source: str) -> tuple[str, str]:
    """Text and the encoding used: UTF-8 (BOM allowed), UTF-16 with a BOM, else Windows-1252.

    Raises SkippedFile for binary data (NUL bytes) and bytes that are neither.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise SkippedFile(f"{source}: marked UTF-16 but is not valid UTF-16") from exc
    if b"\x00" in data[:8192]:
        raise SkippedFile(f"{source}: skipped, a binary file (not text)")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise SkippedFile(f"{source}: skipped, neither UTF-8 nor Windows-1252 text") from exc


def parse_file(path: Path, data: bytes, source: str) -> FileRead:
    """Drafts from one file's bytes, by its suffix. Raises SkippedFile or MalformedFile."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise SkippedFile(f"{source}: skipped, not a Markdown, CSV or JSON file")
    text, encoding = decode(data, source)
    if not text.strip():
        raise SkippedFile(f"{source}: skipped, the file is empty")
    if suffix in MARKDOWN_SUFFIXES:
        read = FileRead([read_markdown(text, source, path.stem)])
    elif suffix in (".csv", ".tsv"):
        read = read_csv(text, source)
    else:
        read = read_json(path, text, source)
    if encoding == "cp1252":
        read.notes.insert(0, f"{source}: not valid UTF-8, read as Windows-1252")
    return read


# --- Markdown -------------------------------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _front_matter(lines: list[str], source: str) -> tuple[dict[str, str], list[str]]:
    if not lines or lines[0].strip() != "---":
        return {}, lines
    end = next((n for n, line in enumerate(lines[1:], start=1) if line.strip() in ("---", "...")), None)
    if end is None:
        raise MalformedFile(source, "the front matter opened with '---' on line 1 is never closed")
    meta: dict[str, str] = {}
    for number, line in enumerate(lines[1:end], start=2):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")):
            continue
        key, sep, value = stripped.partition(":")
        if not sep or not key.strip():
            raise MalformedFile(source, f"front matter line {number} is not 'key: value': {stripped[:60]!r}")
        meta[key.strip().lower()] = value.strip().strip("'\"")
    return meta, lines[end + 1 :]


def split_sections(lines: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """The first '#' title (if any) and (heading, text) sections cut at '##'..'######' headings."""
    title, heading, fenced = "", "", False
    sections: list[tuple[str, str]] = []
    parents: dict[int, str] = {}
    buf: list[str] = []
    for line in lines:
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match is None:
            buf.append(line)
            continue
        level, text = len(match.group(1)), match.group(2).strip()
        if level == 1 and not title:
            title = text
            continue
        if "\n".join(buf).strip():
            sections.append((heading, "\n".join(buf).strip()))
        buf = []
        parents = {lvl: h for lvl, h in parents.items() if lvl < level}
        parents[level] = text
        heading = " / ".join(parents[lvl] for lvl in sorted(parents) if lvl > 1) or text
    if "\n".join(buf).strip():
        sections.append((heading, "\n".join(buf).strip()))
    return title, sections


def read_markdown(text: str, source: str, stem: str = "") -> ArticleDraft:
    """One article: front matter (title, category) optional, '#' title, '##'/'###' sections."""
    meta, lines = _front_matter(text.splitlines(), source)
    heading_title, sections = split_sections(lines)
    if not sections:
        raise SkippedFile(f"{source}: skipped, no text (only headings)")
    title = meta.get("title") or heading_title or stem.replace("_", " ").replace("-", " ").strip() or source
    body = "\n\n".join(f"## {h}\n{t}" if h else t for h, t in sections)
    return ArticleDraft(title, meta.get("category", ""), body, tuple(sections), source)


# --- CSV ------------------------------------------------------------------------------------------------


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    return next((lowered.index(n) for n in names if n in lowered), None)


def read_csv(text: str, source: str) -> FileRead:
    """Rows with question/answer or title/body columns (any case); category optional; delimiter sniffed."""
    sample = text[:65536]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = "\t" if source.lower().endswith(".tsv") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    out = FileRead()
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise MalformedFile(source, "is empty (no header row)")
        title_col, body_col = _column(header, TITLE_KEYS), _column(header, BODY_KEYS)
        if title_col is None or body_col is None:
            found = ", ".join(h.strip() for h in header[:8])
            raise MalformedFile(source, f"needs columns question/answer or title/body; found: {found}")
        category_col = _column(header, CATEGORY_KEYS)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                raise MalformedFile(source, f"row {reader.line_num} has {len(row)} fields; the header has {len(header)}")
            cells = row + [""] * (len(header) - len(row))
            title, body = cells[title_col].strip(), cells[body_col].strip()
            if not title or not body:
                out.notes.append(f"{source}: row {reader.line_num} skipped (no {'title' if not title else 'answer'})")
                continue
            category = cells[category_col].strip() if category_col is not None else ""
            out.drafts.append(_draft(title, body, category, f"{source}#row{reader.line_num}", key=title))
    except csv.Error as exc:
        raise MalformedFile(source, f"is not valid CSV near line {reader.line_num}: {exc}") from exc
    return out


# --- JSON -----------------------------------------------------------------------------------------------


def _draft(title: str, body: str, category: str, source: str, key: str) -> ArticleDraft:
    """An article whose body may itself carry Markdown headings."""
    _, sections = split_sections(body.splitlines())
    return ArticleDraft(title, category, body, tuple(sections) or (("", body),), source, key)


def entry_article(entry: KBEntry, source: str) -> ArticleDraft:
    """An ABCD procedure (or one of Assist's general entries) as an article."""
    steps = "\n".join(f"{i}. {s}" for i, s in enumerate(entry.steps, start=1))
    sections = tuple((h, t) for h, t in (("Summary", entry.summary), ("Steps", steps),
                                         ("Suggested reply", entry.reply)) if t)
    body = "\n\n".join(f"## {h}\n{t}" for h, t in sections)
    return ArticleDraft(entry.title, entry.category, body, sections, f"{source}#{entry.id}", entry.id, entry.id)


def _is_abcd(data: Any) -> bool:
    return isinstance(data, dict) and bool(data) and all(
        isinstance(v, dict) and isinstance(v.get("subflows"), dict) for v in data.values())


def read_json(path: Path, text: str, source: str) -> FileRead:
    """A list of {title, body|answer|content, category?}, {"articles": [...]}, Assist's KB or ABCD guidelines."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedFile(source, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    except RecursionError as exc:  # "[[[[...": Python's parser gives up before we would; say it as what it is
        raise MalformedFile(source, "is nested too deeply to be a knowledge base (lists or objects inside each "
                                    "other thousands of levels deep)") from exc
    if _is_abcd(data):
        try:
            entries = import_abcd_guidelines(path)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise MalformedFile(source, f"looks like ABCD guidelines but an entry is malformed: {exc!r}") from exc
        entries += general_entries()
        return FileRead([entry_article(e, source) for e in entries])
    items = data.get("articles", data.get("entries")) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise MalformedFile(source, 'expected a list of articles or {"articles": [...]}')
    out = FileRead()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise MalformedFile(source, f"item {number} is {type(item).__name__}, not an object")
        if {"summary", "steps", "reply"} <= item.keys():
            try:
                entry = KBEntry(**{**item, "steps": tuple(item["steps"])})
            except TypeError as exc:
                raise MalformedFile(source, f"entry {number} is malformed: {exc}") from exc
            out.drafts.append(entry_article(entry, source))
            continue
        lowered = {str(k).lower(): v for k, v in item.items()}
        title = next((str(lowered[k]).strip() for k in TITLE_KEYS if lowered.get(k)), "")
        body = next((str(lowered[k]).strip() for k in BODY_KEYS if lowered.get(k)), "")
        if not title or not body:
            out.notes.append(f"{source}: item {number} skipped (no {'title' if not title else 'body'})")
            continue
        category = next((str(lowered[k]).strip() for k in CATEGORY_KEYS if lowered.get(k)), "")
        key = str(lowered.get("id") or title)
        out.drafts.append(_draft(title, body, category, f"{source}#{number}", key=key))
    return out


# --- chunking -------------------------------------------------------------------------------------------


def chunk_article(draft: ArticleDraft, window: int = WINDOW_WORDS, overlap: int = OVERLAP_WORDS
                  ) -> list[tuple[str, str]]:
    """(section heading, passage) pairs: one per section, long sections cut into overlapping windows."""
    chunks: list[tuple[str, str]] = []
    step = max(1, window - overlap)
    for heading, text in draft.sections:
        words = text.split()
        if not words:
            continue
        if len(words) <= window:
            chunks.append((heading, " ".join(words)))
            continue
        for start in range(0, len(words), step):
            piece = words[start : start + window]
            chunks.append((heading, " ".join(piece)))
            if start + window >= len(words):
                break
    return chunks


def embedding_text(title: str, heading: str, passage: str) -> str:
    """What the dense model reads for a chunk: where it comes from, then the passage."""
    lead = f"{title}. {heading}." if heading and heading != title else f"{title}."
    return f"{lead} {passage}"
