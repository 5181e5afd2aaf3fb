"""Issue 17 (6): a screenshot does not show Assist itself (OCR once read Assist's own window), and the region
picker shows the frozen screen with a hint. A real X server (Xvfb), the app's window on xcb, mss."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.capture.test_screenshot import xvfb_display  # noqa: F401 - the fixture

pytestmark = pytest.mark.gui

SCRIPT = r"""
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from assist.capture.screenshot import capture_screen
from assist.gui.capture_actions import RegionPicker, frozen_screens
from assist.gui.main_window import MainWindow

app = QApplication([])
window = MainWindow()
window.setStyleSheet("QMainWindow, QWidget { background: #00ff00 }")
window.setGeometry(0, 0, 1280, 800)
window.show()

def green_share():
    pixels = capture_screen().pixels
    return float(((pixels[:, :, 0] == 0) & (pixels[:, :, 1] == 255) & (pixels[:, :, 2] == 0)).mean())

def grabbed(region):
    print("during", green_share(), window.isVisible(), flush=True)
    window.capture.show_windows()
    QTimer.singleShot(300, after)

def after():
    print("after", green_share(), window.isVisible(), flush=True)
    picker = RegionPicker(frozen_screens())
    print("picker", picker.frozen is not None and not picker.frozen.isNull(), flush=True)
    app.quit()

def start():
    print("before", green_share(), flush=True)
    window.capture.screenshot_requested.connect(grabbed)
    window.capture.capture(None)

QTimer.singleShot(1500, start)
app.exec()
"""


@pytest.mark.slow
def test_assist_takes_itself_off_the_screen_while_it_is_captured(xvfb_display):  # noqa: F811
    env = {**os.environ, "DISPLAY": xvfb_display, "QT_QPA_PLATFORM": "xcb"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120,
                         cwd=os.getcwd())
    lines = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines() if line.strip()}
    assert set(lines) >= {"before", "during", "after", "picker"}, out.stdout + out.stderr[-3000:]
    assert float(lines["before"][0]) > 0.5  # the window covers most of the screen
    assert float(lines["during"][0]) < 0.01 and lines["during"][1] == "False"  # not on the captured screen
    assert float(lines["after"][0]) > 0.5 and lines["after"][1] == "True"  # back where it was
    assert lines["picker"] == ["True"]  # the region picker has the frozen screen to show
