"""The review window (pytest-qt, offscreen) on real journals: filter, sort, search, replay with its clickable chart,
several journals at once without duplicates, a damaged journal beside good ones, and nothing written."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QUrl

from assist.domain import (
    ChatMessage,
    EmotionEstimate,
    Escalation,
    EscalationLevel,
    Insight,
    LabelEstimate,
    Role,
    Session,
)
from assist.gui.review.panel import ANGRY_FROM, COLUMNS, ReviewPanel
from assist.storage import Journal
from support import copy_journal
from tests.storage.test_review import (
    feelings,  # noqa: F401 - hand-made emotions: sadness 60%, four adding to 80%...
    journal_path,  # noqa: F401 - the module fixture: a real 3-session journal
)

pytestmark = pytest.mark.gui


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def panel(qtbot, journal_path):  # noqa: F811
    path, _ = journal_path
    made = ReviewPanel([path])
    qtbot.addWidget(made)
    made.resize(1280, 800)
    made.show()
    yield made
    made.shutdown()


def test_the_list_filters_and_sorts(qtbot, panel, journal_path):  # noqa: F811
    _, ids = journal_path
    assert panel.table.rowCount() == 3 and panel.status.text() == "3 sessions in 1 journal"
    panel.escalated.setChecked(True)
    assert [r.summary.id for r in panel.rows] == [ids["dana"][0]]
    panel.escalated.setChecked(False)
    panel.agent.setText("ali")
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=3000)
    panel.agent.setText("")
    qtbot.waitUntil(lambda: panel.table.rowCount() == 3, timeout=3000)
    column = [c for c, _ in COLUMNS].index("Peak negative")
    panel.table.horizontalHeader().sectionClicked.emit(column)
    assert panel.sort == "peak_negative" and panel.rows[0].summary.id == ids["dana"][0]
    assert panel.table.item(0, column).text().startswith("anger ")  # the emotion, then its probability
    panel.table.horizontalHeader().sectionClicked.emit(column)  # again: the other way round
    assert not panel.descending and panel.rows[-1].summary.id == ids["dana"][0]


def test_a_session_replays_with_its_chart_and_the_reply_the_agent_used(qtbot, panel, journal_path):  # noqa: F811
    _, ids = journal_path
    row = next(i for i, r in enumerate(panel.rows) if r.summary.id == ids["ali"][0])
    panel.table.selectRow(row)
    replay = panel.replay
    assert replay.replay is not None and replay.replay.summary.id == ids["ali"][0]
    assert "ali" in replay.header.text() and "suggestions used 2/6" in replay.header.text()
    assert len(replay.chart.points) == 2
    text = replay.transcript.toPlainText()
    assert "how long standard delivery takes" in text and text.count("✓ used") == 2
    qtbot.mouseClick(replay.chart, Qt.MouseButton.LeftButton, pos=QPoint(replay.chart.width() - 9, 40))
    assert replay.current_turn == 1  # the right edge is the last customer turn


def test_search_marks_the_words_and_a_hit_opens_its_turn(qtbot, panel, journal_path):  # noqa: F811
    _, ids = journal_path
    panel.search_box.setText("money back")
    panel.search()
    assert panel.hits.isVisible() and len(panel.last_hits) == 1
    assert "<b" in panel.hits.toHtml() and "money" in panel.hits.toPlainText()
    panel._open_hit(QUrl("hit:0"))
    assert panel.replay.replay.summary.id == ids["dana"][0] and panel.replay.current_turn == 0
    panel.search_box.setText('money AND ("')
    panel.search()  # FTS syntax characters are words
    panel.search_box.setText("")
    panel.search()
    assert not panel.hits.isVisible()


def test_several_journals_list_each_session_once_and_a_damaged_one_is_named(qtbot, journal_path, tmp_path):  # noqa: F811
    path, ids = journal_path
    copy = _copy(path, tmp_path, "bundle.sqlite3")
    conn = sqlite3.connect(copy)  # another agent's PC: one more session of its own
    conn.execute("INSERT INTO sessions (id, started_at, agent, source, redaction_enabled) "
                 "VALUES ('other-pc', 1.0, 'maria', 'chat', 1)")
    conn.commit()
    conn.close()
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"not a journal" * 200)
    before = {p: digest(p) for p in (path, copy)}
    panel = ReviewPanel([path, copy, broken, path])
    qtbot.addWidget(panel)
    try:
        assert sorted(r.summary.id for r in panel.rows) == sorted([*ids["dana"], *ids["ali"], "other-pc"])
        assert panel.status.text().startswith("4 sessions in 2 journals") and "broken.sqlite3" in panel.status.text()
        panel.table.selectRow(next(i for i, r in enumerate(panel.rows) if r.summary.id == "other-pc"))
        assert panel.replay.replay.journal == copy.resolve() and panel.replay.replay.turns == []
    finally:
        panel.shutdown()
    assert {p: digest(p) for p in (path, copy)} == before  # reviewing writes nothing


def test_assist_review_opens_and_saves_a_screenshot(journal_path, tmp_path):  # noqa: F811
    path, _ = journal_path
    shot = tmp_path / "review.png"
    out = subprocess.run([sys.executable, "-m", "assist", "review", "--db", str(path), "--offscreen",
                          "--screenshot", str(shot), "--search", "delivery"], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert shot.stat().st_size > 10_000 and "3 sessions in 1 journal" in out.stdout


def _copy(path: Path, tmp_path: Path, name: str = "journal.sqlite3") -> Path:
    return copy_journal(path, tmp_path / name)


def test_a_supervisor_corrects_a_turn_and_the_model_s_outputs_stay(qtbot, journal_path, tmp_path):  # noqa: F811
    path, ids = journal_path
    copy = _copy(path, tmp_path)

    def outputs() -> list[tuple]:
        with sqlite3.connect(copy) as conn:
            return conn.execute("SELECT id, emotion, intent, emotion_probs FROM insights ORDER BY id").fetchall()

    before = outputs()
    panel = ReviewPanel([copy])
    qtbot.addWidget(panel)
    try:
        panel.open_session(ids["dana"][0])
        replay = panel.replay
        assert "✎ correct" in replay.transcript.toPlainText()
        replay._link(QUrl("annotate:0"))  # the first turn is the customer's
        bar = replay.annotation
        assert bar.isVisibleTo(replay) and "model said anger" in bar.what.text()
        bar.author.setText("")
        bar.emotion.setCurrentText("sadness")
        assert not bar.save() and "author" in bar.result.text()
        bar.author.setText("maria")
        bar.comment.setText("She was upset about the delay more than angry")
        with qtbot.waitSignal(replay.annotated, timeout=3000):
            assert bar.save()
        text = panel.replay.transcript.toPlainText()
        assert "maria: emotion → sadness" in text and "maria: She was upset about the delay" in text
    finally:
        panel.shutdown()
    assert outputs() == before  # the model's outputs are untouched


def test_export_from_the_review_window(qtbot, panel, journal_path, tmp_path, monkeypatch):  # noqa: F811
    _, ids = journal_path
    target = {"path": str(tmp_path / "sessions.csv")}
    monkeypatch.setattr(panel, "_ask_save_path", lambda *a: target["path"])
    written = panel.export_listed("csv")
    assert written is not None and written.read_text(encoding="utf-8-sig").count("\n") >= 12
    assert panel.export_report() is None and "Open a session first" in panel.status.text()
    panel.open_session(ids["ali"][0])
    target["path"] = str(tmp_path / "report.html")
    report = panel.export_report()
    assert report is not None and "ali" in report.read_text(encoding="utf-8") and "<svg" in report.read_text()
    (tmp_path / "a-file").write_text("x")
    target["path"] = str(tmp_path / "a-file" / "team.html")
    assert panel.export_team() is None and panel.status.text().startswith("⚠ Cannot write")


def test_bundles_merge_into_an_archive_each_session_once(journal_path, tmp_path, capsys):  # noqa: F811
    from assist.app.cli.main import main as run_cli
    from assist.storage.merge import merge_journals
    from assist.storage.reader import JournalReader

    path, ids = journal_path
    bundle = _copy(path, tmp_path)
    conn = sqlite3.connect(bundle)  # the bundle also has a session the original never saw
    conn.execute("INSERT INTO sessions (id, started_at, agent, source, redaction_enabled) "
                 "VALUES ('bundle-only', 2.0, 'maria', 'chat', 1)")
    conn.execute("INSERT INTO events (id, session_id, kind, role, text, created_at, redactions, meta) "
                 "VALUES ('b-e1', 'bundle-only', 'chat', 'customer', 'the zebra-striped parcel is lost', 2.5, '{}', '{}')")
    conn.commit()
    conn.close()
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"nope" * 1000)
    archive = tmp_path / "archive" / "journal.sqlite3"
    first = merge_journals(archive, [path, bundle, broken])
    assert first.sessions_added == 4 and first.sessions_skipped == 3 and len(first.problems) == 1
    again = merge_journals(archive, [bundle])
    assert again.sessions_added == 0 and again.sessions_skipped == 4
    with JournalReader(archive) as merged, JournalReader(path) as original:
        assert merged.count_sessions() == 4
        mine = {s.id: s for s in merged.session_summaries()}
        theirs = {s.id: s for s in original.session_summaries()}
        assert all(replace(mine[i], origin="") == theirs[i] for i in theirs)  # the figures came along (triggers)
        assert {mine[i].origin for i in theirs} == {path.name} and mine["bundle-only"].origin == bundle.name
        assert [h.session_id for h in merged.search_hits("zebra striped")] == ["bundle-only"]
        assert len(merged.insights(ids["dana"][0])) == len(original.insights(ids["dana"][0]))
    assert run_cli(["merge", "--into", str(archive), str(bundle)]) == 0
    assert "0 sessions added (0 rows), 4 already in" in capsys.readouterr().out


def test_the_list_names_the_journal_each_merged_session_came_from(qtbot, tmp_path):
    """An archive and a bundle open together: each session once, with the journal it was recorded in, and the
    replay of a merged session links the archive's copy of its screenshot."""
    from assist.storage.merge import merge_journals
    from assist.storage.session_files import session_folder
    from tests.storage.test_merge_files import make_bundles

    bundles = make_bundles(tmp_path)
    archive = tmp_path / "office" / "archive.sqlite3"
    assert merge_journals(archive, [bundles.agent1, bundles.agent2]).problems == []
    panel = ReviewPanel([archive, bundles.agent1])
    qtbot.addWidget(panel)
    try:
        column = [c for c, _ in COLUMNS].index("Journal")
        listed = {panel.rows[r].summary.id: panel.table.item(r, column) for r in range(panel.table.rowCount())}
        assert {i: item.text() for i, item in listed.items()} == {
            bundles.chat: "agent1.sqlite3", bundles.bare: "agent1.sqlite3", bundles.call: "agent2.sqlite3"}
        assert listed[bundles.call].toolTip() == f"Recorded in agent2.sqlite3, merged into {archive.resolve()}"
        panel.open_session(bundles.chat, archive.resolve())
        assert "(merged from agent1.sqlite3)" in panel.replay.header.text()
        copy = session_folder(archive.resolve(), bundles.chat) / bundles.shot.name
        assert QUrl.fromLocalFile(str(copy)).toString() in panel.replay.transcript.toHtml()
        assert "file not found" not in panel.replay.transcript.toPlainText()
    finally:
        panel.shutdown()
    solo = ReviewPanel([bundles.agent1])  # a journal's own sessions: its own name
    qtbot.addWidget(solo)
    try:
        assert {solo.table.item(r, column).text() for r in range(solo.table.rowCount())} == {"agent1.sqlite3"}
    finally:
        solo.shutdown()


def test_a_screenshot_of_the_review_window_under_xvfb(journal_path, tmp_path):  # noqa: F811
    import os
    import shutil

    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (bash packaging/dev.sh installs it)")
    path, _ = journal_path
    shot = tmp_path / "review-xvfb.png"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}  # a real X server, not offscreen
    out = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m", "assist",
                          "review", "--db", str(path), "--screenshot", str(shot)], capture_output=True, text=True,
                         timeout=180, cwd=Path(__file__).resolve().parents[2], env=env)
    assert out.returncode == 0, out.stderr
    from PySide6.QtGui import QImage

    image = QImage(str(shot))
    assert image.width() >= 1000 and image.height() >= 600
    colours = {image.pixelColor(x, y).name() for x in range(0, image.width(), 37) for y in range(0, image.height(), 29)}
    assert len(colours) > 8  # a drawn window (table, chart lines, transcript), not a blank frame


def test_a_supervisor_s_whole_review(qtbot, journal_path, tmp_path, monkeypatch):  # noqa: F811
    """The issue's flow in one go: filter, search, open a replay, annotate, export the report and check it."""
    path, ids = journal_path
    copy = _copy(path, tmp_path)
    panel = ReviewPanel([copy])
    qtbot.addWidget(panel)
    try:
        panel.angry.setChecked(True)  # 1. filter: the angry sessions
        assert [r.summary.id for r in panel.rows] == [ids["dana"][0]]
        panel.search_box.setText("lawyer")  # 2. search, open the hit's turn
        panel.search()
        panel._open_hit(QUrl("hit:0"))
        assert panel.replay.replay.summary.id == ids["dana"][0] and panel.replay.current_turn == 1
        panel.replay._link(QUrl("annotate:2"))  # 3. annotate that turn (the third event: the 2nd customer turn)
        bar = panel.replay.annotation
        bar.author.setText("maria")
        bar.intent.setCurrentText("delete_account")
        bar.comment.setText("Threatens to leave: escalate to retention")
        with qtbot.waitSignal(panel.replay.annotated, timeout=3000):
            assert bar.save()
        monkeypatch.setattr(panel, "_ask_save_path", lambda *a: str(tmp_path / "report.html"))
        report = panel.export_report()  # 4. export the session as a report
        html_text = report.read_text(encoding="utf-8")
        assert "dana" in html_text and "lawyer" in html_text and "<svg" in html_text
        assert "Escalations" in html_text or "escalation" in html_text.lower()
    finally:
        panel.shutdown()


def test_a_truncated_journal_is_said_in_words_and_the_window_stays(qtbot, journal_path, tmp_path):  # noqa: F811
    path, _ = journal_path
    cut = _copy(path, tmp_path, "cut.sqlite3")
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 3])  # a copy that stopped a third of the way
    panel = ReviewPanel([cut])
    qtbot.addWidget(panel)
    try:
        text = panel.status.text()
        assert panel.rows == [] and panel.table.rowCount() == 0
        assert "cut.sqlite3 is damaged" in text and "has not changed or deleted it" in text, text
        panel.search_box.setText("money")
        panel.search()  # searching a damaged file says so instead of raising
    finally:
        panel.shutdown()


def test_the_peak_negative_names_one_emotion_and_its_probability(qtbot, feelings):  # noqa: F811
    path, ids = feelings
    panel = ReviewPanel([path])
    qtbot.addWidget(panel)
    try:
        column = [c for c, _ in COLUMNS].index("Peak negative")
        cells = {panel.rows[r].summary.agent: panel.table.item(r, column) for r in range(panel.table.rowCount())}
        assert {agent: item.text() for agent, item in cells.items()} == {
            "sad": "sadness 60%", "mixed": "anger 30%", "glad": "fear 7%", "calm": "—"}  # not "99% sadness"
        assert cells["sad"].foreground().color() == Qt.GlobalColor.darkRed and cells["mixed"].foreground().style() \
            == Qt.BrushStyle.NoBrush  # only a turn at ANGRY_FROM or more of one emotion is marked
        assert "single negative emotion" in panel.table.horizontalHeaderItem(column).toolTip()
        assert f"{ANGRY_FROM:.0%} or more of one negative emotion" in panel.angry.toolTip()
        panel.angry.setChecked(True)
        assert [r.summary.agent for r in panel.rows] == ["sad"]  # 80% spread over four emotions is not angry
        panel.open_session(ids["sad"])
        assert "peak negative sadness 60%" in panel.replay.header.text()
    finally:
        panel.shutdown()


def _reading(goal: LabelEstimate | None, own: LabelEstimate, session_id: str, message_id: str,
             level: EscalationLevel = EscalationLevel.LOW) -> Insight:
    return Insight(session_id, message_id, EmotionEstimate({"sadness": 0.6, "anger": 0.3, "neutral": 0.1}),
                   LabelEstimate("negative", 0.9), own, Escalation(level, 0.7 if level.value != "low" else 0.1), (),
                   {}, {}, conversation_intent=goal)


def test_a_replayed_turn_reads_as_the_agent_saw_it_live(qtbot, tmp_path):
    """The live window shows the conversation's intent, "intent unclear" under INTENT_UNCLEAR_BELOW; the replay of
    the same Insights says the same words (it once showed the turn's own intent: "check refund policy")."""
    from assist.gui.conversation import ConversationView, insight_tag
    from assist.gui.review.replay import turn_html

    session = Session(agent="ana", started_at=1000.0)
    readings = [  # (what the conversation is about, this message alone): what the window showed
        (LabelEstimate("get_refund", 0.31), LabelEstimate("check_refund_policy", 0.9)),  # intent unclear
        (LabelEstimate("get_refund", 0.6), LabelEstimate("recover_password", 0.51)),  # get refund
        (None, LabelEstimate("track_order", 0.25)),  # before 0007 / no conversation intent: this message's own
        (None, LabelEstimate("track_order", 0.8)),
    ]
    live = ConversationView()
    qtbot.addWidget(live)
    insights = []
    with Journal(tmp_path / "journal.sqlite3") as journal:
        journal.start_session(session)
        for n, (goal, own) in enumerate(readings):
            message = ChatMessage(session.id, Role.CUSTOMER, f"message {n}", created_at=1000.0 + n)
            insight = _reading(goal, own, session.id, message.id, EscalationLevel.HIGH if n == 1 else EscalationLevel.LOW)
            journal.record_message(message)
            journal.record_insight(insight)
            insights.append(insight)
            live.add_message(Role.CUSTOMER, message.text, insight)
        assert journal.flush(10)
    shown_live = [line.removeprefix("Customer") for line in live.toPlainText().splitlines()
                  if line.startswith("Customer")]
    assert [line.split("·")[-1].strip() for line in shown_live] == [
        "intent unclear", "escalation high", "intent unclear", "track order"]
    panel = ReviewPanel([tmp_path / "journal.sqlite3"])
    qtbot.addWidget(panel)
    try:
        panel.open_session(session.id)
        replay = panel.replay.replay
        assert replay is not None and len(replay.customer_turns) == 4
        replayed = [line for line in panel.replay.transcript.toPlainText().splitlines() if line.startswith("Customer")]
        for live_line, replay_line, turn, insight in zip(shown_live, replayed, replay.turns, insights):
            assert live_line.strip() in replay_line  # word for word what the agent saw
            assert insight_tag(insight) in turn_html(turn, 0)
        assert "check refund policy" not in replayed[0] and "intent unclear" in replayed[0]
        assert "get refund" in replayed[1] and "recover password" not in replayed[1]
    finally:
        panel.shutdown()
