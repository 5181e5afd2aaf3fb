"""One session replayed for a supervisor: its figures, the customer's emotion over the turns (click a point to jump
to that turn), and the conversation with each customer turn's Insight, the suggestions shown and the one used."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path, PureWindowsPath

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QTextBrowser, QVBoxLayout, QWidget

from assist.gui.conversation import insight_tag
from assist.gui.emotion_chart import EmotionTimeline
from assist.gui.review.annotate import AnnotationBar
from assist.pipeline.review import Replay, ReplayTurn
from assist.storage.reader import stored_insight
from assist.storage.session_files import stored_file

LEFT_MARGIN, RIGHT_MARGIN = 34, 8  # EmotionTimeline's plot margins


class ClickableTimeline(EmotionTimeline):
    """The emotion timeline; a click picks the nearest customer turn."""

    turn_clicked = Signal(int)  # index among the customer turns

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        n = len(self.points)
        if n == 0:
            return
        width = max(10.0, self.width() - LEFT_MARGIN - RIGHT_MARGIN)
        x = event.position().x() - LEFT_MARGIN
        index = 0 if n == 1 else round(max(0.0, min(width, x)) / width * (n - 1))
        self.turn_clicked.emit(int(index))


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


def turn_html(turn: ReplayTurn, number: int | None, index: int = 0, picture: Path | None = None) -> str:
    """A turn as an HTML block, anchored ``ev-I``; customer turns also ``turn-N`` for the chart to jump to. A
    screenshot links to its ``picture`` file (found beside the journal; see ``session_files.stored_file``)."""
    who = {"customer": "Customer", "agent": "Agent"}.get(turn.role, turn.kind.capitalize() or "Event")
    if turn.kind == "screenshot":
        who = "Screenshot (text read from it)"
    anchor = f'<a name="ev-{index}"></a>' + (f'<a name="turn-{number}"></a>' if number is not None else "")
    tag = ""
    if turn.insight is not None:  # the reading as the agent saw it live: the same Insight, the same words
        tag = insight_tag(stored_insight(turn.insight)) + f' &nbsp;·&nbsp; <a href="annotate:{index}">✎ correct</a>'
    bg = {"customer": "#f0f0f0", "agent": "#dcebff"}.get(turn.role, "#fff8e1")
    body = html.escape(turn.text).replace("\n", "<br/>") or "<i>(no words)</i>"
    lines = [f'{anchor}<table width="100%" cellpadding="6" style="background:{bg}; margin:4px 0"><tr><td>'
             f"<b>{who}</b> <span style='color:#666'>{_when(turn.created_at)[11:]}{tag}</span><br/>{body}"]
    if turn.kind == "screenshot":
        name = html.escape(PureWindowsPath(str(turn.meta.get("path") or "")).name or "picture")
        lines.append(f'<br/><a href="{html.escape(QUrl.fromLocalFile(str(picture)).toString())}">🖼 {name}</a>'
                     if picture is not None else f"<br/><span style='color:#666'>🖼 {name} (file not found)</span>")
    for note in turn.notes:
        lines.append(f"<br/><span style='color:#6a1b9a'>✎ {html.escape(note)}</span>")
    if turn.suggestions:
        items = []
        for s in turn.suggestions:
            mark = "✓ used" if s.get("id") in turn.used else "shown"
            style = "color:#2e7d32; font-weight:bold" if s.get("id") in turn.used else "color:#666"
            items.append(f'<li><span style="{style}">{mark}</span> — {html.escape(str(s.get("text", "")))} '
                         f'<i>({html.escape(str(s.get("source_title", "")))})</i></li>')
        lines.append(f"<ul style='margin:2px 0'>{''.join(items)}</ul>")
    lines.append("</td></tr></table>")
    return "".join(lines)


class ReplayView(QWidget):
    """Figures, the clickable emotion chart and the transcript of one session; a turn's ✎ link corrects it."""

    annotated = Signal(str)  # session id: an annotation was saved (the replay is read again)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.replay: Replay | None = None
        self.header = QLabel("Pick a session to replay it.")
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.chart = ClickableTimeline()
        self.chart.setToolTip("Customer emotion over the session: click a point to jump to that turn")
        self.transcript = QTextBrowser()
        self.transcript.setOpenLinks(False)
        self.transcript.anchorClicked.connect(self._link)
        self.annotation = AnnotationBar()
        self.annotation.saved.connect(lambda _: self.replay and self.annotated.emit(self.replay.summary.id))
        self.chart.turn_clicked.connect(self.jump_to_turn)
        self.play_button = QPushButton("▶ Play call")
        self.play_button.setToolTip("Play the call's recording; the transcript follows it (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        self.play_label = QLabel()
        audio = QHBoxLayout()
        audio.addWidget(self.play_button)
        audio.addWidget(self.play_label, 1)
        self.audio_row = QWidget()
        self.audio_row.setLayout(audio)
        self.audio_row.hide()
        self.output_device: str | None = None  # None: the system's default output
        self.playback: object | None = None
        self.following = -1  # the turn the transcript is at while the call plays
        self._clock = QTimer(self, interval=100)
        self._clock.timeout.connect(self._follow)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.chart)
        split.addWidget(self.transcript)
        split.setSizes([200, 500])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.audio_row)
        layout.addWidget(split, 1)
        layout.addWidget(self.annotation)

    def show_replay(self, replay: Replay | None) -> None:
        self.stop_playback()
        if replay is None or self.replay is None or replay.summary.id != self.replay.summary.id:
            self.annotation.hide()
        self.playback, self.following = None, -1
        self.replay = replay
        self.chart.clear()
        self.audio_row.setVisible(bool(replay is not None and replay.recording))
        self.play_label.setText("")
        if replay is None:
            self.header.setText("This session is no longer in the journal.")
            self.transcript.clear()
            return
        s = replay.summary
        used = f"{s.used}/{s.suggestions}" + (f" ({s.acceptance:.0%})" if s.acceptance is not None else "")
        recording = f" · recording: {', '.join(p.name for p in replay.recording)}" if replay.recording else ""
        merged = f" (merged from {s.origin})" if s.origin else ""
        if s.interrupted:  # Journal.close_interrupted_sessions
            merged += " · Assist stopped without ending this session: closed at its last message"
        self.header.setText(
            f"<b>{html.escape(s.agent or 'unknown agent')}</b> · {_when(s.started_at)} · {_duration(s.duration_s)} · "
            f"{html.escape(s.source)} · {s.customer_turns} customer turns · peak negative {html.escape(s.peak_text)}"
            f" · escalations {s.escalations} · suggestions used {used}"
            f"<br/><span style='color:#666'>{html.escape(str(replay.journal) + merged + recording)}</span>")
        blocks, number = [], 0
        for index, turn in enumerate(replay.turns):
            picture = stored_file(replay.journal, s.id, str(turn.meta.get("path") or "")) \
                if turn.kind == "screenshot" else None
            if turn.insight is not None:
                self.chart.points.append(dict(turn.insight.get("emotion_probs") or {}))
                blocks.append(turn_html(turn, number, index, picture))
                number += 1
            else:
                blocks.append(turn_html(turn, None, index, picture))
        self.chart.update()
        self.transcript.setHtml("".join(blocks))

    def _link(self, url: QUrl) -> None:
        target = url.toString()
        if target.startswith("annotate:") and self.replay is not None:
            index = int(target.split(":", 1)[1])
            self.annotation.set_turn(self.replay.turns[index], self.replay.journal)
        elif url.isLocalFile():  # a screenshot: the system's picture viewer shows it
            QDesktopServices.openUrl(url)

    def jump_to_turn(self, index: int) -> None:
        self.transcript.scrollToAnchor(f"turn-{index}")
        self.current_turn = index
        if self.playback is not None and self.replay is not None:  # playing: the call goes there too
            start = self.replay.customer_turns[index].meta.get("start_s")
            if start is not None:
                self.playback.seek(float(start))  # type: ignore[attr-defined]

    # ----- call audio, the transcript following it
    def toggle_play(self) -> None:
        from assist.capture.errors import CaptureError
        from assist.capture.playback import CallPlayback

        if self.replay is None or not self.replay.recording:
            return
        try:
            if self.playback is None:
                self.playback = CallPlayback(self.replay.recording, self.output_device)
            if self.playback.playing:  # type: ignore[attr-defined]
                self.stop_playback()
                return
            self.playback.play()  # type: ignore[attr-defined]
        except CaptureError as exc:
            self.play_label.setText(f"⚠ {exc}")
            return
        self.play_button.setText("⏸ Pause")
        self._clock.start()

    def stop_playback(self) -> None:
        self._clock.stop()
        if self.playback is not None:
            self.playback.stop()  # type: ignore[attr-defined]
        self.play_button.setText("▶ Play call")

    def _follow(self) -> None:
        """Scroll the transcript to the turn being heard; stop at the end of the recording."""
        if self.playback is None or self.replay is None:
            return
        position = self.playback.position_s  # type: ignore[attr-defined]
        total = self.playback.duration_s  # type: ignore[attr-defined]
        self.play_label.setText(f"{int(position) // 60}:{int(position) % 60:02d} / {int(total) // 60}:"
                                f"{int(total) % 60:02d}")
        spoken = [i for i, t in enumerate(self.replay.turns) if float(t.meta.get("start_s", -1)) <= position
                  and "start_s" in t.meta]
        if spoken and spoken[-1] != self.following:
            self.following = spoken[-1]
            self.transcript.scrollToAnchor(f"ev-{self.following}")
        if not self.playback.playing:  # type: ignore[attr-defined]
            self.stop_playback()

    def jump_to_event(self, event_id: str) -> None:
        if self.replay is None:
            return
        customer = [t.event_id for t in self.replay.customer_turns]
        if event_id in customer:
            self.jump_to_turn(customer.index(event_id))
