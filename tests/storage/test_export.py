"""Exports on a real journal (recorded by the real pipeline): CSV and JSON read back equal to the reader, the
one-session HTML report (KPIs, transcript, a parsable SVG timeline, escaping), the team summary's figures, and
writes that fail cleanly (an ExportError naming the file, and no partial file left)."""

from __future__ import annotations

import csv
import json
import os
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from html.parser import HTMLParser

import pytest

from assist.domain import EKMAN_EMOTIONS
from assist.pipeline.controller import SessionController
from assist.storage import Journal, StorageError
from assist.storage.export import (
    CSV_COLUMNS,
    ExportError,
    UnknownSession,
    export_sessions,
    session_report_html,
    team_figures,
    team_summary_html,
    write_session_report,
    write_team_summary,
)  # fmt: skip
from assist.storage.reader import JournalReader
from assist.storage.svg import SVG_NS, svg_bar_chart, svg_line_chart

pytestmark = pytest.mark.slow

SCRIPT = "<script>alert(1)</script>"
ANGRY = ["This is the third time my package is late, I want my money back NOW",
         f"Unbelievable. Nobody helps me {SCRIPT} I am cancelling my account and calling my lawyer"]
CALM = ["Hi, could you tell me how long standard delivery takes?", "Great, thank you so much!"]
FORMULA = "=HYPERLINK(\"http://evil.example\", \"refund\") is what your site shows me"
OCR = "Order A-1234 status: DELAYED & <b>held</b>"


@pytest.fixture(scope="module")
def journal(tmp_path_factory, engines):
    """Three sessions: dana (angry, one suggestion used, one dismissed, a screenshot), ali (calm, uses the first
    suggestion every time) and dana again (one turn that looks like a spreadsheet formula)."""
    path = tmp_path_factory.mktemp("export") / "journal.sqlite3"
    journal = Journal(path)
    controller = SessionController(engines, journal=journal)
    ids = []
    for agent, texts in (("dana", ANGRY), ("ali", CALM), ("dana", [FORMULA])):
        session = controller.start_session(agent=agent)
        ids.append(session.id)
        for index, text in enumerate(texts):
            turn = controller.submit("customer", text)
            controller.submit("agent", f"Let me look into that for you {SCRIPT}.")
            if agent == "ali" or (len(ids) == 1 and index == 0):
                controller.feedback(turn.insight.suggestions[0].id, "inserted")
                controller.feedback(turn.insight.suggestions[0].id, "sent")
            elif len(ids) == 1:
                controller.feedback(turn.insight.suggestions[1].id, "dismissed")
        if len(ids) == 1:
            controller.submit("agent", OCR, kind="screenshot", meta={"path": "/data/s1/shot-0001.png", "width": 800,
                                                                      "height": 600})
        controller.end_session()
    assert journal.flush(30)
    journal.close()
    return path, ids


class _Page(HTMLParser):
    """The page's KPI cards, per-agent table cells and whether it has any script or external resource."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.kpis: dict[str, str] = {}
        self.cells: dict[tuple[str, str], str] = {}
        self.tags: set[str] = set()
        self.links: list[str] = []
        self._kpi = self._agent = self._col = None
        self._in_dd = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self.links += [v for k, v in attrs if k in ("src", "href") and v]
        if "data-kpi" in a:
            self._kpi = a["data-kpi"]
        self._in_dd = tag == "dd"
        if "data-agent" in a:
            self._agent = a["data-agent"]
        self._col = a.get("data-col")

    def handle_data(self, data):
        if self._in_dd and self._kpi:
            self.kpis[self._kpi] = data
        if self._col and self._agent:
            self.cells[(self._agent, self._col)] = data

    def handle_endtag(self, tag):
        self._in_dd = False
        self._col = None


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def _svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(chunk) for chunk in re.findall(r"<svg\b.*?</svg>", html, flags=re.S)]


def test_csv_has_one_row_per_event_with_the_customer_turns_reading(journal, tmp_path):
    path, ids = journal
    out = tmp_path / "sessions.csv"
    with JournalReader(path) as reader:
        assert export_sessions(reader, ids, out, "csv") == out
        expected = [(sid, event) for sid in ids for event in reader.events(sid)]
        insights = {i["message_id"]: i for sid in ids for i in reader.insights(sid)}
        used = {f["suggestion_id"] for sid in ids for f in reader.feedback(sid) if f["action"] == "sent"}
        sessions = {s["id"]: s for s in reader.sessions()}
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == len(expected) == 4 + 5 + 2
    for row, (sid, event) in zip(rows, expected):
        assert (row["session_id"], row["event_id"], row["kind"], row["role"]) == (sid, event["id"], event["kind"],
                                                                                 event["role"])
        assert row["agent"] == sessions[sid]["agent"]
        assert row["session_started"] == _iso(sessions[sid]["started_at"]) and row["time"] == _iso(event["created_at"])
        assert row["text"] == ("'" + event["text"] if event["text"].startswith("=") else event["text"])
        insight = insights.get(event["id"])
        if insight is None:
            assert row["emotion"] == row["suggestions_shown"] == row["used"] == ""
            continue
        assert row["emotion"] == insight["emotion"] and row["intent"] == insight["intent"]
        assert float(row["emotion_confidence"]) == pytest.approx(insight["emotion_confidence"], abs=1e-4)
        assert float(row["escalation_score"]) == pytest.approx(insight["escalation_score"], abs=1e-4)
        assert row["sentiment"] == insight["sentiment"] and row["escalation_level"] == insight["escalation_level"]
        assert row["suggestions_shown"] == "\n".join(s["text"] for s in insight["suggestions"])
        taken = [s["text"] for s in insight["suggestions"] if s["id"] in used]
        assert row["used"] == ("yes" if taken else "no") and row["suggestion_used"] == "\n".join(taken)
    assert [r["used"] for r in rows if r["role"] == "customer"] == ["yes", "no", "yes", "yes", "no"]
    assert SCRIPT in rows[1]["text"] and rows[-2]["text"].startswith("'=HYPERLINK")  # never run as a formula


def test_json_has_one_object_per_session_equal_to_the_reader(journal, tmp_path):
    path, ids = journal
    out = tmp_path / "sessions.json"
    with JournalReader(path) as reader:
        export_sessions(reader, [ids[1], ids[0], ids[1]], out, "json")  # order kept, repeats dropped
        data = json.loads(out.read_text(encoding="utf-8"))
        summaries = {s.id: s for s in reader.session_summaries()}
        assert [s["session"]["id"] for s in data["sessions"]] == [ids[1], ids[0]]
        for exported in data["sessions"]:
            sid = exported["session"]["id"]
            assert exported["events"] == reader.events(sid)
            assert exported["insights"] == reader.insights(sid)
            assert exported["feedback"] == reader.feedback(sid)
            figures, summary = exported["session"]["figures"], summaries[sid]
            assert figures["customer_turns"] == summary.customer_turns == 2
            assert (figures["peak_negative"], figures["escalations"]) == (summary.peak_negative, summary.escalations)
            assert (figures["suggestions"], figures["used"], figures["acceptance"]) == (
                summary.suggestions, summary.used, summary.acceptance)
        assert data["sessions"][0]["session"]["figures"]["used"] == 2
        export_sessions(reader, None, out, "json")
        assert len(json.loads(out.read_text(encoding="utf-8"))["sessions"]) == 3
        with pytest.raises(ValueError, match="xlsx"):
            export_sessions(reader, ids, tmp_path / "x.xlsx", "xlsx")


def test_session_report_has_kpis_transcript_timeline_and_escapes_everything(journal, tmp_path):
    path, ids = journal
    with JournalReader(path) as reader:
        html = session_report_html(reader, ids[0])
        summary = next(s for s in reader.session_summaries() if s.id == ids[0])
        events, insights = reader.events(ids[0]), reader.insights(ids[0])
        out = write_session_report(reader, ids[0], tmp_path / "report.html")
    page = _Page(html)
    assert page.kpis["agent"] == "dana" and page.kpis["customer_turns"] == "2"
    assert page.kpis["escalations"] == str(summary.escalations) and summary.escalations >= 1
    assert page.kpis["peak_negative"] == f"{summary.peak_emotion} {summary.peak_negative:.0%}"  # "anger 94%"
    assert summary.peak_emotion in ("anger", "disgust", "fear", "sadness")
    assert (page.kpis["suggestions"], page.kpis["used"]) == (str(summary.suggestions), "1")
    assert page.kpis["acceptance"] == f"{1 / summary.suggestions:.0%}"
    assert page.kpis["duration"].endswith(" s") and page.kpis["date"][:2] == "20"
    # escaped text, no script, nothing fetched
    assert "script" not in page.tags and SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert page.links == [] and "Content-Security-Policy" in html
    for event in events:
        assert (event["text"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")) in html
    assert "Order A-1234 status: DELAYED &amp; &lt;b&gt;held&lt;/b&gt;" in html and "shot-0001.png" in html
    assert html.count('class="turn customer"') == 2 and html.count('class="turn agent"') == 2  # screenshot apart
    assert html.count('<li class="used">') == 1 and "· sent" in html
    assert f'escalation {insights[1]["escalation_level"]}' in html and insights[0]["intent"] in html
    # the timeline: one polyline per Ekman emotion, one point per customer turn
    (svg,) = _svgs(html)
    lines = svg.findall(f"{{{SVG_NS}}}polyline")
    assert [line.get("data-series") for line in lines] == list(EKMAN_EMOTIONS)
    assert all(len(line.get("points").split()) == 2 for line in lines)
    for line, emotion in zip(lines, EKMAN_EMOTIONS):  # y runs from 234 (probability 0) up to 50 (probability 1)
        ys = [float(point.split(",")[1]) for point in line.get("points").split()]
        assert ys == [pytest.approx(234 - 184 * i["emotion_probs"][emotion], abs=0.06) for i in insights]
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") and "Customer emotion" in html


def _turn_html(html: str, event_id: str) -> str:
    """The report's list item of one turn (up to the next turn, or the end of the transcript)."""
    start = html.index(f'id="event-{event_id}"')
    end = html.find('<li class="turn ', start)
    return html[start:end if end >= 0 else html.index("<h2>Screenshots", start)]


def test_the_report_shows_each_correction_beside_the_model_s_reading(journal, tmp_path, capsys):
    from assist.app.cli.main import main as run_cli
    from assist.storage.annotations import AnnotationStore
    from assist.storage.svg import when
    from support import copy_journal

    path, ids = journal
    copy = copy_journal(path, tmp_path / "annotated.sqlite3")
    with JournalReader(copy) as reader:
        first, second = reader.insights(ids[0])
    maria, li = AnnotationStore(copy, "maria"), AnnotationStore(copy, "li")
    sadness = maria.annotate(first["message_id"], "emotion", "sadness")
    fear = li.annotate(first["message_id"], "emotion", "fear")  # corrects maria's correction
    intent = maria.annotate(second["message_id"], "intent", "delete_account")
    maria.comment(second["message_id"], "Threatens to leave <b>now</b>")
    maria.comment(ids[0], "Handled well & calmly")
    out = tmp_path / "report.html"
    assert run_cli(["export", "report", "--db", str(copy), "--session", ids[0][:8], "--out", str(out)]) == 0
    capsys.readouterr()
    html = out.read_text(encoding="utf-8")
    turn = _turn_html(html, first["message_id"])
    model = f"{first['emotion']} {first['emotion_confidence']:.0%}"
    # beside the model's reading of that message: what the model said, what it was corrected to, who and when
    assert turn.index('class="badges"') < turn.index('class="corrections"')
    assert turn.count('data-field="emotion"') == 2 and 'class="badge corrected">corrected emotion' in turn
    assert (f'model: <span class="model">{model}</span> → supervisor: <b class="value">fear</b> by '
            f'<span class="author">li</span> on <time>{when(fear.created_at)}</time>') in turn
    replaced = turn[turn.index('class="correction replaced"'):]  # maria's sadness, corrected again by li
    assert replaced.index("sadness") < replaced.index("maria") < replaced.index("replaced by a later correction")
    assert when(sadness.created_at) in replaced and "li" not in replaced.split("</p>")[0]
    later = _turn_html(html, second["message_id"])
    assert (f'model: <span class="model">{second["intent"].replace("_", " ")} {second["intent_confidence"]:.0%}'
            f'</span> → supervisor: <b class="value">delete account</b> by <span class="author">maria</span> on '
            f"<time>{when(intent.created_at)}</time>") in later
    assert "Threatens to leave &lt;b&gt;now&lt;/b&gt;" in later and "<b>now</b>" not in html  # escaped
    assert "<h2>Supervisor comments</h2>" in html and "Handled well &amp; calmly" in html
    assert html.count('class="corrections"') == 3 and "replaced" not in later
    with JournalReader(copy) as reader:  # another session: nothing corrected, nothing shown
        assert 'class="corrections"' not in session_report_html(reader, ids[1])
    with JournalReader(path) as reader:  # nor in the original, which nobody annotated
        assert 'class="corrections"' not in session_report_html(reader, ids[0])


def test_team_summary_figures_match_the_session_list(journal, tmp_path):
    path, ids = journal
    with JournalReader(path) as reader:
        summaries = reader.session_summaries()
        since, until = min(s.started_at for s in summaries), max(s.started_at for s in summaries) + 1
        html = team_summary_html(reader, since, until)
        out = write_team_summary(reader, since, until, tmp_path / "team.html")
        empty = _Page(team_summary_html(reader, until, until + 10))  # an empty range is a page too
    assert empty.kpis["sessions"] == "0" and empty.kpis["acceptance"] == "—" and empty.cells == {}
    page = _Page(html)
    total = team_figures(summaries)
    assert page.kpis["sessions"] == "3" and page.kpis["customer_turns"] == "5"
    assert page.kpis["escalation_rate"] == f"{1 / 3:.0%}" and page.kpis["acceptance"] == f"{total.acceptance:.0%}"
    for agent in ("dana", "ali"):
        mine = [s for s in summaries if s.agent == agent]
        assert page.cells[(agent, "sessions")] == str(len(mine))
        assert page.cells[(agent, "used")] == str(sum(s.used for s in mine))
        assert page.cells[(agent, "suggestions")] == str(sum(s.suggestions for s in mine))
        assert page.cells[(agent, "peak_negative")] == f"{max(s.peak_negative for s in mine):.0%}"
        mean = sum(s.peak_negative for s in mine) / len(mine)
        assert page.cells[(agent, "mean_peak_negative")] == f"{mean:.0%}"
        rate = sum(1 for s in mine if s.escalations) / len(mine)
        assert page.cells[(agent, "escalation_rate")] == f"{rate:.0%}"
    (chart,) = _svgs(html)
    bars = chart.findall(f"{{{SVG_NS}}}rect")
    assert sum(float(b.get("data-value")) for b in bars) == 3 and "Sessions per day" in html
    assert out.read_text(encoding="utf-8").count("data-agent=") == 2


def test_a_full_disk_leaves_no_partial_file_and_keeps_the_old_one(journal, tmp_path, monkeypatch):
    path, ids = journal
    out = tmp_path / "sessions.csv"
    out.write_text("the previous export", encoding="utf-8")

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with JournalReader(path) as reader:
        for write in (lambda: export_sessions(reader, ids, out, "csv"), lambda: export_sessions(reader, ids, out, "json"),
                      lambda: write_session_report(reader, ids[0], out),
                      lambda: write_team_summary(reader, None, None, out)):
            with pytest.raises(ExportError) as caught:
                write()
            assert str(caught.value).startswith(f"Cannot write {out}: No space left on device")
            assert caught.value.path == str(out) and isinstance(caught.value, StorageError)
            assert sorted(p.name for p in tmp_path.iterdir()) == ["sessions.csv"]  # no temporary file left
            assert out.read_text(encoding="utf-8") == "the previous export"


def test_a_folder_that_cannot_hold_the_file_and_an_unknown_session_fail_before_writing(journal, tmp_path):
    path, ids = journal
    not_a_folder = tmp_path / "plain-file"
    not_a_folder.write_text("x", encoding="utf-8")
    with JournalReader(path) as reader:
        with pytest.raises(ExportError, match=re.escape(f"Cannot write {not_a_folder / 'report.html'}: ")):
            write_session_report(reader, ids[0], not_a_folder / "report.html")
        with pytest.raises(ExportError, match="Cannot write"):
            export_sessions(reader, ids, tmp_path / "missing" / "sessions.csv", "csv")
        with pytest.raises(UnknownSession, match="No session starts with nope in "):
            export_sessions(reader, [ids[0], "nope"], tmp_path / "sessions.json", "json")
        with pytest.raises(UnknownSession):
            write_session_report(reader, "nope", tmp_path / "report.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain-file"]


def test_charts_are_well_formed_with_gaps_escaped_labels_and_no_data():
    svg = ET.fromstring(svg_line_chart({"anger": [0.2, None, 0.9], "a<b>&\"c": [1.5, 0.1, -1]}, ["1", "2", "3"],
                                       title="<t>", x_label="x & y"))
    lines = svg.findall(f"{{{SVG_NS}}}polyline")
    assert [len(line.get("points").split()) for line in lines] == [2, 3]  # None is a gap
    assert lines[1].get("data-series") == "a<b>&\"c" and svg.find(f"{{{SVG_NS}}}title").text == "<t>"
    ys = [float(p.split(",")[1]) for p in lines[1].get("points").split()]
    assert min(ys) >= 50 - 1e-6 and max(ys) <= 280 - 46 + 1e-6  # clamped to the plot
    assert ET.fromstring(svg_line_chart({}, [])).tag == f"{{{SVG_NS}}}svg"
    bars = ET.fromstring(svg_bar_chart([("03-01", 0), ("03-02", 7)]))
    assert [r.get("data-value") for r in bars.findall(f"{{{SVG_NS}}}rect")] == ["0", "7"]
    assert ET.fromstring(svg_bar_chart([])).tag == f"{{{SVG_NS}}}svg"


def test_sessions_over_time_fill_empty_days_and_switch_to_months_beyond_three_months():
    from assist.storage.export import _sessions_per_period
    from assist.storage.review import SessionSummary

    def at(day: datetime) -> SessionSummary:
        return SessionSummary("id", day.timestamp(), None, 0.0, "a", "chat", 0, 0, 0.0, "", 0, 0, 0)

    march = [at(datetime(2025, 3, 1, 10)), at(datetime(2025, 3, 1, 15)), at(datetime(2025, 3, 4, 9))]
    unit, bars = _sessions_per_period(march, None, datetime(2025, 3, 6).timestamp())  # until is exclusive
    assert unit == "day" and bars == [("03-01", 2.0), ("03-02", 0.0), ("03-03", 0.0), ("03-04", 1.0), ("03-05", 0.0)]
    unit, bars = _sessions_per_period([*march, at(datetime(2025, 8, 20))], None, None)
    assert unit == "month" and [b[0] for b in bars] == ["2025-03", "2025-04", "2025-05", "2025-06", "2025-07",
                                                        "2025-08"]
    assert [b[1] for b in bars] == [3, 0, 0, 0, 0, 1]
    unit, bars = _sessions_per_period(march, 0.0, None)  # since 1970: drawn from the first session, not decades
    assert unit == "day" and bars[0] == ("03-01", 2.0) and len(bars) == 4
    assert _sessions_per_period([], None, None) == ("day", [])
