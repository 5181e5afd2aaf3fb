"""Settings…: what an IT admin or agent checks — the models (version, licence, size, verified or what is wrong and
what to do), with Verify / Add model / Remove. Opened from the toolbar (Ctrl+,)."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QMainWindow, QTabWidget, QToolBar, QVBoxLayout

from assist.gui.models_page import ModelsPage


class SettingsDialog(QDialog):
    def __init__(self, parent: QMainWindow | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Assist — settings")
        self.resize(900, 420)
        self.tabs = QTabWidget()
        self.models = ModelsPage()
        self.tabs.addTab(self.models, "Models")
        QVBoxLayout(self).addWidget(self.tabs)

    def done(self, result: int) -> None:  # closing by any means stops a running verify/add job
        self.models.shutdown()
        super().done(result)


def install_settings_action(window: QMainWindow, toolbar: QToolBar) -> QAction:
    action = QAction("Settings…", window, shortcut=QKeySequence("Ctrl+,"))
    action.setToolTip("Models: versions, licences, verify, add or remove (Ctrl+,)")

    def open_dialog() -> None:
        dialog = SettingsDialog(window)
        window.settings_dialog = dialog  # type: ignore[attr-defined]
        dialog.open()

    action.triggered.connect(open_dialog)
    toolbar.addAction(action)
    return action
