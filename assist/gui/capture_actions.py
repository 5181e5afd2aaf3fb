"""Capture actions of the main window: screenshots (full screen, a region, pasted, dropped), transcript import
and the live chat feeds, with their shortcuts. Requests go to the worker as signals of :class:`CaptureActions`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QGuiApplication, QImage, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QRubberBand, QToolBar, QWidget

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
TRANSCRIPT_SUFFIXES = {".txt", ".jsonl", ".json", ".log", ".csv"}
HIDE_MS = 250  # for the window system to take Assist's windows off the screen before it is captured
RESTORE_AFTER_MS = 5000  # Assist's windows come back even if the capture never reports
REGION_HINT = "Drag a rectangle around what Assist should read  ·  Esc to cancel"


class CaptureActions(QObject):
    screenshot_requested = Signal(object)  # None = whole screen, or (left, top, width, height) in pixels
    image_file = Signal(str)
    image_bytes = Signal(bytes)
    import_requested = Signal(str)
    feed_toggled = Signal(bool)
    follow_requested = Signal(str)
    problem = Signal(str)

    def __init__(self, window: QMainWindow, toolbar: QToolBar) -> None:
        super().__init__(window)
        self.window = window
        self._picker: RegionPicker | None = None
        self._hidden: list[tuple[QWidget, QRect]] = []

        def action(text: str, keys: str, tip: str, slot, checkable: bool = False) -> QAction:
            act = QAction(text, window, shortcut=QKeySequence(keys), checkable=checkable)
            act.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)  # from any window of the app
            act.setToolTip(f"{tip} ({keys})")
            act.triggered.connect(slot)
            return act

        self.screenshot = action("Screenshot", "Ctrl+Shift+S", "Capture the whole screen (without Assist) and read it",
                                 lambda: self.capture(None))
        self.region = action("Region…", "Ctrl+Shift+R", "Drag a rectangle on the screen to capture", self.pick_region)
        self.paste = action("Paste image", "Ctrl+Shift+V", "Add the image on the clipboard", self.paste_image)
        self.import_action = action("Import chat…", "Ctrl+O", "Import a transcript (Customer:/Agent: lines or JSON "
                                    "lines)", self.choose_transcript)
        self.feed = action("Chat feed", "Ctrl+Shift+F", "Accept messages from other tools on 127.0.0.1 (token "
                           "protected)", lambda *_: self.feed_toggled.emit(self.feed.isChecked()), checkable=True)
        self.follow = QAction("Follow file…", window, checkable=True)
        self.follow.setToolTip("Take messages that another tool appends to a JSON-lines file")
        self.follow.triggered.connect(self.choose_follow_file)
        toolbar.addSeparator()
        for act in (self.screenshot, self.region, self.paste, self.import_action, self.feed, self.follow):
            toolbar.addAction(act)

    # --- user actions -------------------------------------------------------------------------

    def capture(self, region: tuple[int, int, int, int] | None) -> None:
        """Take Assist's own windows off the screen, then ask for the capture (OCR would otherwise read Assist)."""
        self.hide_windows()
        QTimer.singleShot(HIDE_MS, lambda: self.screenshot_requested.emit(region))

    def hide_windows(self) -> None:
        """Take every visible Assist window off the screen (hidden, not made transparent: without a compositing
        window manager transparency does nothing), remembering where each was."""
        if not self._hidden:
            self._hidden = [(w, w.geometry()) for w in QApplication.topLevelWidgets()
                            if w.isVisible() and not isinstance(w, RegionPicker)]
            for widget, _ in self._hidden:
                widget.hide()
            QTimer.singleShot(RESTORE_AFTER_MS, self.show_windows)

    def show_windows(self) -> None:
        """Assist's windows back where they were after a capture."""
        hidden, self._hidden = self._hidden, []
        for widget, geometry in hidden:
            try:
                widget.show()
                widget.setGeometry(geometry)
            except RuntimeError:  # closed meanwhile
                pass
        if hidden:
            self.window.activateWindow()

    def paste_image(self) -> None:
        clipboard = QGuiApplication.clipboard()
        mime = clipboard.mimeData()
        if mime is not None and mime.hasImage():
            self.image_bytes.emit(png_bytes(clipboard.image()))
        elif mime is not None and mime.hasUrls():
            self.drop_paths([url.toLocalFile() for url in mime.urls()])
        else:
            self.problem.emit("There is no image on the clipboard to paste.")

    def choose_transcript(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import a chat transcript", "",
                                              "Transcripts (*.txt *.jsonl *.json *.log);;All files (*)")
        if path:
            self.import_requested.emit(path)

    def choose_follow_file(self, checked: bool = False) -> None:
        if not checked:
            self.follow_requested.emit("")
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Follow a JSON-lines chat file", "",
                                              "JSON lines (*.jsonl);;All files (*)",
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.follow_requested.emit(path)
        else:
            self.follow.setChecked(False)

    def drop_paths(self, paths: list[str]) -> None:
        """Dropped or pasted files: images are screenshots, text files are transcripts, the rest is refused."""
        for path in paths:
            suffix = Path(path).suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                self.image_file.emit(path)
            elif suffix in TRANSCRIPT_SUFFIXES:
                self.import_requested.emit(path)
            else:
                self.image_file.emit(path)  # sniffed by content: a real image is used, anything else is refused

    def pick_region(self) -> None:
        """Hide Assist, freeze the screen as it is, and let the agent drag a rectangle on the frozen picture."""
        self.hide_windows()
        QTimer.singleShot(HIDE_MS, self._show_picker)

    def _show_picker(self) -> None:
        self._picker = RegionPicker(frozen_screens())
        self._picker.picked.connect(self.screenshot_requested.emit)
        self._picker.cancelled.connect(self.show_windows)
        self._picker.show_over_screens()


def frozen_screens() -> QPixmap | None:
    """A picture of every screen as it is now (None where the platform gives none: Wayland, offscreen)."""
    screens = QGuiApplication.screens()
    if not screens:
        return None
    area = QRect()
    for screen in screens:
        area = area.united(screen.geometry())
    picture = QPixmap(area.size())
    picture.fill(QColor("#202020"))
    painter = QPainter(picture)
    grabbed = False
    for screen in screens:
        shot = screen.grabWindow(0)
        if not shot.isNull():
            painter.drawPixmap(screen.geometry().topLeft() - area.topLeft(), shot)
            grabbed = True
    painter.end()
    return picture if grabbed else None


class RegionPicker(QWidget):
    """The frozen screen over every screen with a hint; drag a rectangle, release to capture it, Esc to cancel."""

    picked = Signal(object)
    cancelled = Signal()

    def __init__(self, frozen: QPixmap | None = None) -> None:
        super().__init__(None, Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
                         | Qt.WindowType.Tool)
        self.frozen = frozen
        if frozen is None:  # nothing to freeze: a light veil over the live screens
            self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.band = QRubberBand(QRubberBand.Shape.Rectangle, self)
        self.origin = QPoint()

    def show_over_screens(self) -> None:
        area = QRect()
        for screen in QGuiApplication.screens():
            area = area.united(screen.geometry())
        self.setGeometry(area)
        self.show()
        self.activateWindow()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        if self.frozen is not None:
            painter.drawPixmap(0, 0, self.frozen)
        painter.fillRect(self.rect(), QColor(0, 0, 0, 40))  # a light veil: the screen stays readable
        font = painter.font()
        font.setPointSize(font.pointSize() + 3)
        font.setBold(True)
        painter.setFont(font)
        box = painter.fontMetrics().boundingRect(REGION_HINT).adjusted(-14, -8, 14, 8)
        box.moveCenter(QPoint(self.width() // 2, 40 + box.height() // 2))
        painter.fillRect(box, QColor(20, 20, 20, 210))
        painter.setPen(QColor("white"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, REGION_HINT)
        painter.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.origin = event.position().toPoint()
        self.band.setGeometry(QRect(self.origin, QSize()))
        self.band.show()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        self.band.setGeometry(QRect(self.origin, event.position().toPoint()).normalized())

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        rect = self.band.geometry()
        self.close()
        if rect.width() < 8 or rect.height() < 8:
            self.cancelled.emit()
        else:
            # this layer covers the whole virtual desktop, so its own coordinates are relative to mss's
            # monitor 0 (all screens), which is what capture_screen(region=...) takes, in physical pixels
            ratio = self.devicePixelRatioF()
            self.picked.emit((int(rect.x() * ratio), int(rect.y() * ratio),
                              int(rect.width() * ratio), int(rect.height() * ratio)))

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            self.cancelled.emit()


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


__all__ = ["CaptureActions", "RegionPicker", "frozen_screens", "png_bytes"]
