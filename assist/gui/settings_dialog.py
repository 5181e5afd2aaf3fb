"""Settings…: who the agent is (name and team, recorded on every session), and the models (version, licence, size,
verified or what is wrong and what to do), with Verify / Add model / Remove. Opened from the toolbar (Ctrl+,)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from assist.gui.models_page import ModelsPage

MAX_NAME = 80


class AgentPage(QWidget):
    """The agent's name and team. Saved emits ``saved(name, team)``; the app writes settings.json."""

    saved = Signal(str, str)

    def __init__(self, name: str = "", team: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLineEdit(name)
        self.name.setPlaceholderText("e.g. Maria Lopez")
        self.name.setMaxLength(MAX_NAME)
        self.team = QLineEdit(team)
        self.team.setPlaceholderText("e.g. Returns, Tier 1 (optional)")
        self.team.setMaxLength(MAX_NAME)
        self.problem = QLabel()
        self.problem.setStyleSheet("color:#b00020")
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        self.name.returnPressed.connect(self.save)
        form = QFormLayout(self)
        intro = QLabel("Your name is recorded on every session you handle, so supervisors can find your sessions "
                       "and the team summary counts them for you.")
        intro.setWordWrap(True)
        form.addRow(intro)
        form.addRow("Name", self.name)
        form.addRow("Team", self.team)
        form.addRow(self.problem)
        form.addRow(self.save_button)

    def save(self) -> None:
        name, team = " ".join(self.name.text().split()), " ".join(self.team.text().split())
        if not name:
            self.problem.setText("Enter your name: it is what your sessions are found by.")
            self.name.setFocus()
            return
        self.problem.setText("")
        self.saved.emit(name, team)


class AgentDialog(QDialog):
    """First start: who is using Assist (not blocking: the app works while it is open)."""

    def __init__(self, parent: QWidget | None = None, name: str = "", team: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Assist — who is using it?")
        self.page = AgentPage(name, team)
        self.page.save_button.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.page.save)
        buttons.rejected.connect(self.reject)
        self.page.saved.connect(lambda *_: self.accept())
        layout = QVBoxLayout(self)
        layout.addWidget(self.page)
        layout.addWidget(buttons)


class SettingsDialog(QDialog):
    def __init__(self, parent: QMainWindow | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Assist — settings")
        self.resize(900, 420)
        self.tabs = QTabWidget()
        name, team = getattr(parent, "agent_name", ""), getattr(parent, "team", "")
        self.agent = AgentPage(name, team)
        agent_changed = getattr(parent, "agent_changed", None)
        if agent_changed is not None:
            self.agent.saved.connect(agent_changed.emit)
        self.tabs.addTab(self.agent, "Agent")
        self.models = ModelsPage()
        self.tabs.addTab(self.models, "Models")
        QVBoxLayout(self).addWidget(self.tabs)

    def done(self, result: int) -> None:  # closing by any means stops a running verify/add job
        self.models.shutdown()
        super().done(result)


def install_settings_action(window: QMainWindow, toolbar: QToolBar) -> QAction:
    action = QAction("Settings…", window, shortcut=QKeySequence("Ctrl+,"))
    action.setToolTip("Your name and team; models: versions, licences, verify, add or remove (Ctrl+,)")

    def open_dialog() -> None:
        dialog = SettingsDialog(window)
        window.settings_dialog = dialog  # type: ignore[attr-defined]
        dialog.open()

    action.triggered.connect(open_dialog)
    toolbar.addAction(action)
    return action
