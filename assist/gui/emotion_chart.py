"""Emotion panel widgets: current distribution bars and a timeline of the customer's emotion."""

from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from assist.domain import EKMAN_EMOTIONS

EMOTION_COLOURS = {
    "anger": QColor("#d62728"),
    "disgust": QColor("#8c564b"),
    "fear": QColor("#9467bd"),
    "joy": QColor("#2ca02c"),
    "neutral": QColor("#7f7f7f"),
    "sadness": QColor("#1f77b4"),
    "surprise": QColor("#ff7f0e"),
}


class EmotionBars(QWidget):
    """Horizontal bars, one per Ekman class, for the latest customer message."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.probabilities: dict[str, float] = {}
        self.setMinimumHeight(7 * 18 + 8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_distribution(self, probabilities: dict[str, float]) -> None:
        self.probabilities = dict(probabilities)
        self.update()

    def paintEvent(self, event: object) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        label_w, row_h = 70, 18
        bar_w = max(10, self.width() - label_w - 50)
        top_label = max(self.probabilities, key=self.probabilities.__getitem__) if self.probabilities else ""
        for i, emotion in enumerate(EKMAN_EMOTIONS):
            y = 4 + i * row_h
            p = self.probabilities.get(emotion, 0.0)
            font = QFont(self.font())
            font.setBold(emotion == top_label)
            painter.setFont(font)
            painter.setPen(self.palette().text().color())
            painter.drawText(QRectF(0, y, label_w - 6, row_h), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, emotion)
            painter.fillRect(QRectF(label_w, y + 3, bar_w, row_h - 6), QColor("#eeeeee"))
            painter.fillRect(QRectF(label_w, y + 3, bar_w * p, row_h - 6), EMOTION_COLOURS[emotion])
            painter.drawText(QRectF(label_w + bar_w + 4, y, 46, row_h), Qt.AlignmentFlag.AlignVCenter, f"{p:.0%}")
        painter.end()


MAX_DOTS = 40
MIN_PIXELS_PER_POINT = 3  # longer sessions are averaged into groups so a line has at most width/3 points


def bucket_means(points: list[dict[str, float]], max_points: int) -> tuple[list[dict[str, float]], int]:
    """Average consecutive points in groups so at most ``max_points`` remain; returns (points, group size)."""
    if len(points) <= max_points:
        return points, 1
    size = -(-len(points) // max(1, max_points))
    groups = [points[i : i + size] for i in range(0, len(points), size)]
    return [{e: sum(p.get(e, 0.0) for p in g) / len(g) for e in EKMAN_EMOTIONS} for g in groups], size


class EmotionTimeline(QWidget):
    """Probability of each emotion over the customer's messages in this session.

    Drawn once per change into a cached pixmap (repaints for other reasons only copy it). Lines are
    drawn as separate segments: an antialiased 2-px ``drawPolyline`` that zig-zags goes through Qt's
    stroker and took ~28 ms for 220 points here, ``drawLines`` ~1 ms.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[dict[str, float]] = []
        self._cache: QPixmap | None = None
        self.setMinimumHeight(80)  # it gives way to the replies on a short screen
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def add_point(self, probabilities: dict[str, float]) -> None:
        self.points.append(dict(probabilities))
        self._cache = None
        self.update()

    def clear(self) -> None:
        self.points = []
        self._cache = None
        self.update()

    def resizeEvent(self, event: object) -> None:  # noqa: N802
        self._cache = None
        super().resizeEvent(event)  # type: ignore[arg-type]

    def paintEvent(self, event: object) -> None:  # noqa: N802
        ratio = self.devicePixelRatioF()
        if self._cache is None or self._cache.size() != self.size() * ratio:
            self._cache = QPixmap(self.size() * ratio)
            self._cache.setDevicePixelRatio(ratio)
            self._cache.fill(self.palette().window().color())
            self._draw(QPainter(self._cache))
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._cache)
        painter.end()

    def _draw(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        left, right, top, bottom = 34, 8, 8, 34
        plot = QRectF(left, top, max(10, self.width() - left - right), max(10, self.height() - top - bottom))
        painter.fillRect(plot, QColor("#fafafa"))
        painter.setPen(QPen(QColor("#cccccc"), 1))
        for frac in (0.0, 0.5, 1.0):
            y = plot.bottom() - frac * plot.height()
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(self.palette().text().color())
            painter.drawText(QRectF(0, y - 8, left - 4, 16), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{frac:.0%}")
            painter.setPen(QPen(QColor("#cccccc"), 1))
        if not self.points:
            painter.setPen(QColor("#888888"))
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             "Customer emotion over the session appears here")
            painter.end()
            return
        series, group = bucket_means(self.points, int(plot.width() // MIN_PIXELS_PER_POINT))
        n = len(series)
        step = plot.width() / max(1, n - 1)
        xs = [plot.left() + (i * step if n > 1 else plot.width() / 2) for i in range(n)]
        dots = n <= MAX_DOTS  # a long session is drawn as lines only
        for emotion in EKMAN_EMOTIONS:
            pts = [QPointF(x, plot.bottom() - p.get(emotion, 0.0) * plot.height()) for x, p in zip(xs, series)]
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(EMOTION_COLOURS[emotion], 2 if emotion != "neutral" else 1))
            painter.drawLines([QLineF(a, b) for a, b in zip(pts, pts[1:])])
            if dots:
                painter.setBrush(EMOTION_COLOURS[emotion])
                painter.setPen(Qt.PenStyle.NoPen)
                for point in pts:
                    painter.drawEllipse(point, 2.5, 2.5)
        # x axis: message numbers; legend below
        painter.setPen(self.palette().text().color())
        axis = f"customer messages 1-{len(self.points)}" + (f" (means of {group})" if group > 1 else "")
        painter.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), 14), Qt.AlignmentFlag.AlignCenter, axis)
        x = plot.left()
        for emotion in EKMAN_EMOTIONS:
            painter.fillRect(QRectF(x, plot.bottom() + 20, 10, 10), EMOTION_COLOURS[emotion])
            painter.drawText(QPointF(x + 13, plot.bottom() + 29), emotion)
            x += 13 + painter.fontMetrics().horizontalAdvance(emotion) + 10
        painter.end()
