"""Exports from the journal for a supervisor: sessions as CSV or JSON, a one-session HTML report and a team summary.

Every file is written atomically (a temporary file in the same folder, synced, then ``os.replace``), so a full or
read-only disk never leaves a half-written export behind; failures raise ``ExportError`` ("Cannot write <path>:
<reason>"). The HTML pages are self-contained: inline CSS and inline SVG charts, no script, no external resource
(a Content-Security-Policy forbids both), every journal text HTML-escaped. Qt-free, like the rest of storage.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path, PureWindowsPath
from typing import Any, TextIO

from assist.domain import EKMAN_EMOTIONS, used_suggestions
from assist.domain import USED_ACTIONS as _USED
from assist.storage.annotations import LABEL_FIELDS, Annotation
from assist.storage.errors import StorageError, UnknownSession
from assist.storage.reader import JournalReader
from assist.storage.review import SessionFilter, SessionSummary
from assist.storage.session_files import stored_file
from assist.storage.svg import duration_text, esc, kpi_cards, page_html, percent, svg_bar_chart, svg_line_chart, when

USED_ACTIONS = _USED  # what counts as a suggestion used: sent (as is or edited) or copied (domain.used_suggestions)
CSV_COLUMNS = (
    "session_id", "agent", "session_started", "event_id", "time", "kind", "role", "text", "emotion",
    "emotion_confidence", "sentiment", "sentiment_confidence", "intent", "intent_confidence", "escalation_level",
    "escalation_score", "suggestions_shown", "suggestion_used", "used",
)  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula
_PAGE = 2000


class ExportError(StorageError):
    """An export file could not be written (full disk, read-only or missing folder); no partial file is left."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"Cannot write {path}: {reason}. Nothing was saved there; choose another folder or free "
                         "some disk space and try again.", path)
        self.reason = reason


def write_atomic(path: str | Path, write: Callable[[TextIO], object], *, encoding: str = "utf-8",
                 newline: str | None = None) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then move it into place; the old file (if any) is kept
    until the new one is complete. The file is private to the user (it holds conversations)."""
    target = Path(path).expanduser()
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise ExportError(target, exc.strerror or str(exc)) from exc
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline=newline) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise ExportError(target, exc.strerror or str(exc)) from exc
        raise
    return target


@dataclass
class SessionRecord:
    """Everything the journal holds about one session, as the reader returns it."""

    row: dict[str, Any]
    summary: SessionSummary
    events: list[dict[str, Any]]
    insights: list[dict[str, Any]]
    feedback: list[dict[str, Any]]

    @property
    def used_ids(self) -> dict[str, str]:
        """Suggestion id -> the action that used it (sent, edited and sent, or copied; inserted in a journal from before
        Assist told inserting from sending)."""
        return used_suggestions((f["suggestion_id"], f["action"]) for f in self.feedback)

    def insight_of(self) -> dict[str, dict[str, Any]]:
        """Event id -> the Insight on that (customer) event."""
        return {insight["message_id"]: insight for insight in self.insights}


def load_session(reader: JournalReader, session_id: str, rows: dict[str, dict[str, Any]] | None = None
                 ) -> SessionRecord:
    """One session with its figures, events, insights (with suggestions) and feedback; UnknownSession if absent."""
    row = (rows if rows is not None else {r["id"]: r for r in reader.sessions()}).get(session_id)
    if row is None:
        raise UnknownSession(reader.path, session_id)
    started = float(row["started_at"])  # the figures of exactly this session: its start time, then its id
    flt = SessionFilter(since=started, until=math.nextafter(started, math.inf))
    summary = next((s for s in reader.session_summaries(flt, limit=10_000) if s.id == session_id), None)
    if summary is None:  # deleted since its row was read
        raise UnknownSession(reader.path, session_id)
    return SessionRecord(row, summary, reader.events(session_id), reader.insights(session_id),
                         reader.feedback(session_id))


def export_sessions(reader: JournalReader, session_ids: Iterable[str] | None, out_path: str | Path,
                    fmt: str = "csv") -> Path:
    """Write the sessions (``None``: all of them; ids or unique starts of ids) as ``csv`` (one row per event, UTF-8
    with a BOM so spreadsheets read it right) or ``json`` (one object per session); returns the path written."""
    if fmt not in ("csv", "json"):
        raise ValueError(f"cannot export as {fmt!r} (csv or json)")
    rows = {r["id"]: r for r in reader.sessions()}
    # an unknown or ambiguous id fails before any file is touched
    ids = list(rows) if session_ids is None else list(dict.fromkeys(reader.find_session(i) for i in session_ids))
    for session_id in ids:
        if session_id not in rows:
            raise UnknownSession(reader.path, session_id)
    records = (load_session(reader, session_id, rows) for session_id in ids)  # read one at a time, while writing
    if fmt == "json":
        return write_atomic(out_path, lambda handle: _write_json(handle, records))
    return write_atomic(out_path, lambda handle: _write_csv(handle, records), encoding="utf-8-sig", newline="")


def session_json(record: SessionRecord) -> dict[str, Any]:
    """The JSON object of one session: its row with its figures, events, insights and feedback."""
    figures = {k: v for k, v in asdict(record.summary).items() if k not in ("id", "started_at", "ended_at",
                                                                           "agent", "source", "origin")}
    figures["acceptance"] = record.summary.acceptance
    return {"session": {**record.row, "figures": figures}, "events": record.events, "insights": record.insights,
            "feedback": record.feedback}


def _write_json(handle: TextIO, records: Iterator[SessionRecord]) -> None:
    """Streamed one session at a time, so a large export never holds the whole journal in memory."""
    handle.write(f'{{"format": "assist-sessions", "version": 1, "exported_at": {time.time()!r}, "sessions": [')
    for index, record in enumerate(records):
        handle.write(("," if index else "") + "\n" + json.dumps(session_json(record), ensure_ascii=False, indent=1))
    handle.write("\n]}\n")


def _cell(text: Any) -> str:
    """Free text for a spreadsheet cell: a leading = + - @ is quoted with ' so it is never run as a formula."""
    text = "" if text is None else str(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _iso(timestamp: float | None) -> str:
    return "" if timestamp is None else datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def csv_rows(record: SessionRecord) -> Iterator[dict[str, str]]:
    """One row per event; a customer turn carries its Insight and what happened to its suggestions."""
    insight_of, used = record.insight_of(), record.used_ids
    for event in record.events:
        row = {"session_id": record.row["id"], "agent": _cell(record.row["agent"]),
               "session_started": _iso(record.row["started_at"]), "event_id": event["id"],
               "time": _iso(event["created_at"]), "kind": event["kind"], "role": event["role"] or "",
               "text": _cell(event["text"])}  # fmt: skip
        insight = insight_of.get(event["id"])
        if insight is not None:
            shown = insight["suggestions"]
            taken = [s for s in shown if s["id"] in used]
            row.update({
                "emotion": insight["emotion"] or "", "emotion_confidence": _number(insight["emotion_confidence"]),
                "sentiment": insight["sentiment"] or "", "sentiment_confidence": _number(insight["sentiment_confidence"]),
                "intent": insight["intent"] or "", "intent_confidence": _number(insight["intent_confidence"]),
                "escalation_level": insight["escalation_level"] or "",
                "escalation_score": _number(insight["escalation_score"]),
                "suggestions_shown": _cell("\n".join(s["text"] or "" for s in shown)),
                "suggestion_used": _cell("\n".join(s["text"] or "" for s in taken)),
                "used": ("yes" if taken else "no") if shown else "",
            })  # fmt: skip
        yield {column: row.get(column, "") for column in CSV_COLUMNS}


def _write_csv(handle: TextIO, records: Iterator[SessionRecord]) -> None:
    writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for record in records:
        writer.writerows(csv_rows(record))


# --- HTML pages --------------------------------------------------------------------------------------------------

def session_report_html(reader: JournalReader, session_id: str) -> str:
    """One session (its id or a unique start of it) as a self-contained page: KPIs, an emotion timeline (inline
    SVG), the transcript with each customer turn's reading, the supervisors' corrections beside it, and the
    suggestions, and the screenshots by their OCR text."""
    record = load_session(reader, reader.find_session(session_id))
    s, row = record.summary, record.row
    agent = row["agent"] or "(no agent)"
    title = f"Session with {agent} on {when(s.started_at)}"
    annotations = reader.annotations(s.id)
    return page_html(title, [
        f"<h1>{esc(title)}</h1>",
        f'<p class="sub">Session {esc(s.id)} · {esc(s.source or "chat")} · redaction '
        f'{"on" if row["redaction_enabled"] else "off"}</p>',
        kpi_cards([("agent", "Agent", agent), ("date", "Date", when(s.started_at)),
               ("duration", "Duration", duration_text(s.duration_s)),
               ("customer_turns", "Customer turns", str(s.customer_turns)),
               ("peak_negative", "Peak negative emotion", s.peak_text),
               ("escalations", "Escalations", str(s.escalations)),
               ("suggestions", "Suggestions shown", str(s.suggestions)), ("used", "Suggestions used", str(s.used)),
               ("acceptance", "Acceptance", percent(s.acceptance))]),
        '<p class="sub">Peak negative emotion: the strongest single negative emotion (anger, disgust, fear or '
        "sadness) the model read in any customer turn, with its probability.</p>",
        _session_comments(annotations),
        "<h2>Customer emotion</h2>", _emotion_chart(record),
        "<h2>Transcript</h2>", _transcript(record, annotations),
        "<h2>Screenshots</h2>", _screenshots(record, reader.path),
    ])  # fmt: skip


def _emotion_chart(record: SessionRecord) -> str:
    """One line per Ekman emotion over the customer turns (the chart is inline SVG: text, searchable, sharp)."""
    if not record.insights:
        return '<p class="empty">No customer turn was analysed in this session.</p>'
    probs = [insight["emotion_probs"] or {} for insight in record.insights]
    series = {emotion: [p.get(emotion) if p else None for p in probs] for emotion in EKMAN_EMOTIONS}
    chart = svg_line_chart(series, [str(n) for n in range(1, len(probs) + 1)], title="Customer emotion, turn by turn",
                           x_label="Customer turn", y_label="Probability")
    return f'<figure class="chart">{chart}</figure>'


def _transcript(record: SessionRecord, annotations: Sequence[Annotation] = ()) -> str:
    """Customer and agent turns in order; customer turns numbered as on the emotion chart's x axis, each turn
    followed by what supervisors corrected or said about it."""
    insight_of, used = record.insight_of(), record.used_ids
    number = {insight["message_id"]: n for n, insight in enumerate(record.insights, start=1)}
    on_turn: dict[str, list[Annotation]] = {}
    for annotation in annotations:
        if annotation.event_id is not None:
            on_turn.setdefault(annotation.event_id, []).append(annotation)
    items = []
    for event in record.events:
        if event["kind"] == "screenshot":
            continue
        role = event["role"] or "agent"
        tags = [f"turn {number[event['id']]}"] if event["id"] in number else []
        tags += [] if event["kind"] == "chat" else [event["kind"]]
        text = event["text"] or "(no words recognised)"
        insight = insight_of.get(event["id"])
        corrections = _corrections(on_turn.get(event["id"], []), insight)
        clock = datetime.fromtimestamp(event["created_at"]).strftime("%H:%M:%S")
        items.append(f'<li class="turn {esc(role)}" id="event-{esc(event["id"])}"><div class="who">{esc(role.title())} '
                     f'<time>{clock}</time> <small>{esc(" · ".join(tags))}</small></div>'
                     f'<p class="text">{esc(text)}</p>'
                     f'{_reading(insight, used, corrections) if insight else corrections}</li>')
    return '<ol class="transcript">' + "\n".join(items) + "</ol>" if items else '<p class="empty">No messages.</p>'


def _corrections(annotations: Sequence[Annotation], insight: dict[str, Any] | None) -> str:
    """A turn's corrections (the model's label, the supervisor's, who and when) and comments, oldest first; a label
    corrected again later is marked as replaced, so the one in force is plain to see."""
    if not annotations:
        return ""
    latest = {(a.field, a.event_id): a.id for a in annotations if a.field in LABEL_FIELDS}  # oldest first: last wins
    lines = []
    for a in annotations:
        by = _who_and_when(a)
        if a.field in LABEL_FIELDS:
            model = _model_label(insight, a.field)
            replaced = latest[(a.field, a.event_id)] != a.id
            lines.append(f'<p class="correction{" replaced" if replaced else ""}" data-field="{esc(a.field)}">'
                         f'<span class="badge corrected">corrected {esc(a.field)}</span> model: '
                         f'<span class="model">{esc(model)}</span> → supervisor: '
                         f'<b class="value">{esc(a.value.replace("_", " "))}</b> {by}'
                         f'{" <small>(replaced by a later correction)</small>" if replaced else ""}</p>')
        else:
            lines.append(f'<p class="correction comment" data-field="comment"><span class="badge corrected">'
                         f'comment</span> {esc(a.value)} {by}</p>')
    return '<div class="corrections">' + "".join(lines) + "</div>"


def _model_label(insight: dict[str, Any] | None, field: str) -> str:
    """What the model recorded for the turn's ``field`` (the label a correction overrides), with its confidence."""
    label = (insight or {}).get(field)
    if not label:
        return "(no reading)"
    confidence = (insight or {}).get(f"{field}_confidence")
    return str(label).replace("_", " ") + (f" {confidence:.0%}" if confidence is not None else "")


def _session_comments(annotations: Sequence[Annotation]) -> str:
    """Supervisors' comments on the whole session (turns' own are in the transcript)."""
    comments = [a for a in annotations if a.event_id is None]
    if not comments:
        return ""
    return ('<h2>Supervisor comments</h2><div class="corrections">' + "".join(
        f'<p class="correction comment" data-field="comment"><span class="badge corrected">comment</span> '
        f"{esc(a.value)} {_who_and_when(a)}</p>" for a in comments) + "</div>")


def _who_and_when(annotation: Annotation) -> str:
    return (f'by <span class="author">{esc(annotation.author)}</span> on '
            f"<time>{esc(when(annotation.created_at))}</time>")


def _reading(insight: dict[str, Any], used: dict[str, str], corrections: str = "") -> str:
    """A customer turn's badges (emotion, sentiment, intent, escalation), reasons, the supervisors' ``corrections``
    (HTML) right below them, and the suggestions shown."""
    level = insight["escalation_level"] or "low"
    badges = [f'<span class="badge emotion">{esc(insight["emotion"])} {insight["emotion_confidence"] or 0:.0%}</span>'
              if insight["emotion"] else "",
              f'<span class="badge sentiment">{esc(insight["sentiment"])}</span>' if insight["sentiment"] else "",
              f'<span class="badge intent">{esc(insight["intent"])}</span>' if insight["intent"] else "",
              f'<span class="badge esc-{esc(level)}">escalation {esc(level)} {insight["escalation_score"] or 0:.2f}'
              "</span>"]
    reasons = insight["escalation_reasons"] or []
    html = '<div class="badges">' + "".join(badges) + "</div>"
    if reasons and level != "low":
        html += f'<p class="reasons">{esc("; ".join(map(str, reasons)))}</p>'
    html += corrections
    suggestions = [f'<li class="{"used" if s["id"] in used else "shown"}">{esc(s["text"])} <small>'
                   f'{esc(s["source_title"])}{" · " + esc(used[s["id"]]) if s["id"] in used else ""}</small></li>'
                   for s in insight["suggestions"]]
    return html + ('<ol class="suggestions">' + "".join(suggestions) + "</ol>" if suggestions else "")


def _screenshots(record: SessionRecord, journal: Path) -> str:
    """Each screenshot's OCR text under its file name and where this PC has the picture (beside the journal: an
    archive names its own copy; see ``session_files``), as text: the page links to nothing."""
    shots = [event for event in record.events if event["kind"] == "screenshot"]
    if not shots:
        return '<p class="empty">No screenshot was captured in this session.</p>'
    items = []
    for event in shots:
        meta = event.get("meta") or {}
        recorded = str(meta.get("path") or "")
        name = PureWindowsPath(recorded).name
        found = stored_file(journal, record.row["id"], recorded)
        where = f"at {found.resolve()}" if found is not None else "picture file not found"
        shown = f"{esc(name)} <small>({esc(where)})</small>" if name else ""
        size = f" {meta['width']}×{meta['height']}" if meta.get("width") and meta.get("height") else ""
        items.append(f'<li><div class="who"><time>{esc(when(event["created_at"]))}</time> {shown}'
                     f'<small>{esc(size)}</small></div><pre class="ocr">{esc(event["text"] or "(no text found)")}'
                     "</pre></li>")
    return '<ol class="screens">' + "\n".join(items) + "</ol>"


def write_session_report(reader: JournalReader, session_id: str, path: str | Path) -> Path:
    """Write ``session_report_html`` to ``path`` (atomically); the page is read from the journal first."""
    html = session_report_html(reader, session_id)
    return write_atomic(path, lambda handle: handle.write(html))


@dataclass(frozen=True)
class TeamFigures:
    """Figures over a set of sessions; rates are None when there is nothing to divide by."""

    sessions: int
    customer_turns: int
    mean_peak_negative: float  # the mean over sessions of each session's peak negative emotion (SessionSummary's)
    peak_negative: float
    escalated_sessions: int
    suggestions: int
    used: int

    @property
    def escalation_rate(self) -> float | None:
        return self.escalated_sessions / self.sessions if self.sessions else None

    @property
    def acceptance(self) -> float | None:
        return self.used / self.suggestions if self.suggestions else None


def team_figures(summaries: Iterable[SessionSummary]) -> TeamFigures:
    found = list(summaries)
    peaks = [s.peak_negative for s in found]
    return TeamFigures(len(found), sum(s.customer_turns for s in found), sum(peaks) / len(peaks) if peaks else 0.0,
                       max(peaks, default=0.0), sum(1 for s in found if s.escalations), sum(s.suggestions for s in found),
                       sum(s.used for s in found))  # fmt: skip


def _epoch(value: float | datetime | None) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else value


def _in_range(reader: JournalReader, since: float | None, until: float | None) -> list[SessionSummary]:
    flt, found = SessionFilter(since=since, until=until), list[SessionSummary]()
    while page := reader.session_summaries(flt, sort="started", descending=False, limit=_PAGE, offset=len(found)):
        found += page
        if len(page) < _PAGE:
            break
    return found


def _sessions_per_period(found: list[SessionSummary], since: float | None, until: float | None
                         ) -> tuple[str, list[tuple[str, float]]]:
    """Sessions per day over the range (per month beyond three months); empty days are bars of 0."""
    days = [date.fromtimestamp(s.started_at) for s in found]
    first = date.fromtimestamp(since) if since is not None else min(days, default=None)
    last = date.fromtimestamp(math.nextafter(until, -math.inf)) if until is not None else max(days, default=None)
    if first is None or last is None or first > last:
        return "day", []
    if days and (last - first).days > 92:  # an open-ended range is drawn over the sessions found, not decades
        first, last = max(first, min(days)), min(last, max(days))
    if (last - first).days > 92:
        months = [f"{d:%Y-%m}" for d in days]
        span = range(first.year * 12 + first.month - 1, last.year * 12 + last.month)
        labels = [f"{m // 12}-{m % 12 + 1:02d}" for m in span]
        return "month", [(label, float(months.count(label))) for label in labels]
    return "day", [(f"{first + timedelta(n):%m-%d}", float(days.count(first + timedelta(n))))
                   for n in range((last - first).days + 1)]


def _period_text(since: float | None, until: float | None) -> str:
    if since is None:
        return "All sessions" if until is None else f"Sessions started before {when(until)}"
    return f"Sessions started since {when(since)}" if until is None else f"Sessions started from {when(since)} to {when(until)}"


def team_summary_html(reader: JournalReader, since: float | datetime | None = None,
                      until: float | datetime | None = None) -> str:
    """Sessions started in [since, until) (epoch seconds or datetimes; None: open): overall figures, a table per
    agent and sessions per day as an inline SVG bar chart."""
    since_s, until_s = _epoch(since), _epoch(until)
    found = _in_range(reader, since_s, until_s)
    total = team_figures(found)
    period = _period_text(since_s, until_s)
    by_agent: dict[str, list[SessionSummary]] = {}
    for summary in found:
        by_agent.setdefault(summary.agent or "(no agent)", []).append(summary)
    rows = []
    for agent, sessions in sorted(by_agent.items(), key=lambda item: (-len(item[1]), item[0].lower())):
        f = team_figures(sessions)
        cells = [("sessions", f.sessions), ("customer_turns", f.customer_turns),
                 ("mean_peak_negative", percent(f.mean_peak_negative)), ("peak_negative", percent(f.peak_negative)),
                 ("escalation_rate", percent(f.escalation_rate)), ("suggestions", f.suggestions), ("used", f.used),
                 ("acceptance", percent(f.acceptance))]  # fmt: skip
        rows.append(f'<tr data-agent="{esc(agent)}"><td>{esc(agent)}</td>'
                    + "".join(f'<td data-col="{key}">{esc(value)}</td>' for key, value in cells) + "</tr>")
    unit, bars = _sessions_per_period(found, since_s, until_s)
    chart = svg_bar_chart(bars, title=f"Sessions per {unit}", x_label="Date" if unit == "day" else "Month",
                          y_label="Sessions") if bars else '<p class="empty">No sessions.</p>'
    head = ("Agent", "Sessions", "Customer turns", "Mean peak negative", "Peak negative", "Escalation rate",
            "Suggestions shown", "Used", "Acceptance")
    return page_html(f"Team summary: {period}", [
        f'<h1>Team summary</h1><p class="sub">{esc(period)}</p>',
        kpi_cards([("sessions", "Sessions", str(total.sessions)), ("customer_turns", "Customer turns",
                str(total.customer_turns)), ("mean_peak_negative", "Mean peak negative emotion",
                percent(total.mean_peak_negative)), ("peak_negative", "Peak negative emotion",
                percent(total.peak_negative)), ("escalation_rate", "Escalation rate", percent(total.escalation_rate)),
               ("suggestions", "Suggestions shown", str(total.suggestions)), ("used", "Suggestions used",
                str(total.used)), ("acceptance", "Suggestion acceptance", percent(total.acceptance))]),
        '<p class="sub">Peak negative emotion of a session: the strongest single negative emotion (anger, disgust, '
        "fear or sadness) the model read in any of its customer turns. Escalation rate: sessions with a high "
        "escalation / sessions.</p>",
        "<h2>Per agent</h2>",
        "<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"
        + "\n".join(rows) + "</tbody></table>" if rows else '<p class="empty">No sessions in this period.</p>',
        "<h2>Sessions over time</h2>", f'<figure class="chart">{chart}</figure>',
    ])  # fmt: skip


def write_team_summary(reader: JournalReader, since: float | datetime | None, until: float | datetime | None,
                       path: str | Path) -> Path:
    """Write ``team_summary_html`` to ``path`` (atomically)."""
    html = team_summary_html(reader, since, until)
    return write_atomic(path, lambda handle: handle.write(html))


__all__ = ["CSV_COLUMNS", "ExportError", "SessionRecord", "TeamFigures", "UnknownSession", "csv_rows",
           "export_sessions", "load_session", "session_json", "session_report_html", "team_figures",
           "team_summary_html", "write_atomic", "write_session_report", "write_team_summary"]
