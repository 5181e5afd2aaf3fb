"""The reply bank: canned replies (macros) with placeholders, kept per user as JSON, imported/exported as CSV.

Placeholders a macro may use (anything else in braces is kept, marked for the agent, and reported on import):

- ``{customer_name}``: the customer's name (``FillContext.customer_name``, or "my name is ..." in the chat)
- ``{agent_name}``: the agent's name (``FillContext.agent_name``)
- ``{order_id}``, ``{ticket_id}``, ``{account_id}``: identifiers from screenshots or the conversation
- ``{amount}``: a money amount ("59.99 USD" from a screenshot is written "$59.99")
- ``{date}``: a date (ISO from a screenshot is written "March 15, 2024")
- ``{product}``, ``{status}``, ``{error_code}``: as read off a screenshot (error codes also from the chat)

Filling is in ``assist.replies.macros.fill``; this module keeps the bank and its CSV import/export.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from assist.paths import resource, user_data_dir
from assist.replies.kb.readers import SkippedFile, decode
from assist.replies.macros.fill import PLACEHOLDERS, placeholders_in, unknown_placeholders

MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_TITLE_CHARS = 200
MAX_TEXT_CHARS = 5000
CSV_COLUMNS = ("id", "title", "text", "intents", "tags", "team", "created_by")
_TEXT_ALIASES = ("text", "body", "reply", "macro")
_LIST_SPLIT = re.compile(r"[|;,]")
_INTENT_OK = re.compile(r"^[a-z][a-z0-9_]*$")


class MacroError(ValueError):
    """A macro or the reply bank cannot be used as asked (said in words for the agent)."""


class DuplicateMacro(MacroError):
    """A macro with the same text (in the same team) or the same id is already in the bank."""


@dataclass(frozen=True)
class Macro:
    """One canned reply; ``intents`` are intent labels it answers (e.g. "get_refund")."""

    id: str
    title: str
    text: str
    intents: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    team: str = ""
    created_by: str = ""

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Placeholder names in the text, in order of first use."""
        return placeholders_in(self.text)

    @property
    def unknown_placeholders(self) -> tuple[str, ...]:
        """Placeholders that are not in the documented list (kept as they are)."""
        return unknown_placeholders(self.text)


def macro_id(title: str, text: str, team: str = "") -> str:
    """A stable id from the content, so the same starter macro has the same feedback key everywhere."""
    return "m-" + hashlib.sha1(f"{team}\x1f{title}\x1f{text}".encode()).hexdigest()[:10]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _as_tuple(values: Iterable[str] | str, intents: bool = False) -> tuple[str, ...]:
    items = [values] if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in (part for value in items for part in _LIST_SPLIT.split(value)):
        item = item.strip()
        if intents:
            item = re.sub(r"[\s-]+", "_", item.lower())
        if item and item not in out:
            out.append(item)
    return tuple(out)


def make_macro(title: str, text: str, intents: Iterable[str] | str = (), tags: Iterable[str] | str = (),
               team: str = "", created_by: str = "", id: str = "") -> Macro:
    """A checked macro (raises MacroError for an empty or oversized title/text or a bad intent label)."""
    title, text, team = " ".join(title.split()), text.strip(), team.strip()
    if not title:
        raise MacroError("the title is empty")
    if not text:
        raise MacroError("the text is empty")
    if len(title) > MAX_TITLE_CHARS:
        raise MacroError(f"the title is longer than {MAX_TITLE_CHARS} characters")
    if len(text) > MAX_TEXT_CHARS:
        raise MacroError(f"the text is longer than {MAX_TEXT_CHARS} characters")
    intent_tuple = _as_tuple(intents, intents=True)
    bad = [i for i in intent_tuple if not _INTENT_OK.match(i)]
    if bad:
        raise MacroError(f"intent labels must be words like get_refund, not {', '.join(bad)}")
    return Macro(id=id.strip() or macro_id(title, text, team), title=title, text=text, intents=intent_tuple,
                 tags=_as_tuple(tags), team=team, created_by=created_by.strip())


@dataclass
class MacroImportReport:
    """What a CSV import did; ``problems`` name lines; ``ok`` False means the bank was left untouched."""

    path: str
    encoding: str = "utf-8"
    added: int = 0
    duplicates: int = 0
    skipped: int = 0  # malformed rows
    problems: list[str] = field(default_factory=list)  # rows not imported, and why
    warnings: list[str] = field(default_factory=list)  # imported, but worth a look (unknown placeholders)
    ok: bool = True

    def abort(self, problem: str) -> MacroImportReport:
        """The file cannot be imported; nothing is changed."""
        self.ok, self.added = False, 0
        self.problems.append(problem)
        return self


def default_bank_path() -> Path:
    """macros.json in the per-user data folder."""
    return user_data_dir() / "macros.json"


def starter_csv_path() -> Path:
    """The starter bank shipped with Assist (an online clothing store, ABCD's domain)."""
    return resource("macros", "starter.csv")


def _decode(data: bytes) -> tuple[str, str]:
    """As the knowledge-base importer reads text (UTF-16 with a BOM, UTF-8, Windows-1252), and Latin-1 for the
    rest: a macro file is never refused for its encoding (one with NUL bytes is then refused as not CSV)."""
    try:
        return decode(data, "macros")
    except SkippedFile:
        return data.decode("latin-1"), "latin-1"


def _delimiter(text: str) -> str:
    """',' unless the header line uses ';' (Excel in many locales) or tabs more."""
    header = text.split("\n", 1)[0]
    return max(",;\t", key=lambda d: (header.count(d), d == ","))


class MacroBank:
    """The agent's macros, saved as JSON at ``path`` (atomically, after every change when ``autosave``)."""

    def __init__(self, path: str | Path | None = None, autosave: bool = True) -> None:
        self.path = Path(path) if path else default_bank_path()
        self.autosave = autosave
        self._macros: dict[str, Macro] = {}
        if self.path.exists():
            self.load()

    @classmethod
    def open_user_bank(cls, path: str | Path | None = None) -> MacroBank:
        """The user's bank; a first run starts from the shipped starter macros."""
        bank = cls(path)
        if not bank.path.exists():
            report = bank.import_csv(starter_csv_path(), created_by="Assist")
            if not report.ok:
                raise MacroError("; ".join(report.problems))
        return bank

    # --- reading -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._macros)

    def __iter__(self) -> Iterator[Macro]:
        return iter(self._macros.values())

    def __contains__(self, macro_id: object) -> bool:
        return macro_id in self._macros

    @property
    def macros(self) -> list[Macro]:
        """All macros, in the order they were added."""
        return list(self._macros.values())

    def get(self, macro_id: str) -> Macro | None:
        return self._macros.get(macro_id)

    def for_team(self, team: str) -> list[Macro]:
        """Macros for everyone (no team) and for ``team``."""
        return [m for m in self._macros.values() if not m.team or m.team == team]

    # --- changing ----------------------------------------------------------------------------
    def _duplicate_of(self, macro: Macro, pool: Iterable[Macro]) -> Macro | None:
        key = (_norm(macro.text), macro.team)
        return next((m for m in pool if m.id == macro.id or (_norm(m.text), m.team) == key), None)

    def add(self, macro: Macro) -> Macro:
        """Add a macro (raises DuplicateMacro when its text or id is already there)."""
        existing = self._duplicate_of(macro, self._macros.values())
        if existing is not None:
            raise DuplicateMacro(f"'{macro.title}' repeats the macro '{existing.title}'")
        self._commit({**self._macros, macro.id: macro})
        return macro

    def update(self, macro_id: str, **changes: object) -> Macro:
        """Change fields of a macro (its id stays, so its feedback history stays with it)."""
        old = self._macros.get(macro_id)
        if old is None:
            raise MacroError(f"no macro with id {macro_id}")
        if "id" in changes:
            raise MacroError("a macro's id cannot change")
        merged = asdict(replace(old, **changes))  # type: ignore[arg-type]
        new = make_macro(**merged)
        others = [m for m in self._macros.values() if m.id != macro_id]
        clash = self._duplicate_of(replace(new, id="\x00"), others)
        if clash is not None:
            raise DuplicateMacro(f"the new text repeats the macro '{clash.title}'")
        self._commit({**self._macros, macro_id: new})
        return new

    def delete(self, macro_id: str) -> None:
        if macro_id not in self._macros:
            raise MacroError(f"no macro with id {macro_id}")
        self._commit({k: m for k, m in self._macros.items() if k != macro_id})

    def _commit(self, macros: dict[str, Macro]) -> None:
        """Make ``macros`` the bank; when saving fails the bank stays as it was (memory and file)."""
        before, self._macros = self._macros, macros
        try:
            self._changed()
        except OSError as exc:
            self._macros = before
            raise MacroError(f"the reply bank could not be saved ({exc.strerror or exc})") from exc

    def _changed(self) -> None:
        if self.autosave:
            self.save()

    # --- JSON --------------------------------------------------------------------------------
    def load(self) -> None:
        """Read the bank file (raises MacroError when it is unreadable; the file is left as it is)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            macros = [make_macro(**{k: v for k, v in m.items() if k in CSV_COLUMNS}) for m in data["macros"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MacroError(f"The reply bank {self.path} is unreadable or corrupt: {exc}") from exc
        self._macros = {m.id: m for m in macros}

    def save(self) -> None:
        """Write the bank atomically (a crash mid-write leaves the previous file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": 1, "macros": [asdict(m) for m in self._macros.values()]}
        fd, tmp = tempfile.mkstemp(prefix=".macros-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(payload, out, indent=1, ensure_ascii=False)
                out.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # --- CSV ---------------------------------------------------------------------------------
    def import_csv(self, path: str | Path, strict: bool = False, created_by: str = "") -> MacroImportReport:
        """Add the macros in a CSV (title,text[,intents,tags,team,id,created_by]); all or nothing per file.

        Malformed rows are skipped and named by line (``strict``: any malformed row fails the file);
        repeats of existing macros or of earlier rows are skipped and reported. A file that cannot be
        read, has no title/text columns, or cannot be saved leaves the bank exactly as it was.
        """
        path = Path(path)
        report = MacroImportReport(str(path))
        try:
            if path.stat().st_size > MAX_CSV_BYTES:
                return report.abort(f"{path.name} is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB")
            text, report.encoding = _decode(path.read_bytes())
        except OSError as exc:
            return report.abort(f"cannot read {path}: {exc.strerror or exc}")
        if report.encoding != "utf-8":
            report.warnings.append(f"{path.name} is not UTF-8; read it as {report.encoding}")
        try:
            new = self._parse_rows(text, report, created_by)
        except csv.Error as exc:
            return report.abort(f"{path.name} is not a readable CSV file: {exc}")
        if not report.ok:
            return report
        if strict and report.skipped:
            return report.abort(f"{report.skipped} malformed row(s); nothing imported")
        before = dict(self._macros)
        self._macros.update((m.id, m) for m in new)
        try:
            self._changed()
        except OSError as exc:
            self._macros = before
            return report.abort(f"cannot save the reply bank {self.path}: {exc.strerror or exc}")
        report.added = len(new)
        return report

    def _parse_rows(self, text: str, report: MacroImportReport, created_by: str) -> list[Macro]:
        if "\x00" in text:
            raise csv.Error("it contains NUL bytes (is it a spreadsheet file rather than CSV?)")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
        header = [h.strip().lower() for h in next(reader, [])]
        text_col = next((a for a in _TEXT_ALIASES if a in header), None)
        if "title" not in header or text_col is None:
            report.abort(f"the first line must name the columns, with at least title and text (found: "
                         f"{', '.join(h for h in header if h) or 'nothing'})")
            return []
        col = {name: header.index(name) for name in {*CSV_COLUMNS, text_col} if name in header}
        col["text"] = col[text_col]
        new: list[Macro] = []
        line = reader.line_num
        for row in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                report.skipped += 1
                report.problems.append(f"line {start}: {len(row)} cells for {len(header)} columns (quote text "
                                       f"that contains the delimiter)")
                continue

            def cell(name: str, row: list[str] = row) -> str:
                i = col.get(name)
                return row[i] if i is not None and i < len(row) else ""

            try:
                macro = make_macro(cell("title"), cell("text"), cell("intents"), cell("tags"), cell("team"),
                                   cell("created_by") or created_by, cell("id"))
            except MacroError as exc:
                report.skipped += 1
                report.problems.append(f"line {start}: {exc}")
                continue
            twin = self._duplicate_of(macro, [*self._macros.values(), *new])
            if twin is not None:
                report.duplicates += 1
                report.problems.append(f"line {start}: '{macro.title}' repeats '{twin.title}' (skipped)")
                continue
            if macro.unknown_placeholders:
                names = ", ".join("{" + p + "}" for p in macro.unknown_placeholders)
                report.warnings.append(f"line {start}: unknown placeholder {names} kept; the agent fills it in "
                                       f"(known: {', '.join(PLACEHOLDERS)})")
            new.append(macro)
        return new

    def export_csv(self, path: str | Path, team: str | None = None) -> int:
        """Write the macros (or those for ``team``) as UTF-8 CSV with every column; returns how many."""
        macros = self.macros if team is None else self.for_team(team)
        path = Path(path)
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(CSV_COLUMNS)
            for m in macros:
                writer.writerow([m.id, m.title, m.text, "|".join(m.intents), "|".join(m.tags), m.team, m.created_by])
        return len(macros)
